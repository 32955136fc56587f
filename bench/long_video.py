"""Benchmark: long videos (windowed denoising + streamed decoding/encoding): peak memory and time per step.

    python bench/long_video.py                          # demo weights, 24/64/256/1024 frames, 128x128, CPU
    python bench/long_video.py --frames 24,256 --size 64 --steps 1
    python bench/long_video.py --one-pass 24,64,256     # also without windows, to show what windows save
    python bench/long_video.py --json out.json
    python bench/long_video.py --real-size --device cuda   # SD-1.4-size UNet3D (random weights), 512x512, fp16
    python bench/long_video.py --family wan             # Wan VACE through the Engine: 81 vs 200 frames (demo)
    python bench/long_video.py --family wan --frames 81,200,400 --size 64 --steps 1

Every (length, mode) runs in a fresh subprocess so that its memory is its own. Measured there:
- ``peak_mb``: the process's peak RSS (VmHWM) over the whole job: weights, inputs, denoising, VAE decoding and
  writing result.mp4 / result.gif / side_by_side.mp4 (as the engine does).
- ``job_peak_mb``: the peak RSS during the job: the peak is reset (``/proc/self/clear_refs``) after the model is
  loaded and the inputs built, so loading transients do not hide it; ``base_mb`` is the RSS at that moment.
- ``inputs_mb``: what the job must hold and which grows with the length by design: the skeleton frames (uint8, at
  the output size), the pose-adapter features (computed once, sliced per window) and the latents.
- ``s_per_step`` (denoising only, every window of one step) and ``ms_per_frame_step`` (that / frames; also in CPU
  time, ``cpu_ms_per_frame_step``, steadier on a busy machine);
  ``decode_write_s``: VAE decoding + the three writers, streamed chunk by chunk.
On CUDA also ``cuda_peak_mb`` (``torch.cuda.max_memory_allocated``). Target of issue 7: peak memory at 256 frames
<= 1.2x that at 24 frames; time per frame roughly constant. Not a test: timings on a shared machine are noisy.

``--family wan``: a whole Wan VACE job through the product's ``Engine`` (demo weights, a skeleton video at 16 fps,
default window 81 / overlap 17), each length in a fresh subprocess: a 9-frame warm-up job loads everything, then
the peak is reset and the measured job runs. ``peak_mb`` = ``ru_maxrss`` of the process, ``job_peak_mb`` = VmHWM
since the reset; the colour-drift figure of the job (``DriftMeter.summary``) is printed too. Target of issue 22:
the 200-frame job's peak within 1.3x the 81-frame job's.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backend"))


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024  # kB
    return float("nan")


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
        return True
    except OSError:
        return False


def _skeleton(frames: int, size: int):
    """Stick-figure-like frames: black with a few coloured strokes that move (uint8, (F, H, W, 3))."""
    import cv2
    import numpy as np

    out = np.zeros((frames, size, size, 3), np.uint8)
    for i in range(frames):
        x = size // 2 + int(size * 0.15 * np.sin(i / 5))
        cv2.line(out[i], (x, size // 6), (x, size // 2), (255, 153, 51), max(1, size // 64))
        cv2.line(out[i], (x, size // 4), (x - size // 5, size // 3 + i % 7), (0, 255, 0), max(1, size // 64))
        cv2.line(out[i], (x, size // 4), (x + size // 5, size // 3 - i % 7), (0, 128, 255), max(1, size // 64))
    return out


def _real_size_unet(device: str, dtype):
    """The SD-1.4-size UNet3D with seeded random weights (bench/unet_step.py builds it without an fp32 copy)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from unet_step import build_model

    return build_model(device, dtype)


