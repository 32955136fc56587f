"""Benchmark: what the live preview costs per denoising step, as a fraction of the step time.

    python bench/preview.py                          # every config this machine can run
    python bench/preview.py --configs demo --steps 10
    python bench/preview.py --json out.json

Configs:
- ``demo``: the whole pipeline on the tiny demo weights (CPU fp32, 4 frames at 128x128, guidance), with the same
  seed, alternately without a preview and with one after every step (the most it can be asked for). Step times
  come from the per-step callback; the preview's own time is measured inside ``LivePreview`` (x0 -> RGB -> GIF).
- ``wan-demo``: Wan VACE's product runner (``WanVaceRunner``) on its demo weights (CPU fp32, 17 frames at 64x64,
  guidance 5), alternately without a preview path and with one written after every step (``WanLivePreview``:
  x0 from the UniPC scheduler, Wan 2.1's latent->RGB factors, GIF); the preview's own time is measured inside it.
- ``cpu-bf16`` / ``cuda-fp16-24``: the full-size SD-1.4 Follow-Your-Pose UNet3D (random weights, built as in
  ``bench/unet_step.py``; 4 frames at 256x256 on the CPU, 24 frames at 512x512 on CUDA). A step is one UNet call of
  the guidance batch; the preview is made from latents of that video's shape on the same device, by the linear map
  and by a tiny decoder of TAESD's architecture (random weights: the same cost as the real one).

The overhead is stated per step for the default cadence (one preview every ``preview_every_steps`` = 5 steps, and
at most one a second) and for a preview at every step. Not a test: timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backend"))

from unet_step import (  # noqa: E402 - the bench folder's own helpers
    CONFIGS as UNET_CONFIGS, SD14_UNET_CONFIG, build_model, config_names)

EVERY = 5  # settings.preview_every_steps default
CONFIGS = {"demo": dict(device="cpu", frames=4, size=128), "wan-demo": dict(device="cpu", frames=17, size=64),
           "cpu-bf16": UNET_CONFIGS["cpu-bf16"],
           "cuda-fp16-24": UNET_CONFIGS["cuda-fp16-24"]}


def _preview(folder: Path, fps: float = 8.0):
    from text2video.diffusion.preview import LivePreview

    return LivePreview(folder / "preview.gif", fps, every_steps=1, min_interval_s=0.0, max_frames=96)


def run_demo(steps: int, rounds: int) -> dict:
    """The real pipeline with and without a preview at every step, ``rounds`` runs of each."""
    import torch

    from text2video.diffusion.pipeline import FollowYourPosePipeline
    from text2video.models.demo import resolve_models_dir

    cfg = CONFIGS["demo"]
    pipe = FollowYourPosePipeline.from_models_dir(resolve_models_dir("demo"), device="cpu", torch_dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    pose = (torch.rand(cfg["frames"], 3, cfg["size"], cfg["size"], generator=torch.Generator().manual_seed(0)) > 0.9)

    def denoise(**hook) -> list[float]:
        stamps = [time.perf_counter()]
        pipe("a robot dancing", pose=pose.float(), video_length=cfg["frames"], height=cfg["size"], width=cfg["size"],
             num_inference_steps=steps, generator=torch.Generator().manual_seed(1), output_type="latent",
             callback=lambda step, total: stamps.append(time.perf_counter()), **hook)
        return [b - a for a, b in zip(stamps, stamps[1:])][1:]  # the first step warms caches up

    denoise()  # warm-up run
    plain, with_preview = [], []
    with tempfile.TemporaryDirectory() as folder:
        live = _preview(Path(folder))
        for _ in range(rounds):  # alternated, so a busy neighbour slows both kinds of run alike
            plain += denoise()
            with_preview += denoise(callback_on_step_end=live.on_step_end,
                                    callback_on_step_end_tensor_inputs=("pred_original_sample",))
    return {"config": "demo", **cfg, "steps": steps, "step_s": statistics.median(plain),
            "step_with_preview_s": statistics.median(with_preview), "preview_s": live.seconds / live.written,
            "previews": live.written}


def run_wan_demo(steps: int, rounds: int) -> dict:
    """Wan VACE's runner on demo weights with and without a preview at every step, ``rounds`` runs of each."""
    import numpy as np
    import torch

    from text2video.families.base import RunInputs
    from text2video.families.wan_vace import FAMILY
    from text2video.families.wan_vace.demo import build_demo
    from text2video.families.wan_vace.runner import WanVaceRunner
    from text2video.models.demo import ensure_demo_part, resolve_models_dir
    from text2video.settings import Settings

    torch.set_num_threads(1)  # a tiny model: one thread is steadier than several fighting on a busy machine
    cfg, variant = CONFIGS["wan-demo"], FAMILY.variants[0]
    root = resolve_models_dir("demo")
    ensure_demo_part(root, variant.folder, build_demo)
    settings = Settings.load({"preview_every_steps": 1, "preview_min_interval_s": 0.0}, environ={})
    runner = WanVaceRunner(root, variant, device="cpu", dtype=torch.float32, settings=settings)
    frames, size = cfg["frames"], cfg["size"]
    pose = (np.random.default_rng(0).random((frames, size, size, 3)) > 0.9).astype(np.uint8) * 255
    inputs = RunInputs(prompt="a robot dancing", negative_prompt=None, original_prompt="a robot dancing",
                       language="en", pose=pose, fps=16.0, reference_image=None, frames=frames, width=size,
                       height=size, steps=steps, guidance_scale=5.0, seed=1)

    def denoise(preview: Path | None) -> list[float]:
        stamps = []
        list(runner.generate(inputs, on_step=lambda step, total: stamps.append(time.perf_counter()),
                             preview_path=preview, warnings=[]))
        return [b - a for a, b in zip(stamps, stamps[1:])][1:-1]  # not the first (warm-up) or last (no preview)

    denoise(None)  # warm-up run
    plain, with_preview, seconds, written = [], [], 0.0, 0
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(rounds):  # alternated, so a busy neighbour slows both kinds of run alike
            plain += denoise(None)
            with_preview += denoise(Path(folder) / "preview.gif")
            seconds, written = seconds + runner.last_preview.live.seconds, written + runner.last_preview.live.written
    return {"config": "wan-demo", **cfg, "steps": steps, "step_s": statistics.median(plain),
            "step_with_preview_s": statistics.median(with_preview), "preview_s": seconds / written,
            "previews": written}


