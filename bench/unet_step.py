"""Benchmark: one denoising step of the full SD-1.4-size Follow-Your-Pose UNet3D (random weights).

    python bench/unet_step.py                     # every config this machine can run
    python bench/unet_step.py --configs cpu-bf16 --repeats 5
    python bench/unet_step.py --json out.json
    python bench/unet_step.py --configs cpu-bf16-cl --compile default     # eager vs compiled, in turn
    python bench/unet_step.py --configs cuda-fp16-24 --compile max-autotune  # on a GPU
    python bench/unet_step.py --configs cpu-bf16-cl --reference ref.jsonl   # ratios to the reference's step

Configs: ``cpu-fp32`` and ``cpu-bf16`` (4 frames, 256x256, guidance batch 2), the same with channels-last maps
(``cpu-fp32-cl``, ``cpu-bf16-cl``: ``unet.to(memory_format=torch.channels_last)``), ``cuda-fp16-8`` and ``cuda-fp16-24``
(512x512, 8 / 24 frames, guidance batch 2; skipped without CUDA). Each config runs in a fresh subprocess so that its
peak memory is its own: peak RSS (``ru_maxrss``) on CPU, ``torch.cuda.max_memory_allocated`` on CUDA. A step is one
UNet evaluation of the guidance batch with the pose features precomputed once (as the pipeline does); the pose
encoder's one-off cost is printed apart. Time: median of ``--repeats`` steps after one warm-up step.

``--compile MODE`` also runs the UNet as ``--compile MODE`` does (``text2video.diffusion.compilation``) in the same
process, a compiled step after each eager one, and reports the first compiled call (compile time, cold cache unless
``--compile-cache``), the steady compiled step and the ratio; peak memory is then that of both. Each step's FLOPs are
counted by torch's FlopCounterMode on the meta device and set against the matmul peak in the config's dtype
(measured with 4096^3 matmuls, or ``--peak-gflops``): the fraction of peak is how close a step is to the floor.

The model is built on the meta device, cast there to the target dtype and only then allocated and filled with
seeded random values (scaled by fan-in so activations stay in range): no fp32 copy is ever made for a bf16/fp16 run.
``--reference FILE``: the reference implementation's step, timed on this machine by a separate script (its code is
never part of this repository) in the same run, as JSON lines ``{"dtype", "seconds_per_step", "peak_gb"}``; each
config is then printed as a ratio to the reference in its dtype.
Not a test: timings on a shared machine are noisy; compare ratios taken in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backend"))

SD14_UNET_CONFIG = {
    "act_fn": "silu", "attention_head_dim": 8, "block_out_channels": [320, 640, 1280, 1280],
    "center_input_sample": False, "cross_attention_dim": 768,
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    "downsample_padding": 1, "flip_sin_to_cos": True, "freq_shift": 0, "in_channels": 4, "layers_per_block": 2,
    "mid_block_scale_factor": 1, "norm_eps": 1e-05, "norm_num_groups": 32, "out_channels": 4, "sample_size": 64,
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
}

CONFIGS = {
    "cpu-fp32": dict(device="cpu", dtype="float32", frames=4, size=256),
    "cpu-bf16": dict(device="cpu", dtype="bfloat16", frames=4, size=256),
    # channels-last maps (model.to(memory_format=torch.channels_last)): faster oneDNN convolutions on CPU
    "cpu-fp32-cl": dict(device="cpu", dtype="float32", frames=4, size=256, channels_last=True),
    "cpu-bf16-cl": dict(device="cpu", dtype="bfloat16", frames=4, size=256, channels_last=True),
    "cuda-fp16-8": dict(device="cuda", dtype="float16", frames=8, size=512),
    "cuda-fp16-24": dict(device="cuda", dtype="float16", frames=24, size=512),
}


def build_model(device: str, dtype, unet_config: dict = SD14_UNET_CONFIG):
    """The UNet3D of ``unet_config`` (default: full size) in ``dtype`` on ``device``, seeded random weights."""
    import torch

    from text2video.diffusion.unet3d import UNet3DConditionModel

    with torch.device("meta"):
        model = UNet3DConditionModel.from_config(unet_config)
    model.to(dtype=dtype)  # still meta: free
    model.to_empty(device=device)  # the only allocation, already in the target dtype
    fill_random(model, device)
    return model.eval()


def fill_random(model, device: str, seed: int = 0) -> None:
    """Seeded random parameters in place: norm scales 1, biases 0, matrices N(0, 1/fan_in) (activations stay in
    range), so that a model allocated with ``to_empty`` runs like a trained one's shapes do."""
    import torch

    gen = torch.Generator(device=device).manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim == 1:
                p.fill_(1.0 if name.endswith(".weight") and "norm" in name.split(".")[-2] else 0.0)
            else:
                p.normal_(0.0, p[0].numel() ** -0.5, generator=gen)


