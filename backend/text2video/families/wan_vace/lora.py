"""Wan LoRAs: which files are Wan LoRAs (by their tensor names alone), in which key format, for which model size,
and whether they are step-distillation LoRAs with the steps/guidance they were made for.

Three key formats are in use for Wan2.1, all read by diffusers' ``WanLoraLoaderMixin.lora_state_dict`` (which
``WanVACEPipeline.load_lora_weights`` calls, with PEFT underneath):
- diffusers / PEFT: ``transformer.blocks.N.attn1.to_q.lora_A.weight`` / ``lora_B`` (attn1 self, attn2 cross,
  ``ffn.net.0.proj`` / ``ffn.net.2``);
- the original Wan / ComfyUI names: ``diffusion_model.blocks.N.self_attn.q.lora_A.weight`` (or ``lora_down`` /
  ``lora_up`` with ``.alpha``), ``cross_attn``, ``ffn.0`` / ``ffn.2``, full-tensor ``.diff`` and bias ``.diff_b``
  (diffusers' ``_convert_non_diffusers_wan_lora_to_diffusers``);
- kohya / musubi-tuner: ``lora_unet_blocks_N_self_attn_q.lora_down.weight`` / ``.lora_up.weight`` / ``.alpha``
  (``_convert_musubi_wan_lora_to_diffusers``; it needs every block's q/k/v/o of both attentions and both ffn layers).

Step-distillation LoRAs are ordinary Wan LoRAs in one of these formats; only their name (or the training metadata
in the header) tells them apart:
- LightX2V (``lightx2v``, ``StepDistill-CfgDistill``): made for 4 steps without classifier-free guidance
  (guidance 1) [lightx2v/Wan2.1-T2V-14B-StepDistill-CfgDistill model card; diffusers PR #12040 runs its LoRA at
  4 steps, guidance 1.0];
- CausVid (``causvid``, Kijai's extraction of CausVid's DMD few-step generator): guidance 1, "4 steps minimum"
  [kijai/ComfyUI-WanVideoWrapper #576]; Wan2GP suggests 12 steps at a weight of 0.3 [deepbeepmeep/Wan2GP #264].
A step count in the name (``..._4step``, ``8steps``) wins over the kind's default.

Which family a LoRA fits (:func:`lora_family`) is answered here for Wan and by ``models.loras.key_format`` (plus
SD-1.x module names) for Follow-Your-Pose, so the request can say "this file is a Wan LoRA" on an FYP job and the
reverse. Only the safetensors header is read (names, shapes, metadata): no torch, no model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Optional

from ...models.loras import LoraFileError, key_format

_PREFIX = r"(?:transformer\.|diffusion_model\.|base_model\.model\.)?"
_WAN_BLOCK = re.compile(_PREFIX + r"(?:vace_)?blocks\.\d+\.(?:self_attn|cross_attn|ffn|attn1|attn2|norm\d?)\.")
_WAN_KOHYA = re.compile(r"lora_unet_(?:vace_)?blocks_\d+_(?:self_attn|cross_attn|ffn)_")
_LORA_MARKS = ("lora_A", "lora_B", "lora_down", "lora_up", ".diff", ".diff_b")
_SD1_MODULES = ("down_blocks", "up_blocks", "mid_block", "text_encoder.", "lora_te_", "lora_unet_down_",
                "lora_unet_up_", "lora_unet_mid_")
# the transformer's width (the self-attention's input features) per model size
WIDTHS = {1536: "wan-vace-1.3b", 5120: "wan-vace-14b"}
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


def is_wan_keys(keys: Iterable[str]) -> bool:
    """Whether the tensor names are those of a Wan transformer LoRA (any of the three formats)."""
    keys = list(keys)
    marked = [k for k in keys if any(m in k for m in _LORA_MARKS)]
    return any(_WAN_BLOCK.match(k) or _WAN_KOHYA.match(k) for k in marked)


def wan_key_format(keys: Iterable[str]) -> str:
    """"diffusers" | "original" | "kohya" for a Wan LoRA; LoraFileError when the names are not a Wan LoRA's."""
    keys = list(keys)
    if not is_wan_keys(keys):
        raise LoraFileError("it is not a Wan LoRA: no Wan transformer block (blocks.N.self_attn / attn1 / ffn) "
                            "carries lora_A/lora_B or lora_down/lora_up weights")
    if any(k.startswith("diffusion_model.") for k in keys):
        _check_bias_deltas(keys)
        return "original"
    if any(k.startswith("lora_unet_") for k in keys):
        return "kohya"
    return "diffusers"


def _check_bias_deltas(keys: list[str]) -> None:
    """Bias deltas (``.diff_b``) on some LoRA layers and not others: diffusers 0.42.1 then gives every LoRA layer
    a PEFT bias and leaves the missing ones unset (on the meta device), so the file loads and the run fails."""
    biased = {k[:-len(".diff_b")] for k in keys if k.endswith(".diff_b")}
    if not biased:
        return
    layers = {k.split(".lora_")[0] for k in keys if ".lora_" in k}
    missing = sorted(layers - biased)
    if missing:
        raise LoraFileError(f"{len(missing)} of its {len(layers)} LoRA layers have no bias delta (.diff_b) while the "
                            f"others do (e.g. {missing[0]}): diffusers cannot apply such a file")


def lora_family(keys: Iterable[str]) -> Optional[str]:
    """"wan" | "sd1" | None: which model family a LoRA's tensor names fit (None: neither, or not a LoRA)."""
    keys = list(keys)
    if is_wan_keys(keys):
        return "wan"
    try:
        key_format(keys)  # Follow-Your-Pose's own checks (a LoRA at all, not SDXL)
    except LoraFileError:
        return None
    return "sd1" if any(m in k for k in keys for m in _SD1_MODULES) else None


def wan_model_of(shapes: Mapping[str, Iterable[int]]) -> Optional[str]:
    """The Wan model size a LoRA was trained on, from its self-attention query's input width (None: unknown)."""
    for key, shape in shapes.items():
        shape = list(shape)
        is_query_down = (("self_attn.q." in key or "self_attn_q." in key or "attn1.to_q." in key)
                         and ("lora_A" in key or "lora_down" in key))
        if is_query_down and len(shape) == 2:
            return WIDTHS.get(shape[1], f"a Wan model {shape[1]} wide")
    return None


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
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as f:
            shapes = {k: list(f.get_slice(k).get_shape()) for k in f.keys()}
            metadata = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise LoraFileError(f"it is damaged or not a safetensors file ({exc})") from None
    fmt = wan_key_format(shapes)
    return WanLoraInfo(fmt, wan_model_of(shapes), distillation_of(Path(path).stem, metadata))


__all__ = ["WIDTHS", "Distillation", "WanLoraInfo", "is_wan_keys", "wan_key_format", "lora_family", "wan_model_of",
           "distillation_of", "inspect_wan_lora"]
