"""What is Wan-specific about Wan LoRAs: the model size a file was made for, and whether it is a step-distillation
LoRA with the steps/guidance it was made for. Which files are Wan LoRAs, and in which key format, is told with the
SD-1.x ones in :mod:`text2video.models.loras` (one place says which family a file fits).

Step-distillation LoRAs are ordinary Wan LoRAs in one of the three formats; only their name (or the training
metadata in the header) tells them apart:
- LightX2V (``lightx2v``, ``StepDistill-CfgDistill``): made for 4 steps without classifier-free guidance
  (guidance 1) [lightx2v/Wan2.1-T2V-14B-StepDistill-CfgDistill model card; diffusers PR #12040 runs its LoRA at
  4 steps, guidance 1.0];
- CausVid (``causvid``, Kijai's extraction of CausVid's DMD few-step generator): guidance 1, "4 steps minimum"
  [kijai/ComfyUI-WanVideoWrapper #576]; Wan2GP suggests 12 steps at a weight of 0.3 [deepbeepmeep/Wan2GP #264].
A step count in the name (``..._4step``, ``8steps``) wins over the kind's default. A job that uses one and sets no
``steps`` / ``guidance_scale`` runs at these (:func:`recommended_params`, the family's ``lora_defaults``).

Only the safetensors header is read (names, shapes, metadata): no torch, no model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

from ...models.loras import read_header, wan_key_format, wan_width
from . import FAMILY

# the transformer's width (the self-attention's input features) per model size, as the variants declare it
WIDTHS = {v.lora_width: v.name for v in FAMILY.variants}
_STEPS_IN_NAME = re.compile(r"(\d{1,2})[ _-]?steps?(?![a-z])", re.IGNORECASE)


@dataclass(frozen=True)
class Distillation:
    """A step-distillation LoRA: what it was made for, and where that is said."""

    kind: str  # "lightx2v" | "causvid"
    recommended_steps: int
    recommended_guidance: float
    source: str


_KINDS = (
    (("lightx2v", "stepdistill", "step_distill", "step-distill"), "lightx2v", 4, 1.0,
     "lightx2v Wan2.1 StepDistill-CfgDistill model card: 4 steps, no classifier-free guidance"),
    (("causvid",), "causvid", 4, 1.0,
     "CausVid LoRA: guidance 1, 4 steps minimum (kijai/ComfyUI-WanVideoWrapper #576)"),
)


def wan_model_of(shapes: Mapping[str, Iterable[int]]) -> Optional[str]:
    """The Wan model size a LoRA was trained on, from its self-attention query's input width (None: unknown)."""
    width = wan_width(shapes)
    return None if width is None else WIDTHS.get(width, f"a Wan model {width} wide")


def distillation_of(name: str, metadata: Optional[Mapping[str, str]] = None) -> Optional[Distillation]:
    """The distillation kind a LoRA file is, from its file name or its header's metadata, else None."""
    text = " ".join([name, *(str(v)[:2000] for v in (metadata or {}).values())]).lower()
    for marks, kind, steps, guidance, source in _KINDS:
        if any(mark in text for mark in marks):
            in_name = _STEPS_IN_NAME.search(name)
            return Distillation(kind, int(in_name.group(1)) if in_name else steps, guidance, source)
    return None


@dataclass(frozen=True)
class WanLoraInfo:
    format: str  # "diffusers" | "original" | "kohya"
    model: Optional[str]  # "wan-vace-1.3b" | "wan-vace-14b" | another width | None
    distillation: Optional[Distillation]


def inspect_wan_lora(path: Path) -> WanLoraInfo:
    """A Wan LoRA file's format, model size and distillation kind from its header alone; LoraFileError saying why
    it cannot be used as one."""
    shapes, metadata = read_header(path)
    return WanLoraInfo(wan_key_format(shapes), wan_model_of(shapes), distillation_of(Path(path).stem, metadata))


def recommended_params(path: Path) -> Optional[tuple[str, dict[str, Any]]]:
    """(kind, {"steps": N, "guidance_scale": G}) a step-distillation LoRA file was made for; None for any other
    LoRA (the family's ``lora_defaults``)."""
    _, metadata = read_header(path)
    found = distillation_of(Path(path).stem, metadata)
    if found is None:
        return None
    return found.kind, {"steps": found.recommended_steps, "guidance_scale": found.recommended_guidance}


__all__ = ["WIDTHS", "Distillation", "WanLoraInfo", "wan_model_of", "distillation_of", "inspect_wan_lora",
           "recommended_params"]
