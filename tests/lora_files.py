"""Tiny LoRA files for the demo models, in each key format a user may install (kohya, PEFT, old diffusers)."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file

# (part, module) -> weight shape in the demo UNet3D / CLIP text encoder (text width 32): attention, feed-forward,
# 1x1 and 3x3 convolutions, and the text encoder's attention and MLP, as real SD-1.x LoRAs carry them.
DEMO_TARGETS: dict[tuple[str, str], tuple[int, ...]] = {
    ("unet", "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q"): (32, 32),
    ("unet", "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0"): (32, 32),
    ("unet", "mid_block.attentions.0.transformer_blocks.0.attn2.to_k"): (64, 32),
    ("unet", "mid_block.attentions.0.transformer_blocks.0.ff.net.0.proj"): (512, 64),
    ("unet", "down_blocks.0.attentions.1.proj_in"): (32, 32, 1, 1),
    ("unet", "mid_block.resnets.0.conv1"): (64, 64, 3, 3),
    ("text_encoder", "text_model.encoder.layers.0.self_attn.q_proj"): (32, 32),
    ("text_encoder", "text_model.encoder.layers.1.mlp.fc1"): (64, 32),
}
# an SD-2.x file: its cross-attention takes 1024-wide text features (the demo model's take 32)
SD2_TARGETS = {("unet", "mid_block.attentions.0.transformer_blocks.0.attn2.to_k"): (64, 1024)}
FORMATS = ("kohya", "peft", "diffusers_old")
_OLD_ATTN = {"to_q": "to_q_lora", "to_k": "to_k_lora", "to_v": "to_v_lora", "to_out.0": "to_out_lora"}


def _parts(shape: tuple[int, ...], rank: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    out, inp = shape[0], shape[1]
    kernel = tuple(shape[2:])
    down = torch.randn((rank, inp, *kernel), generator=gen) * 0.5
    up = torch.randn((out, rank, *((1,) * len(kernel))), generator=gen) * 0.5
    return down, up


def _old_name(part: str, module: str) -> str:
    for attn, old in _OLD_ATTN.items():
        if module.endswith("." + attn) and part == "unet":
            return f"{part}.{module[:-len(attn)]}processor.{old}"
    return f"{part}.{module}.lora"


def lora_state(fmt: str, targets=None, *, rank: int = 4, seed: int = 0, alpha: float | None = 2.0):
    """The tensors of a LoRA for ``targets`` in the key format ``fmt`` (kohya | peft | diffusers_old)."""
    gen = torch.Generator().manual_seed(seed)
    state: dict[str, torch.Tensor] = {}
    for (part, module), shape in (targets or DEMO_TARGETS).items():
        down, up = _parts(shape, rank, gen)
        if fmt == "kohya":
            stem = ("lora_unet_" if part == "unet" else "lora_te_") + module.replace(".", "_")
            state.update({f"{stem}.lora_down.weight": down, f"{stem}.lora_up.weight": up})
            if alpha is not None:
                state[f"{stem}.alpha"] = torch.tensor(alpha)
        elif fmt == "peft":
            state.update({f"{part}.{module}.lora_A.weight": down, f"{part}.{module}.lora_B.weight": up})
        elif fmt == "diffusers_old":
            stem = _old_name(part, module)
            state.update({f"{stem}.down.weight": down, f"{stem}.up.weight": up})
        else:
            raise ValueError(fmt)
    return state


def write_lora(path: Path, fmt: str, targets=None, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in lora_state(fmt, targets, **kwargs).items()}, str(path))
    return path


def models_with_loras(demo_models: Path, root: Path) -> Path:
    """A models folder that shares the demo weights (links) and has its own empty ``loras/``."""
    root.mkdir(parents=True, exist_ok=True)
    for entry in demo_models.iterdir():
        link = root / entry.name
        if not link.exists():
            link.symlink_to(entry)
    (root / "loras").mkdir(exist_ok=True)
    return root