def run_one(frames: int, size: int, steps: int, window: int | None, overlap: int, device: str, dtype_name: str,
            real_size: bool, threads: int) -> dict:
    import torch

    from text2video.diffusion.pipeline import FollowYourPosePipeline
    from text2video.diffusion.streaming import decode_to_writers
    from text2video.diffusion.windows import frame_windows
    from text2video.models.demo import ensure_demo_models

    if threads:
        torch.set_num_threads(threads)
    dtype = getattr(torch, dtype_name)
    if device.startswith("cuda") and not torch.cuda.is_available():
        return {"frames": frames, "skipped": "no CUDA device"}
    pipe = FollowYourPosePipeline.from_models_dir(ensure_demo_models(), device=device, torch_dtype=dtype)
    pipe.set_progress_bar_config(disable=True)
    if real_size:
        # The real-size UNet with random weights; the prompt embedding is drawn at its width (768) since the demo
        # text encoder is tiny. Output stays latent: the demo VAE is not the real one.
        pipe.unet = _real_size_unet(device, dtype)
        gen = torch.Generator(device="cpu").manual_seed(0)
        text = torch.randn(2, 77, 768, generator=gen).to(device, dtype)
        pipe.encode_prompt = lambda *a, **k: text
    skeleton = _skeleton(frames, size)
    windows = frame_windows(frames, window, overlap)
    base_mb = _status_mb("VmRSS")
    reset = _reset_peak()
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    marks = []

    def on_pass(done, total):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        marks.append((time.perf_counter(), time.process_time()))

    t0 = time.perf_counter()
    latents = pipe("a dancer in a red dress on a beach", pose=skeleton, video_length=frames, height=size, width=size,
                   num_inference_steps=steps, guidance_scale=7.5, generator=torch.Generator().manual_seed(0),
                   output_type="latent", callback=on_pass, window_size=window, window_overlap=overlap).frames
    gen_s = time.perf_counter() - t0
    # Denoising time per step, from the end of the first step to the last (excludes the once-per-generation
    # prompt/pose encoding and the first step's warm-up) when there are 2+ steps.
    per_step = len(windows)
    step_ends = marks[per_step - 1::per_step]
    if len(step_ends) > 1:
        s_per_step = (step_ends[-1][0] - step_ends[0][0]) / (len(step_ends) - 1)
        cpu_s_per_step = (step_ends[-1][1] - step_ends[0][1]) / (len(step_ends) - 1)
    else:
        s_per_step = cpu_s_per_step = gen_s
    feats = pipe.unet.encode_pose(torch.zeros(1, 1, 3, size, size, device=device, dtype=dtype))
    feature_bytes = sum(f.numel() * f.element_size() for f in feats) * frames
    inputs_mb = (skeleton.nbytes + feature_bytes + latents.numel() * latents.element_size()) / 2**20
    decode_write_s = None
    if not real_size:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            decode_to_writers(pipe, latents, skeleton, Path(tmp), 8.0, decode_chunk=8)
            decode_write_s = time.perf_counter() - t0
    result = {
        "frames": frames, "size": size, "steps": steps, "window": window, "overlap": overlap,
        "windows": len(windows), "unet_passes": pipe.last_call_stats.get("unet"), "device": device,
        "dtype": dtype_name, "real_size": real_size, "threads": torch.get_num_threads(),
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "job_peak_mb": round(_status_mb("VmHWM"), 1) if reset else None, "base_mb": round(base_mb, 1),
        "inputs_mb": round(inputs_mb, 1), "generate_s": round(gen_s, 2), "s_per_step": round(s_per_step, 3),
        "ms_per_frame_step": round(1000 * s_per_step / frames, 2),
        # CPU seconds (all threads): less sensitive than wall time to other processes on a shared machine.
        "cpu_ms_per_frame_step": round(1000 * cpu_s_per_step / frames, 2),
        "decode_write_s": round(decode_write_s, 2) if decode_write_s is not None else None,
    }
    if device.startswith("cuda"):
        result["cuda_peak_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
        result["gpu"] = torch.cuda.get_device_name()
    return result


def run_wan(frames: int, size: int, steps: int, threads: int) -> dict:
    """One Wan VACE job of ``frames`` through the Engine on demo weights (see the docstring)."""
    import torch

    from text2video.engine import Engine
    from text2video.request import GenerationRequest
    from text2video.video import write_mp4

    if threads:
        torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as tmp:
        video = write_mp4(_skeleton(frames, size), Path(tmp) / "skeleton.mp4", 16)
        engine = Engine("demo", device="cpu", dtype="fp32")

        def job(n: int, out: str):
            return engine.generate(GenerationRequest(
                video=video, prompt="a dancer in a red dress on a beach", model="wan-vace-1.3b", frames=n,
                steps=steps, width=size, height=size, seed=0, input_type="skeleton", translate=False),
                Path(tmp) / out)

        job(9, "warm-up")
        base_mb, reset = _status_mb("VmRSS"), _reset_peak()
        t0 = time.perf_counter()
        result = job(frames, "job")
        seconds = time.perf_counter() - t0
        drift = engine.runner("wan-vace-1.3b").last_drift
    return {"family": "wan", "frames": result.frames, "size": size, "steps": steps,
            "windows": len(drift.before) if drift and frames > 81 else 1,
            "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "job_peak_mb": round(_status_mb("VmHWM"), 1) if reset else None, "base_mb": round(base_mb, 1),
            "job_s": round(seconds, 2), "drift": drift.summary() if drift and frames > 81 else None}


def main_wan(args, size: int) -> int:
    results = []
    for frames in (int(n) for n in args.frames.split(",") if n):
        cmd = [sys.executable, __file__, "--family", "wan", "--child", json.dumps([frames, None]), "--size",
               str(size), "--steps", str(args.steps), "--threads", str(args.threads)]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, TQDM_DISABLE="1"))
        if proc.returncode != 0:
            print(f"{frames:5d} frames  wan  {proc.stderr.strip().splitlines()[-1:]}", flush=True)
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        results.append(r)
        print(f"{r['frames']:5d} frames  wan  windows {r['windows']}  peak {r['peak_mb']:8.1f} MB  job peak "
              f"{r['job_peak_mb']} MB (base {r['base_mb']} MB)  job {r['job_s']} s" +
              (f"\n      {r['drift']}" if r["drift"] else ""), flush=True)
    if len(results) > 1:
        first = results[0]
        for r in results[1:]:
            print(f"wan peak_mb {r['frames']} / {first['frames']} frames: {r['peak_mb'] / first['peak_mb']:.2f}x, "
                  f"job_peak_mb {r['job_peak_mb'] / first['job_peak_mb']:.2f}x (target <= 1.3x)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", default="24,64,256,1024", help="comma-separated video lengths")
    parser.add_argument("--one-pass", default="", help="lengths to run also without windows (comma-separated)")
    parser.add_argument("--size", type=int, default=None, help="output side (default 128 demo, 512 real size)")
    parser.add_argument("--steps", type=int, default=2, help="denoising steps (>= 2 to time a step without warm-up)")
    parser.add_argument("--window", type=int, default=24)
    parser.add_argument("--overlap", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default=None, help="float32 | bfloat16 | float16 (default fp32 CPU, fp16 CUDA)")
    parser.add_argument("--real-size", action="store_true", help="SD-1.4-size UNet3D, random weights (needs CUDA)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads in each run (0 = torch default)")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--family", default="fyp", choices=("fyp", "wan"),
                        help="fyp: the Follow-Your-Pose pipeline; wan: a Wan VACE job through the Engine")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.family == "wan":
        if args.frames == parser.get_default("frames"):
            args.frames = "81,200"
        size = args.size or 64
        if args.child:
            print(json.dumps(run_wan(json.loads(args.child)[0], size, args.steps, args.threads)))
            return 0
        return main_wan(args, size)
    size = args.size or (512 if args.real_size else 128)
    dtype = args.dtype or ("float16" if args.device.startswith("cuda") else "float32")
    if args.child:
        frames, window = json.loads(args.child)
        print(json.dumps(run_one(frames, size, args.steps, window, args.overlap, args.device, dtype,
                                 args.real_size, args.threads)))
        return 0

    runs = [(int(n), args.window) for n in args.frames.split(",") if n]
    runs += [(int(n), None) for n in args.one_pass.split(",") if n]
    results = []
    for frames, window in runs:
        cmd = [sys.executable, __file__, "--child", json.dumps([frames, window]), "--size", str(size), "--steps",
               str(args.steps), "--window", str(args.window), "--overlap", str(args.overlap), "--device",
               args.device, "--dtype", dtype, "--threads", str(args.threads)] + (["--real-size"] if args.real_size
                                                                                else [])
        proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, TQDM_DISABLE="1"))
        if proc.returncode != 0:
            results.append({"frames": frames, "window": window, "error": proc.stderr.strip().splitlines()[-1:]})
        else:
            results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        r = results[-1]
        mode = f"window {window}/{args.overlap}" if window else "one pass"
        if "error" in r or "skipped" in r:
            print(f"{frames:5d} frames  {mode:14s}  {r.get('error') or r.get('skipped')}", flush=True)
            continue
        print(f"{frames:5d} frames  {mode:14s}  windows {r['windows']:3d}  peak {r['peak_mb']:8.1f} MB  "
              f"job peak {r['job_peak_mb']} MB  inputs {r['inputs_mb']:7.1f} MB  {r['s_per_step']:7.2f} s/step  "
              f"{r['ms_per_frame_step']:6.2f} ms/frame/step (cpu {r['cpu_ms_per_frame_step']:6.2f})  decode+write {r['decode_write_s']} s"
              + (f"  cuda peak {r['cuda_peak_mb']} MB" if "cuda_peak_mb" in r else ""), flush=True)
    windowed = {r["frames"]: r for r in results if r.get("window") and "peak_mb" in r}
    if 24 in windowed and 256 in windowed:
        key = "cuda_peak_mb" if "cuda_peak_mb" in windowed[24] else "peak_mb"
        ratio = windowed[256][key] / windowed[24][key]
        print(f"{key} 256 / 24 frames: {ratio:.2f}x (target <= 1.2x)")
        if windowed[24].get("job_peak_mb") and windowed[256].get("job_peak_mb"):
            print(f"job_peak_mb 256 / 24 frames: {windowed[256]['job_peak_mb'] / windowed[24]['job_peak_mb']:.2f}x")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