def run_unet(name: str, repeats: int, cfg: dict | None = None, unet_config: dict = SD14_UNET_CONFIG) -> dict:
    """One UNet step of the guidance batch (full size unless ``unet_config`` says otherwise) vs one preview of the
    same video's latents; ``cfg`` (device, dtype, frames, size) defaults to the config ``name``."""
    import torch
    from diffusers import AutoencoderTiny

    cfg = cfg or CONFIGS[name]
    device, dtype = cfg["device"], getattr(torch, cfg["dtype"])
    if device == "cuda" and not torch.cuda.is_available():
        return {"config": name, "skipped": "no CUDA device"}
    model = build_model(device, dtype, unet_config)
    gen = torch.Generator(device=device).manual_seed(1)
    h, frames = cfg["size"] // 8, cfg["frames"]
    latents = torch.randn(2, 4, frames, h, h, generator=gen, device=device, dtype=dtype)
    text = torch.randn(2, 77, unet_config["cross_attention_dim"], generator=gen, device=device, dtype=dtype)
    pose = torch.rand(1, frames, 3, cfg["size"], cfg["size"], generator=gen, device=device, dtype=dtype)

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()

    def timed(fn) -> list[float]:
        times = []
        for i in range(repeats + 1):
            sync()
            t0 = time.perf_counter()
            fn()
            sync()
            if i:  # the first is the warm-up
                times.append(time.perf_counter() - t0)
        return times

    with torch.inference_mode():
        feats = model.encode_pose(pose)
        steps = timed(lambda: model(latents, torch.tensor(500, device=device), text, pose_features=feats))
        with tempfile.TemporaryDirectory() as folder:
            live = _preview(Path(folder))
            previews = timed(lambda: live.write(latents[:1]))
            live.decoder = AutoencoderTiny().to(device=device, dtype=dtype).eval()  # TAESD's shape, random weights
            decoded = timed(lambda: live.write(latents[:1]))
    result = {"config": name, **cfg, "step_s": statistics.median(steps), "preview_s": statistics.median(previews),
              "preview_taesd_s": statistics.median(decoded)}
    if device == "cuda":
        result["gpu"] = torch.cuda.get_device_name()
    return result


def _print(r: dict) -> None:
    if "skipped" in r:
        print(f"{r['config']:13s} {r['skipped']}")
        return
    every, default = r["preview_s"] / r["step_s"], r["preview_s"] / EVERY / r["step_s"]
    line = (f"{r['config']:13s} {r['size']}x{r['size']} x{r['frames']} frames: step {r['step_s'] * 1000:.1f} ms, "
            f"one preview {r['preview_s'] * 1000:.1f} ms -> per step {default:.3%} of the step time with a preview "
            f"every {EVERY} steps ({every:.2%} with one every step)")
    if "preview_taesd_s" in r:
        line += (f"; with the tiny decoder (models/taesd) one preview {r['preview_taesd_s'] * 1000:.1f} ms -> "
                 f"{r['preview_taesd_s'] / EVERY / r['step_s']:.2%} per step every {EVERY} steps")
    if "step_with_preview_s" in r:
        line += (f"; measured end to end with one every step: {r['step_with_preview_s'] * 1000:.1f} ms/step "
                 f"({r['step_with_preview_s'] / r['step_s'] - 1:+.1%})")
    if r.get("gpu"):
        line += f" [{r['gpu']}]"
    print(line, flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated: " + ", ".join(CONFIGS))
    parser.add_argument("--steps", type=int, default=6, help="demo: denoising steps per run")
    parser.add_argument("--repeats", type=int, default=3,
                        help="demo: runs with and without previews; full-size UNet: timed steps after a warm-up")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    names = config_names(parser, args.configs, CONFIGS)
    results = []
    for name in names:
        demos = {"demo": run_demo, "wan-demo": run_wan_demo}
        results.append(demos[name](args.steps, args.repeats) if name in demos else run_unet(name, args.repeats))
        _print(results[-1])
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
