"""Benchmark: applying a style LoRA to the full-size UNet3D + CLIP text encoder for one job, and putting it back.

    python bench/lora_apply.py                       # CPU, bf16 where the CPU has it, rank 32
    python bench/lora_apply.py --device cuda --dtype float16 --rank 128

Builds the SD-1.4-size Follow-Your-Pose UNet3D and an SD-1.x CLIP text encoder with random weights, writes a kohya
LoRA that touches every SD-1.x 2-D layer (282 in the UNet, 72 in the text encoder: a "LoCon" covering everything,
the worst case), then times reading the file, merging it (``applied_loras`` entry), restoring the exact weights
(exit), and checks that every weight is bit-identical afterwards. Prints the size of the saved copies (kept on the
CPU). Not a test: timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backend"))

from unet_step import build_model  # noqa: E402  (the full-size random UNet3D of the step benchmark)

FYP_ONLY = ("attn_temp", "conv_temporal", "skeleton_adapter")


def text_encoder(device: str, dtype):
    from transformers import CLIPTextConfig, CLIPTextModel

    config = CLIPTextConfig(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                            max_position_embeddings=77, vocab_size=49408)
    return CLIPTextModel(config).to(device, dtype).eval()


def write_full_lora(pipe, rank: int, path: Path) -> int:
    import torch
    from safetensors.torch import save_file
    from torch import nn

    gen = torch.Generator().manual_seed(0)
    state = {}
    for prefix, model, extra in (("lora_unet_", pipe.unet, ""), ("lora_te_", pipe.text_encoder, "text_model.")):
        for name, layer in model.named_modules():
            if not isinstance(layer, (nn.Linear, nn.Conv2d)) or any(p in name for p in FYP_ONLY):
                continue
            if prefix == "lora_te_" and "layers." not in name:
                continue
            w = layer.weight
            kernel = tuple(w.shape[2:])
            stem = prefix + (extra + name).replace(".", "_")
            state[f"{stem}.lora_down.weight"] = torch.randn((rank, w.shape[1], *kernel), generator=gen) * 0.01
            state[f"{stem}.lora_up.weight"] = torch.randn((w.shape[0], rank, *((1,) * len(kernel))), generator=gen)
            state[f"{stem}.alpha"] = torch.tensor(float(rank))
    save_file({k: v.half().contiguous() for k, v in state.items()}, str(path))
    return len(state) // 3


def main() -> int:
    import torch

    from text2video.diffusion.lora import applied_loras, read_lora

    parser = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="bfloat16", choices=("float32", "bfloat16", "float16"))
    parser.add_argument("--rank", type=int, default=32)
    args = parser.parse_args()
    dtype = getattr(torch, args.dtype)
    pipe = SimpleNamespace(unet=build_model(args.device, dtype), text_encoder=text_encoder(args.device, dtype))
    before = {f"{n}.{k}": v.clone() for n in ("unet", "text_encoder")
              for k, v in getattr(pipe, n).state_dict().items()}

    def sync():
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "full.safetensors"
        layers = write_full_lora(pipe, args.rank, path)
        t0 = time.perf_counter()
        read_lora(path)
        read_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        block = applied_loras(pipe, [(path, 0.8)])
        block.__enter__()  # read + merge (the engine's `with` entry)
        sync()
        enter_s = time.perf_counter() - t0
        changed = [v for n in ("unet", "text_encoder") for k, v in getattr(pipe, n).state_dict().items()
                   if not torch.equal(v, before[f"{n}.{k}"])]
        saved_mb = sum(v.numel() * v.element_size() for v in changed) / 2**20  # the copies kept on the CPU
        file_mb = path.stat().st_size / 2**20
        t0 = time.perf_counter()
        block.__exit__(None, None, None)  # restore
        sync()
        exit_s = time.perf_counter() - t0
    exact = all(torch.equal(v, before[f"{n}.{k}"]) for n in ("unet", "text_encoder")
                for k, v in getattr(pipe, n).state_dict().items())
    print(json.dumps({"device": args.device, "dtype": args.dtype, "rank": args.rank, "layers": layers,
                      "file_mb": round(file_mb, 1),
                      "read_s": round(read_s, 2), "apply_s": round(enter_s, 2), "restore_s": round(exit_s, 2),
                      "tensors_changed": len(changed), "saved_copies_mb": round(saved_mb),
                      "bit_identical_after": exact}, indent=2))
    return 0 if exact else 1


if __name__ == "__main__":
    raise SystemExit(main())
