"""Apply style LoRAs to the loaded pipeline for one job, and put the exact weights back afterwards.

    with applied_loras(pipe, [(Path("models/loras/watercolor.safetensors"), 0.8)]):
        out = pipe(...)          # the UNet3D's 2-D layers and the text encoder carry the LoRA
    # here every weight is bit-identical to before (no reload of the base model)

Keys are brought to one form with diffusers' own converters (kohya -> diffusers, diffusers old -> PEFT names), so
each LoRA part is ``<unet|text_encoder>.<module>.lora_A/lora_B.weight``; the UNet3D keeps diffusers' parameter
names, so SD-1.x modules (attn1/attn2 to_q/k/v/out, ff, proj_in/out, resnet convs, time_emb_proj, samplers) are
found by name. Each delta ``weight * scale * (B @ A)`` is merged into the weight in place (no per-step cost, and
the inflated convolutions stay plain Conv2d); the touched tensors are first copied to the CPU and copied back
afterwards, because merging and unmerging in fp16/bf16 would not give the same bits back.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch
from torch import nn

from ..exceptions import InvalidInput
from ..models.loras import FIELD, LoraFileError, key_format

_PARTS = ("unet", "text_encoder")
_A, _B = ".lora_A.weight", ".lora_B.weight"
_CLIP_PREFIX = "text_model."


def _fold_kohya_alphas(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """kohya stores ``alpha`` per module (scale = alpha / rank): fold it into lora_up so the converter's output
    needs no separate alpha table."""
    state = dict(state)
    for key in [k for k in state if k.endswith(".alpha")]:
        stem = key[:-len(".alpha")]
        alpha = float(state.pop(key))
        down, up = state.get(stem + ".lora_down.weight"), state.get(stem + ".lora_up.weight")
        if down is not None and up is not None:
            state[stem + ".lora_up.weight"] = up.float() * (alpha / down.shape[0])
    return state


def _peft_alphas(metadata: dict[str, str] | None) -> dict[str, float]:
    """part -> lora_alpha from diffusers' ``lora_adapter_metadata`` (absent: alpha = rank, scale 1)."""
    from diffusers.loaders.lora_base import LORA_ADAPTER_METADATA_KEY

    raw = (metadata or {}).get(LORA_ADAPTER_METADATA_KEY)
    config = json.loads(raw) if raw else {}
    return {part: float(config[f"{part}.lora_alpha"]) for part in _PARTS if f"{part}.lora_alpha" in config}


def _to_peft_names(state: dict[str, torch.Tensor], fmt: str) -> dict[str, torch.Tensor]:
    """Any supported key format -> ``<part>.<module>.lora_A/B.weight`` (diffusers' converters)."""
    from diffusers.loaders.lora_conversion_utils import _convert_non_diffusers_lora_to_diffusers
    from diffusers.utils.state_dict_utils import (DIFFUSERS_OLD_TO_PEFT, convert_state_dict,
                                                  convert_unet_state_dict_to_peft)

    if fmt == "kohya":
        try:
            state, _ = _convert_non_diffusers_lora_to_diffusers(_fold_kohya_alphas(state))
        except (ValueError, KeyError) as exc:  # kohya keys it cannot map (e.g. LoHa/LoKr parts)
            raise LoraFileError(f"its kohya keys cannot be read as a LoRA ({str(exc).strip()[:200]})") from None
    else:  # the oldest diffusers files (attention processors) name UNet modules without a prefix
        state = {k if k.startswith(tuple(p + "." for p in _PARTS)) else f"unet.{k}": v for k, v in state.items()}
    converted: dict[str, torch.Tensor] = {}
    for part in _PARTS:
        prefix = part + "."
        sub = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        if part == "text_encoder":
            sub = convert_state_dict(sub, DIFFUSERS_OLD_TO_PEFT)
        converted.update({prefix + k: v for k, v in convert_unet_state_dict_to_peft(sub).items()})
    return converted