def run_config(name: str, cfg: dict, repeats: int, compile_mode: str = "off", peak_gflops: float | None = None,
               cache_dir: str | None = None, *, unet_config: dict = SD14_UNET_CONFIG, model=None,
               backend: str = "inductor") -> dict:
    """One config's step (``cfg``: device, dtype, frames, size), eager and with ``compile_mode`` compiled in turn.

    ``model``: a UNet already built for this device and dtype (several frame counts share one; its build is then
    not timed), else one is built from ``unet_config``. ``backend``: torch.compile's (``inductor``; ``eager``
    traces with dynamo only, for a dry run of this code path in seconds)."""
    import torch

    device, dtype = cfg["device"], getattr(torch, cfg["dtype"])
    if device == "cuda" and not torch.cuda.is_available():
        return {"config": name, "skipped": "no CUDA device"}
    if device == "cpu" and dtype == torch.bfloat16 and not _cpu_has_bf16():
        note = "CPU lacks avx512_bf16/amx: bf16 is emulated and slow"
    else:
        note = ""
    flops = count_flops(cfg, unet_config)
    peak = peak_gflops or matmul_peak_gflops(device, dtype)
    t0 = time.perf_counter()
    model = model if model is not None else build_model(device, dtype, unet_config)
    if cfg.get("channels_last"):
        model.to(memory_format=torch.channels_last)
    build_s = time.perf_counter() - t0
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()  # this config's peak, also when the model came built
    latents, t, text, pose = step_inputs(cfg, device, dtype, unet_config["cross_attention_dim"])
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    result = {"config": name, **cfg, "batch": latents.shape[0], "threads": torch.get_num_threads(),
              "build_s": build_s, "params": sum(p.numel() for p in model.parameters()), "tflop_per_step": flops / 1e12,
              "peak_gflops": peak, "peak_measured": peak_gflops is None, "compile": compile_mode}
    with torch.inference_mode():
        sync()
        t0 = time.perf_counter()
        feats = model.encode_pose(pose)  # once per generation, for the B=1 video
        sync()
        result["pose_encoder_once_s"] = time.perf_counter() - t0
        variants = {"eager": model}
        if compile_mode != "off":
            variants["compiled"] = _compiled(model, compile_mode, cache_dir, result, backend)

        def step(unet):
            return unet(latents, t, text, pose_features=feats).sample

        timings = alternate_steps(variants, step, repeats, sync)
    compiled = variants.get("compiled")
    if compiled is not None:
        if compiled.failure:
            raise RuntimeError(f"compilation failed: {compiled.failure}")
        result["compile_first_call_s"] = compiled.first_call_s  # compile + one step
    _add_timings(result, timings, flops, peak)
    if device == "cuda":
        result["peak_gb"] = torch.cuda.max_memory_allocated() / 1e9
        result["gpu"] = torch.cuda.get_device_name()
    else:
        result["peak_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9  # KiB on Linux
    if note:
        result["note"] = note
    return result


def _add_timings(result: dict, timings: dict, flops: float, peak: float) -> None:
    """Each variant's median step (wall and CPU), its steps and fraction of the matmul peak, into ``result``."""
    for variant, (times, cpu_times) in timings.items():
        prefix = "" if variant == "eager" else "compiled_"
        result[prefix + "seconds_per_step"] = statistics.median(times)
        result[prefix + "all_steps"] = times
        # CPU seconds (all threads): less sensitive than wall time to other processes on a shared machine.
        result[prefix + "cpu_seconds_per_step"] = statistics.median(cpu_times)
        result[prefix + "fraction_of_peak"] = flops / statistics.median(times) / (peak * 1e9)
    if "compiled" in timings:
        result["compiled_vs_eager"] = result["compiled_seconds_per_step"] / result["seconds_per_step"]


def step_inputs(cfg: dict, device: str, dtype, text_dim: int = 768):
    """Seeded latents (guidance batch 2), timestep, text embeddings and pose frames of one config."""
    import torch

    gen = torch.Generator(device=device).manual_seed(1)
    h = cfg["size"] // 8
    frames, batch = cfg["frames"], 2
    latents = torch.randn(batch, 4, frames, h, h, generator=gen, device=device, dtype=dtype)
    text = torch.randn(batch, 77, text_dim, generator=gen, device=device, dtype=dtype)
    pose = torch.rand(1, frames, 3, cfg["size"], cfg["size"], generator=gen, device=device, dtype=dtype)
    return latents, torch.tensor(500, device=device), text, pose


def _compiled(model, mode: str, cache_dir: str | None, result: dict, backend: str = "inductor"):
    """The UNet as the app compiles it (text2video.diffusion.compilation), in a fresh cache unless one is given:
    the first call's time is then a cold compile."""
    import tempfile

    from text2video.diffusion.compilation import CompiledUNet

    folder = Path(cache_dir or tempfile.mkdtemp(prefix="unet-step-compile-"))
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(folder.resolve())
    result["compile_cache"] = "given" if cache_dir else "cold"
    return CompiledUNet(model, mode, backend=backend)


def alternate_steps(variants: dict, step, repeats: int, sync) -> dict:
    """(wall, CPU) seconds of ``repeats`` steps per variant, taken in turn (eager, compiled, eager, ...) so that
    load from other processes hits both alike, after one untimed warm-up each (the compiled one's is its compile)."""
    import torch

    timings = {name: ([], []) for name in variants}
    for i in range(repeats + 1):
        for name, unet in variants.items():
            sync()
            t0, c0 = time.perf_counter(), time.process_time()
            out = step(unet)
            sync()
            if i:  # the first is the warm-up
                timings[name][0].append(time.perf_counter() - t0)
                timings[name][1].append(time.process_time() - c0)
            assert torch.isfinite(out).all(), f"non-finite output ({name})"
    return timings


def count_flops(cfg: dict, unet_config: dict = SD14_UNET_CONFIG) -> float:
    """FLOPs of one step (matmuls, convolutions, attention; torch's FlopCounterMode) on the meta device: free."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from text2video.diffusion.unet3d import UNet3DConditionModel

    with torch.device("meta"), torch.no_grad():
        model = UNet3DConditionModel.from_config(unet_config)
        latents, t, text, pose = _inputs_meta(cfg, unet_config["cross_attention_dim"])
        feats = model.encode_pose(pose)
        with FlopCounterMode(display=False) as counter:
            model(latents, t, text, pose_features=feats)
    return float(counter.get_total_flops())


def _inputs_meta(cfg: dict, text_dim: int = 768):
    import torch

    h, frames = cfg["size"] // 8, cfg["frames"]
    return (torch.empty(2, 4, frames, h, h), torch.tensor(500), torch.empty(2, 77, text_dim),
            torch.empty(1, frames, 3, cfg["size"], cfg["size"]))


def matmul_peak_gflops(device: str, dtype, n: int = 4096, repeats: int = 5) -> float:
    """This machine's matmul rate in ``dtype`` (best of ``repeats`` n x n products): the floor a step can reach."""
    import torch

    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    best = float("inf")
    for _ in range(repeats + 1):
        sync()
        t0 = time.perf_counter()
        torch.matmul(a, b)
        sync()
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def _cpu_has_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def config_names(parser: argparse.ArgumentParser, text: str, configs) -> list[str]:
    """The comma-separated ``--configs`` names, each one of ``configs`` (else the parser's usage error)."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in configs]
    if unknown:
        parser.error(f"unknown config(s) {unknown}; choose from {list(configs)}")
    return names


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated: " + ", ".join(CONFIGS))
    parser.add_argument("--repeats", type=int, default=3, help="timed steps after the warm-up (median reported)")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--compile", default="off", metavar="MODE",
                        help="also time the UNet compiled as --compile MODE does (default | max-autotune ...), in "
                        "turn with eager in the same process; the first compiled call (compile time) is reported")
    parser.add_argument("--compile-cache", metavar="DIR", help="inductor cache to use (default: a fresh one, so "
                        "the compile time is a cold start); give the same DIR twice to see a warm start")
    parser.add_argument("--peak-gflops", type=float, help="the machine's matmul peak in the config's dtype "
                        "(default: measured with 4096^3 matmuls in each config)")
    parser.add_argument("--reference", metavar="FILE", help="JSON lines of the reference implementation's step "
                        "timed on this machine (dtype, seconds_per_step, peak_gb): each config is also shown as a "
                        "ratio to the reference in its dtype. Take both in one run: these machines are noisy")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:  # one config, in this fresh process
        print(json.dumps(run_config(args.child, CONFIGS[args.child], args.repeats, args.compile, args.peak_gflops,
                                    args.compile_cache)))
        return 0
    names = config_names(parser, args.configs, CONFIGS)
    references = read_references(args.reference)
    results = []
    for name in names:
        cmd = [sys.executable, __file__, "--child", name, "--repeats", str(args.repeats), "--compile", args.compile]
        cmd += ["--peak-gflops", str(args.peak_gflops)] if args.peak_gflops else []
        cmd += ["--compile-cache", args.compile_cache] if args.compile_cache else []
        proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
        if proc.returncode != 0:
            results.append({"config": name, "error": proc.stderr.strip().splitlines()[-1:] or ["failed"]})
        else:
            results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        _print(results[-1], references)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


def _steps(r: dict, prefix: str) -> str:
    return (f"{r[prefix + 'seconds_per_step']:.2f} s/step = {100 * r[prefix + 'fraction_of_peak']:.0f} % of peak "
            f"(steps {', '.join(f'{t:.2f}' for t in r[prefix + 'all_steps'])}; "
            f"CPU time {r[prefix + 'cpu_seconds_per_step']:.2f} s)")


def read_references(path: str | None) -> dict:
    """dtype -> the reference implementation's step measured on this machine: JSON lines of objects with
    ``dtype``, ``seconds_per_step`` and ``peak_gb``, as a separate script that times the reference prints."""
    if not path:
        return {}
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    return {row["dtype"]: row for row in rows}


def _print(r: dict, references: dict) -> None:
    name = r["config"]
    if "skipped" in r or "error" in r:
        print(f"{name:14s} {r.get('skipped') or r.get('error')}")
        return
    line = (f"{name:14s} {r['size']}x{r['size']} x{r['frames']} frames, batch {r['batch']}, "
            f"{r['tflop_per_step']:.2f} TFLOP/step: eager {_steps(r, '')}")
    if "compiled_seconds_per_step" in r:
        line += (f" | compiled ({r['compile']}, {r['compile_cache']} cache: first call {r['compile_first_call_s']:.1f} s)"
                 f" {_steps(r, 'compiled_')}, x{r['compiled_vs_eager']:.2f} eager")
    line += (f" | {r['dtype']} matmul peak {r['peak_gflops']:.0f} GFLOP/s"
             f"{' (measured)' if r['peak_measured'] else ''} | peak {r['peak_gb']:.2f} GB, "
             f"pose encoder once {r['pose_encoder_once_s']:.2f} s, {r['threads']} threads")
    ref = references.get(r["dtype"])
    if ref:
        line += (f" | vs reference {r['dtype']} {ref['seconds_per_step']:.2f} s / {ref['peak_gb']:.2f} GB: time "
                 f"x{r['seconds_per_step'] / ref['seconds_per_step']:.2f}")
        if "compiled_seconds_per_step" in r:
            line += f" (compiled x{r['compiled_seconds_per_step'] / ref['seconds_per_step']:.2f})"
        line += f", memory x{r['peak_gb'] / ref['peak_gb']:.2f}"
    if r.get("note"):
        line += f" ({r['note']})"
    print(line, flush=True)


if __name__ == "__main__":
    sys.exit(main())
