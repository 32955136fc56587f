"""Tiny, seeded, random video-diffusion weights in the real on-disk layout (output is NOISE).

``build_demo(root)`` writes::

    stable-diffusion-v1-4/   model_index.json, tokenizer/ (vocab.json + merges.txt), text_encoder/, vae/,
                             unet/ (UNet2DConditionModel config + weights, as in the real SD folder), scheduler/
    follow-your-pose/        followyourpose_checkpoint-1000/pytorch_model.bin (full UNet3D state dict, as
                             accelerate saves it) and pose_encoder.pth (the skeleton adapter's state dict)

Shapes follow the SD-1.4 configs (4 down blocks, 2 layers each, VAE factor 8, 77-token CLIP) with tiny widths, so
the same loading and inference code runs on a CPU in a fraction of a second per step.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import torch

from ..models.layout import FYP_CHECKPOINT_DIR, FYP_POSE_ENCODER, SD_DIR

SEED = 1234

# SD-1.4's scheduler/scheduler_config.json, field for field (the reference builds DDIM from it).
SD14_SCHEDULER_CONFIG: dict[str, Any] = {
    "_class_name": "PNDMScheduler",
    "_diffusers_version": "0.7.0.dev0",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "num_train_timesteps": 1000,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "trained_betas": None,
}

# SD-1.4's unet config with tiny widths (the real one: 320/640/1280/1280, cross_attention_dim 768).
DEMO_UNET_CONFIG: dict[str, Any] = {
    "act_fn": "silu",
    "attention_head_dim": 2,  # = heads (diffusers legacy name); 2 heads of 16-32 channels keep CPU attention cheap
    "block_out_channels": [32, 32, 64, 64],
    "center_input_sample": False,
    "cross_attention_dim": 32,
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    "downsample_padding": 1,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 4,
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-05,
    "norm_num_groups": 8,
    "out_channels": 4,
    "sample_size": 8,
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
}

# Words the tiny tokenizer knows as whole tokens (anything else still tokenizes, byte by byte).
_DEMO_WORDS = (
    "a an the man woman girl boy person astronaut robot panda bear iron on in at of and with is dancing dance "
    "beach sea mountain street park forest snow moon desert room studio sunset style background cartoon "
    "simple grey brown yellow red blue green white black"
).split()


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP byte -> printable character table (the base alphabet of CLIP's byte-level BPE)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def build_tokenizer_files(folder: Path, words: Sequence[str] = _DEMO_WORDS) -> int:
    """A CLIP BPE tokenizer in the real file format (vocab.json + merges.txt + configs) whose merges spell out
    ``words`` (one token each; other text falls back to one token per character); returns the vocab size.

    Vocabulary order as in CLIP: the 256 byte symbols, the same with the end-of-word marker ``</w>``, one entry per
    merge, then ``<|startoftext|>`` and ``<|endoftext|>``."""
    folder.mkdir(parents=True, exist_ok=True)
    alphabet = list(_bytes_to_unicode().values())
    vocab_list = alphabet + [c + "</w>" for c in alphabet]
    merges: list[str] = []
    known = set(vocab_list)
    for word in words:
        symbols = list(word[:-1]) + [word[-1] + "</w>"]
        # Merge left to right: "m a", "ma n</w>" -> "man</w>".
        current = symbols[0]
        for nxt in symbols[1:]:
            merged = current + nxt
            if merged not in known:
                merges.append(f"{current} {nxt}")
                vocab_list.append(merged)
                known.add(merged)
            current = merged
    vocab_list += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {token: i for i, token in enumerate(vocab_list)}
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    special = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
               "pad_token": "<|endoftext|>"}
    (folder / "special_tokens_map.json").write_text(json.dumps(special, indent=2))
    (folder / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "CLIPTokenizer", "model_max_length": 77, "do_lower_case": True,
         "errors": "replace", "add_prefix_space": False, **special}, indent=2))
    return len(vocab)


def _seeded(offset: int):
    """Deterministic weights per component, without touching the caller's global RNG."""
    state = torch.random.fork_rng(devices=[])
    state.__enter__()
    torch.manual_seed(SEED + offset)
    return state


def build_sd_folder(sd: Path) -> dict[str, Any]:
    """Tokenizer, text encoder, VAE, 2-D UNet and scheduler of a tiny SD-1.4-shaped folder; returns the unet
    config as saved."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    vocab_size = build_tokenizer_files(sd / "tokenizer")

    rng = _seeded(1)
    try:
        text_config = CLIPTextConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=64,
                                     num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=77,
                                     projection_dim=32, bos_token_id=vocab_size - 2, eos_token_id=vocab_size - 1,
                                     pad_token_id=vocab_size - 1, hidden_act="quick_gelu")
        CLIPTextModel(text_config).save_pretrained(sd / "text_encoder", safe_serialization=True)
    finally:
        rng.__exit__(None, None, None)

    rng = _seeded(2)
    try:
        vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4,
                            down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
                            block_out_channels=[8, 16, 16, 16], layers_per_block=1, norm_num_groups=8,
                            sample_size=64, scaling_factor=0.18215)
        vae.save_pretrained(sd / "vae", safe_serialization=True)
    finally:
        rng.__exit__(None, None, None)

    rng = _seeded(3)
    try:
        unet2d = UNet2DConditionModel(**DEMO_UNET_CONFIG)
        unet2d.save_pretrained(sd / "unet", safe_serialization=True)
    finally:
        rng.__exit__(None, None, None)

    (sd / "scheduler").mkdir(parents=True, exist_ok=True)
    (sd / "scheduler" / "scheduler_config.json").write_text(json.dumps(SD14_SCHEDULER_CONFIG, indent=2))
    (sd / "model_index.json").write_text(json.dumps({
        "_class_name": "StableDiffusionPipeline",
        "_diffusers_version": "0.2.2",
        "scheduler": ["diffusers", "PNDMScheduler"],
        "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"],
        "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"],
    }, indent=2))
    return json.loads((sd / "unet" / "config.json").read_text())


def build_fyp_folder(root: Path) -> None:
    """The Follow-Your-Pose checkpoint (full UNet3D state dict) and pose_encoder.pth (skeleton adapter)."""
    from .unet3d import UNet3DConditionModel

    sd_unet = root / SD_DIR / "unet"
    rng = _seeded(4)
    try:
        # The 2-D weights come from the SD folder, as in the release; the new parts (temporal attention and
        # convolution, pose adapter) get seeded random values.
        unet = UNet3DConditionModel.from_pretrained_2d(sd_unet)
        # Small random values in the otherwise zero-initialised new layers, so they take part in the output.
        with torch.no_grad():
            for name, param in unet.named_parameters():
                if not param.any() and ("temp" in name or "skeleton_adapter" in name):
                    param.normal_(0.0, 0.02)
    finally:
        rng.__exit__(None, None, None)
    state = {k: v.detach().clone().contiguous() for k, v in unet.state_dict().items()}
    ckpt = root / FYP_CHECKPOINT_DIR
    ckpt.mkdir(parents=True, exist_ok=True)
    torch.save(state, ckpt / "pytorch_model.bin")
    prefix = "skeleton_adapter."
    torch.save({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}, root / FYP_POSE_ENCODER)


def build_demo(root: str | Path) -> Path:
    """Write the video-diffusion part of the demo models folder under ``root``."""
    root = Path(root)
    build_sd_folder(root / SD_DIR)
    build_fyp_folder(root)
    return root


__all__ = ["build_demo", "build_tokenizer_files", "DEMO_UNET_CONFIG", "SD14_SCHEDULER_CONFIG"]