def read_lora(path: Path) -> list[tuple[str, str, torch.Tensor, torch.Tensor, float]]:
    """(part, module, A, B, scale) for every module a LoRA file changes; LoraFileError saying why it cannot."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            state = {k: f.get_tensor(k) for k in f.keys()}
            metadata = f.metadata()
    except (SafetensorError, OSError, ValueError) as exc:
        raise LoraFileError(f"it is damaged or not a safetensors file ({exc})") from None
    fmt = key_format(state)
    alphas = _peft_alphas(metadata) if fmt == "diffusers" else {}
    state = _to_peft_names(state, fmt)
    deltas, used = [], set()
    for key in [k for k in state if k.endswith(_A)]:
        stem = key[:-len(_A)]
        if stem + _B not in state:
            raise LoraFileError(f"{key} has no matching lora_B/lora_up weight")
        part, module = stem.split(".", 1)
        down, up = state[key], state[stem + _B]
        alpha = state.get(stem + ".alpha")
        alpha = float(alpha) if alpha is not None else alphas.get(part)
        deltas.append((part, module, down, up, 1.0 if alpha is None else alpha / down.shape[0]))
        used.update({key, stem + _B, stem + ".alpha"})
    left = sorted(set(state) - used)
    if left:
        kinds = "DoRA" if any("magnitude" in k for k in left) else "LyCORIS (LoHa/LoKr) or unknown"
        raise LoraFileError(f"it has {len(left)} {kinds} weights this program cannot apply (e.g. {left[0]})")
    if not deltas:
        raise LoraFileError("it has no lora_A/lora_down weights")
    return deltas


def _factors(layer: nn.Module, down: torch.Tensor, up: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, A) as fp32 matrices on the layer's device whose product has the layer weight's size (Linear, or Conv2d
    incl. 1x1 convs given linear-shaped parts); LoraFileError when they do not fit."""
    weight = layer.weight
    if not isinstance(layer, (nn.Linear, nn.Conv2d)):
        raise LoraFileError(f"it targets a {type(layer).__name__}, which is neither a linear nor a conv layer")
    a = down.to(weight.device, torch.float32).flatten(1)
    b = up.to(weight.device, torch.float32).flatten(1)
    if b.shape[0] != weight.shape[0] or a.shape[1] != weight[0].numel() or a.shape[0] != b.shape[1]:
        raise LoraFileError(f"its parts have shapes {tuple(down.shape)} / {tuple(up.shape)}, which do not fit a "
                            f"layer of shape {tuple(weight.shape)}")
    return b, a


@contextlib.contextmanager
def applied_loras(pipe: Any, loras: Sequence[tuple[Path, float]]) -> Iterator[None]:
    """Merge each (file, weight) into ``pipe.unet`` / ``pipe.text_encoder`` for the block; restore exactly after.

    A file that does not fit is an InvalidInput naming it and why; nothing stays changed then either.
    """
    saved: dict[nn.Parameter, torch.Tensor] = {}
    try:
        with torch.no_grad():
            for path, weight in loras:
                try:
                    _merge(pipe, read_lora(path), weight, saved)
                except LoraFileError as exc:
                    raise InvalidInput(f"{FIELD}: {path.name} cannot be used: {exc}", field=FIELD, value=path.stem,
                                       hint="Use an SD-1.x LoRA (SD 1.4/1.5 based), or remove the file.") from None
        yield
    finally:
        with torch.no_grad():
            for param, original in saved.items():
                param.copy_(original)


def _find_layer(model: nn.Module, part: str, module: str) -> nn.Module:
    # LoRA files name CLIP's layers "text_model.encoder...": transformers 5's CLIPTextModel has them at "encoder..."
    names = [module] + ([module[len(_CLIP_PREFIX):]] if module.startswith(_CLIP_PREFIX) else [])
    for name in names:
        with contextlib.suppress(AttributeError):
            return model.get_submodule(name)
    raise LoraFileError(f"it changes {part} layer {module!r}, which this model does not have")


def _merge(pipe: Any, deltas: list, weight: float, saved: dict[nn.Parameter, torch.Tensor]) -> None:
    models = {"unet": pipe.unet, "text_encoder": pipe.text_encoder}
    for part, module, down, up, scale in deltas:
        layer = _find_layer(models[part], part, module)
        b, a = _factors(layer, down, up)
        param = layer.weight
        if param not in saved:
            saved[param] = param.detach().to("cpu", copy=True)  # the exact bits, off the GPU
        # in fp32, in one fused pass (W + s * B @ A), then rounded once to the model's dtype
        merged = param.to(torch.float32, memory_format=torch.contiguous_format, copy=True)
        merged.view(b.shape[0], -1).addmm_(b, a, alpha=weight * scale)
        param.copy_(merged)


__all__ = ["applied_loras", "read_lora"]
