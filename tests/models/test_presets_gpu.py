"""Measure each memory preset on a real GPU (`pytest -m gpu tests/models/test_presets_gpu.py`).

The pipeline has the real Stable Diffusion v1-4 + Follow-Your-Pose shapes (UNet3D ~998 M parameters, CLIP-L text
encoder, SD VAE) with random weights: peak memory and time depend on shapes, not on weight values, so no download
is needed. Each run writes the measured peak and seconds per step to test-artifacts/preset_measurements.json and
fails when a preset uses more than its estimate (text2video.models.presets) allows: then update the constants there
and the tables in docs/gpu.md with the measured figures.
"""

from __future__ import annotations

import inspect
import json
import time

import pytest

from text2video.models.presets import apply_preset, choose_preset

pytestmark = pytest.mark.gpu
TOLERANCE = 1.25  # measured peak may exceed the estimate by this factor before the estimate counts as wrong


def build_random_pipeline(folder, full: bool = True):
    """FollowYourPosePipeline with SD-1.4-sized (``full``) or tiny random components, in fp16 on the CPU."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from text2video.diffusion.demo import DEMO_UNET_CONFIG, SD14_SCHEDULER_CONFIG, build_tokenizer_files
    from text2video.diffusion.pipeline import FollowYourPosePipeline
    from text2video.diffusion.unet3d import UNet3DConditionModel

    torch.manual_seed(0)
    vocab = build_tokenizer_files(folder / "tokenizer")
    tokenizer = CLIPTokenizer.from_pretrained(folder / "tokenizer")
    hidden, layers, heads, inter = (768, 12, 12, 3072) if full else (32, 2, 4, 64)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=vocab, hidden_size=hidden, intermediate_size=inter, num_hidden_layers=layers,
        num_attention_heads=heads, max_position_embeddings=77, projection_dim=hidden, bos_token_id=vocab - 2,
        eos_token_id=vocab - 1, pad_token_id=vocab - 1, hidden_act="quick_gelu"))
    vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4,
                        down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
                        block_out_channels=[128, 256, 512, 512] if full else [8, 16, 16, 16],
                        layers_per_block=2 if full else 1, norm_num_groups=32 if full else 8,
                        sample_size=512, scaling_factor=0.18215)
    if full:
        unet = UNet3DConditionModel()  # defaults = the released checkpoint's architecture
    else:
        accepted = inspect.signature(UNet3DConditionModel.__init__).parameters
        unet = UNet3DConditionModel(**{k: v for k, v in DEMO_UNET_CONFIG.items() if k in accepted})
    scheduler = DDIMScheduler.from_config(SD14_SCHEDULER_CONFIG)
    pipe = FollowYourPosePipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                  scheduler=scheduler)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to("cpu", torch.float16 if full else torch.float32)


def measure(pipe, preset, frames: int, size: int = 512, steps: int = 3) -> dict:
    """Run ``steps`` denoising steps + decode under ``preset``; peak CUDA memory (GB) and seconds per step."""
    import torch

    if preset.offload == "model":
        pipe.to("cpu")
    else:
        pipe.remove_all_hooks()
        pipe.to(preset.device)
    applied = apply_preset(pipe, preset)
    pose = torch.rand(frames, 3, size, size)
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    times: list[float] = []
    last = [time.perf_counter()]

    def on_step(step, *args, **kwargs):
        torch.cuda.synchronize()
        now = time.perf_counter()
        times.append(now - last[0])
        last[0] = now

    pipe("a person dancing on the beach", pose=pose, video_length=frames, height=size, width=size,
         num_inference_steps=steps, generator=torch.Generator().manual_seed(0), output_type="np",
         decode_chunk_size=preset.decode_chunk_size, callback=on_step)
    torch.cuda.synchronize()
    return {"preset": preset.name, "frames": frames, "size": size, "applied": applied,
            "peak_gb": round(torch.cuda.max_memory_allocated() / 2**30, 2),
            "estimated_peak_gb": preset.estimated_peak_gb,
            "s_per_step": round(sorted(times)[len(times) // 2], 3) if times else None,
            "gpu": torch.cuda.get_device_name(0)}


@pytest.fixture(scope="module")
def full_pipe(tmp_path_factory):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    return build_random_pipeline(tmp_path_factory.mktemp("sd14-random"), full=True)


@pytest.mark.parametrize("memory", ["high", "medium", "low"])
@pytest.mark.parametrize("frames", [8, 24])
def test_measured_peak_within_estimate(full_pipe, memory, frames, artifacts_dir):
    import torch

    free_gb = torch.cuda.mem_get_info(0)[0] / 2**30
    preset = choose_preset("cuda", free_gb, False, memory, frames=frames)
    if preset.estimated_peak_gb > free_gb:
        pytest.skip(f"{memory} at {frames} frames is estimated at {preset.estimated_peak_gb} GB, "
                    f"{free_gb:.1f} GB free")
    result = measure(full_pipe, preset, frames)
    out = artifacts_dir / "preset_measurements.json"
    rows = json.loads(out.read_text()) if out.exists() else []
    rows = [r for r in rows if (r["preset"], r["frames"], r["gpu"]) != (memory, frames, result["gpu"])] + [result]
    out.write_text(json.dumps(rows, indent=2))
    # CUDA context (~0.5 GB) is not in max_memory_allocated: compare against the estimate without it.
    assert result["peak_gb"] <= (preset.estimated_peak_gb - 0.6) * TOLERANCE, result
