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


# --- Wan2.1 transformer LoRAs ------------------------------------------------------------------------------------
# (original Wan name, diffusers name) of each attention projection; (out, in) shapes follow from the widths
_WAN_ATTENTION = tuple(zip("qkvo", ("to_q", "to_k", "to_v", "to_out.0")))
WAN_FORMATS = ("diffusers", "original", "kohya")


def _wan_modules(width: int, ffn: int) -> list[tuple[str, str, tuple[int, int]]]:
    modules = [(f"{ours}.{o}", f"{theirs}.{d}", (width, width))
               for ours, theirs in (("self_attn", "attn1"), ("cross_attn", "attn2")) for o, d in _WAN_ATTENTION]
    return modules + [("ffn.0", "ffn.net.0.proj", (ffn, width)), ("ffn.2", "ffn.net.2", (width, ffn))]


def demo_wan_shape(folder: str = "wan2.1-vace-1.3b") -> dict[str, int]:
    """blocks / width / ffn of a demo Wan transformer (text2video.families.wan_vace.demo), for LoRAs that fit it."""
    from text2video.families.wan_vace.demo import TRANSFORMER_CONFIG, TRANSFORMER_LAYERS

    width = TRANSFORMER_CONFIG["num_attention_heads"] * TRANSFORMER_CONFIG["attention_head_dim"]
    return {"blocks": TRANSFORMER_LAYERS[folder][0], "width": width, "ffn": TRANSFORMER_CONFIG["ffn_dim"]}


def wan_lora_state(fmt: str, *, blocks: int, width: int, ffn: int, rank: int = 4, seed: int = 0,
                   scale: float = 0.5) -> dict[str, torch.Tensor]:
    """A LoRA for every block's attention and feed-forward layers of a Wan transformer, in ``fmt``: "diffusers"
    (PEFT names), "original" (Wan / ComfyUI names, with .alpha, bias deltas .diff_b and a norm .diff as LightX2V
    files carry them) or "kohya" (musubi-tuner names, with .alpha)."""
    gen, state = torch.Generator().manual_seed(seed), {}
    for block in range(blocks):
        for original, diffusers, (out, inp) in _wan_modules(width, ffn):
            down, up = torch.randn(rank, inp, generator=gen) * scale, torch.randn(out, rank, generator=gen) * scale
            if fmt == "diffusers":
                stem = f"transformer.blocks.{block}.{diffusers}"
                state[f"{stem}.lora_A.weight"], state[f"{stem}.lora_B.weight"] = down, up
            elif fmt == "original":
                stem = f"diffusion_model.blocks.{block}.{original}"
                state[f"{stem}.lora_down.weight"], state[f"{stem}.lora_up.weight"] = down, up
                state[f"{stem}.alpha"] = torch.tensor(float(rank))
                state[f"{stem}.diff_b"] = torch.randn(out, generator=gen) * 0.1
            elif fmt == "kohya":
                stem = f"lora_unet_blocks_{block}_{original.replace('.', '_')}"
                state[f"{stem}.lora_down.weight"], state[f"{stem}.lora_up.weight"] = down, up
                state[f"{stem}.alpha"] = torch.tensor(float(rank))
            else:
                raise ValueError(fmt)
        if fmt == "original":  # a norm delta (diffusers drops it)
            state[f"diffusion_model.blocks.{block}.norm3.diff"] = torch.zeros(width)
    return state


def write_wan_lora(path: Path, fmt: str, *, blocks: int, width: int, ffn: int, metadata=None, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    state = wan_lora_state(fmt, blocks=blocks, width=width, ffn=ffn, **kwargs)
    save_file({k: v.contiguous() for k, v in state.items()}, str(path), metadata=metadata)
    return path


def write_demo_wan_lora(path: Path, fmt: str, folder: str = "wan2.1-vace-1.3b", **kwargs) -> Path:
    """A Wan LoRA whose shapes fit the demo transformer of ``folder``."""
    return write_wan_lora(path, fmt, **demo_wan_shape(folder), **kwargs)
