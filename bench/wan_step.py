"""Benchmark: one denoising step of the Wan2.1-VACE-1.3B transformer (real config, seeded random weights).

    python bench/wan_step.py                          # cpu-bf16 and (with CUDA) cuda-bf16-480p
    python bench/wan_step.py --count-only             # params and FLOPs per step, 1.3B/14B at 480p/720p (free)
    python bench/wan_step.py --configs cpu-bf16 --repeats 3
    python bench/wan_step.py --configs cpu-bf16 --layers 10     # fewer blocks when RAM is short (printed)
    python bench/wan_step.py --configs cuda-bf16-480p --json out.json   # on a GPU: the real workload

A step is what ``WanVACEPipeline`` runs per denoising step: the conditional and the unconditional forward of
``WanVACETransformer3DModel`` (guidance), with 512 text tokens and the VACE control latents (96 channels).
Configs: ``cpu-bf16`` = 5 frames at 128x128 (2 latent frames x 8 x 8 = 128 tokens: NOT the real workload, which is
32,760 tokens), ``cuda-bf16-480p`` = the real 81 frames at 480x832 (skipped without CUDA); both run by default.
``cpu-bf16-256`` = 9 frames at 256x256 (768 tokens) on request. Memory figures are GiB.

The transformer is built from the Wan2.1-VACE-1.3B config (``bench/gpu_check.py``'s ``WAN_VACE_1_3B``: 2.154 B
parameters with the 15 VACE blocks) on the meta device, cast there as ``from_pretrained(torch_dtype=bf16)`` casts
(its fp32-kept modules stay fp32), then allocated once and filled with seeded random values
(``unet_step.fill_random``); the rotary tables, buffers that ``to_empty`` leaves blank, are rebuilt. ``--layers N``
keeps the first N main blocks (VACE blocks at every 2nd of them): all 30 by default, but on a CPU never more than
the available RAM holds with a margin (4.4 GB of bf16 weights for all 30); the result says how many and why. The
whole default run takes about a minute on a quiet 2-core CPU (several when other work loads it).

Printed per config: seconds per step (median of ``--repeats`` after one warm-up, ``unet_step.alternate_steps``),
peak memory (CPU: the process's peak RSS, and the step's own rise above the weights; CUDA:
``max_memory_allocated``), FLOPs per step counted by torch's FlopCounterMode on the meta device (free), and the
fraction of this machine's measured matmul peak in bf16 (``unet_step.matmul_peak_gflops``). Each config runs in its
own subprocess so that its peak is its own. Not a test: timings on a shared machine are noisy.
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

from gpu_check import WAN_VACE_1_3B, _cast_as_loaded, _wan_inputs, _wan_step  # noqa: E402 - bench helpers
from long_video import _reset_peak, _status_mb  # noqa: E402
from unet_step import (  # noqa: E402
    _cpu_has_bf16, alternate_steps, config_names, fill_random, matmul_peak_gflops)
from unet_step import count_flops as unet_step_flops  # noqa: E402

TEXT_TOKENS = 512  # UMT5's max_sequence_length, as the pipeline pads every prompt
CONFIGS = {
    "cpu-bf16": dict(device="cpu", dtype="bfloat16", frames=5, height=128, width=128, text_tokens=TEXT_TOKENS),
    "cpu-bf16-256": dict(device="cpu", dtype="bfloat16", frames=9, height=256, width=256, text_tokens=TEXT_TOKENS),
    "cuda-bf16-480p": dict(device="cuda", dtype="bfloat16", frames=81, height=480, width=832, text_tokens=TEXT_TOKENS),
}
DEFAULT_CONFIGS = "cpu-bf16,cuda-bf16-480p"
# Wan2.1-VACE-14B as diffusers' scripts/convert_wan_to_diffusers.py configures it ("Wan-VACE-14B"): FLOPs only.
WAN_VACE_14B = dict(WAN_VACE_1_3B, num_attention_heads=40, ffn_dim=13824, num_layers=40,
                    vace_layers=list(range(0, 40, 5)))
COUNT_SIZES = {"480p": (832, 480), "720p": (1280, 720)}
RAM_MARGIN_GB = 3.0  # activations, the matmul-peak probe and the interpreter beside the weights


def transformer_config(layers: int | None) -> dict:
    """The 1.3B config, cut to the first ``layers`` main blocks (VACE blocks at every 2nd of them) when given."""
    if layers is None or layers >= WAN_VACE_1_3B["num_layers"]:
        return dict(WAN_VACE_1_3B)
    if layers < 1:
        raise ValueError(f"--layers {layers}: give at least 1 (the model has {WAN_VACE_1_3B['num_layers']})")
    return dict(WAN_VACE_1_3B, num_layers=layers, vace_layers=list(range(0, layers, 2)))


def cpu_layers(dtype_bytes: int, wanted: int | None) -> tuple[int, str]:
    """Main blocks to build on a CPU: ``wanted`` (default all 30), fewer when their weights and a margin would not
    fit in the available RAM."""
    available_gb = _meminfo_gb("MemAvailable")
    full = WAN_VACE_1_3B["num_layers"]
    per_layer_gb = 2.154e9 * dtype_bytes / 2**30 / full  # blocks hold almost all weights; VACE ones ride along
    fits = max(1, min(full, int((available_gb - RAM_MARGIN_GB) / per_layer_gb)))
    layers = min(wanted or full, fits)
    why = "asked for" if wanted else "the whole model"
    if layers < (wanted or full):
        why = f"only {fits} fit in the RAM available"
    return layers, f"{layers} of {full} main blocks: {why}; {available_gb:.1f} GB RAM available at start"


def _meminfo_gb(field: str) -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 2**20  # kB -> GiB
    raise RuntimeError(f"/proc/meminfo has no {field}")


def build_transformer(config: dict, device: str, dtype):
    """The transformer of ``config`` in ``dtype`` (fp32-kept modules in fp32) on ``device``: one allocation."""
    import torch
    from diffusers import WanVACETransformer3DModel

    with torch.device("meta"):
        model = WanVACETransformer3DModel(**config).eval()
    _cast_as_loaded(model, dtype)  # on meta: free
    model.to_empty(device=device)
    fill_random(model, device)
    with torch.device(device):  # to_empty leaves the non-persistent rotary tables blank: build them again
        model.rope = type(model.rope)(config["attention_head_dim"], config["patch_size"], config["rope_max_seq_len"])
    return model


def count_flops(cfg: dict, config: dict, dtype) -> float:
    """FLOPs of one guidance step (two forwards) on the meta device."""
    import torch
    from diffusers import WanVACETransformer3DModel
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        model = WanVACETransformer3DModel(**config).eval()
    _cast_as_loaded(model, dtype)
    inputs = {k: v.to("meta") for k, v in _wan_inputs(dict(cfg, config=config), "cpu", dtype).items()}
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        _wan_step(model, inputs)(model)
    return float(counter.get_total_flops())


def count_real_sizes() -> list[dict]:
    """Parameters and FLOPs of one guidance step at 81 frames, 480p and 720p, 1.3B and 14B: on meta, no weights."""
    import torch
    from diffusers import WanVACETransformer3DModel

    rows = []
    for model, config in (("1.3B", WAN_VACE_1_3B), ("14B", WAN_VACE_14B)):
        with torch.device("meta"):
            params = sum(p.numel() for p in WanVACETransformer3DModel(**config).parameters())
        for size, (width, height) in COUNT_SIZES.items():
            cfg = dict(CONFIGS["cuda-bf16-480p"], width=width, height=height)
            rows.append({"model": model, "size": size, "params": params,
                         "tflop_per_step": count_flops(cfg, config, torch.bfloat16) / 1e12})
    return rows


def run_config(name: str, cfg: dict, repeats: int, layers: int | None) -> dict:
    import torch

    device, dtype = cfg["device"], getattr(torch, cfg["dtype"])
    if device == "cuda" and not torch.cuda.is_available():
        return {"config": name, "skipped": "no CUDA device"}
    result = {"config": name, **cfg, "threads": torch.get_num_threads()}
    if device == "cpu":
        layers, result["layers_reason"] = cpu_layers(dtype.itemsize, layers)
    config = transformer_config(layers)
    result.update(num_layers=config["num_layers"], vace_layers=len(config["vace_layers"]),
                  full_size=config["num_layers"] == WAN_VACE_1_3B["num_layers"])
    if device == "cpu" and dtype == torch.bfloat16 and not _cpu_has_bf16():
        result["note"] = "CPU lacks avx512_bf16/amx: bf16 is emulated and slow"
    flops = count_flops(cfg, config, dtype)
    peak = matmul_peak_gflops(device, dtype)
    t0 = time.perf_counter()
    model = build_transformer(config, device, dtype)
    result.update(build_s=time.perf_counter() - t0, params=sum(p.numel() for p in model.parameters()),
                  tflop_per_step=flops / 1e12, peak_gflops=peak)
    inputs = _wan_inputs(dict(cfg, config=config), device, dtype)
    result["tokens"] = inputs["hidden_states"][0, 0].numel() // 4  # latent frames x (h/16) x (w/16)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    else:
        result["weights_rss_gb"] = _status_mb("VmRSS") / 1024
        result["peak_reset"] = _reset_peak()
    with torch.inference_mode():
        times, cpu_times = alternate_steps({"eager": model}, _wan_step(model, inputs), repeats, sync)["eager"]
    result.update(seconds_per_step=statistics.median(times), all_steps=times,
                  cpu_seconds_per_step=statistics.median(cpu_times))
    result["fraction_of_peak"] = flops / result["seconds_per_step"] / (peak * 1e9)
    if device == "cuda":
        result.update(peak_gb=torch.cuda.max_memory_allocated() / 2**30, gpu=torch.cuda.get_device_name())
    else:
        result["peak_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
        result["step_peak_rss_gb"] = _status_mb("VmHWM") / 1024  # since the reset: weights + the step's rise
    return result


def _print(r: dict) -> None:
    if "skipped" in r or "error" in r:
        print(f"{r['config']:15s} {r.get('skipped') or r.get('error')}", flush=True)
        return
    size = "full size" if r["full_size"] else "CUT (not the full model)"
    line = (f"{r['config']:15s} {r['frames']} frames {r['height']}x{r['width']} = {r['tokens']} tokens, "
            f"{r['num_layers']} blocks + {r['vace_layers']} VACE ({size}, {r['params'] / 1e9:.3f} B params), "
            f"{r['dtype']}: {r['seconds_per_step']:.2f} s/step (cond + uncond; steps "
            f"{', '.join(f'{t:.2f}' for t in r['all_steps'])}; CPU time {r['cpu_seconds_per_step']:.2f} s), "
            f"{r['tflop_per_step']:.2f} TFLOP/step = {100 * r['fraction_of_peak']:.0f} % of the measured "
            f"{r['dtype']} matmul peak {r['peak_gflops']:.0f} GFLOP/s | peak {r['peak_gb']:.2f} GB")
    if "weights_rss_gb" in r:
        line += f" (weights {r['weights_rss_gb']:.2f} GB RSS, during the steps {r['step_peak_rss_gb']:.2f} GB)"
    line += f" | build {r['build_s']:.1f} s, {r['threads']} threads"
    for key in ("layers_reason", "note", "gpu"):
        if r.get(key):
            line += f" | {r[key]}"
    print(line, flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    parser.add_argument("--count-only", action="store_true", help="only count parameters and FLOPs per step of "
                        "1.3B and 14B at 81 frames, 480p and 720p (meta device: seconds, no weights)")
    parser.add_argument("--configs", default=DEFAULT_CONFIGS, help="comma-separated: " + ", ".join(CONFIGS))
    parser.add_argument("--repeats", type=int, default=2, help="timed steps after the warm-up (median reported)")
    parser.add_argument("--layers", type=int, help="main blocks to keep (default: all 30; on a CPU never more "
                        "than the available RAM holds)")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.layers is not None and args.layers < 1:
        parser.error(f"--layers {args.layers}: give at least 1 (the model has {WAN_VACE_1_3B['num_layers']})")
    if args.count_only:
        for r in count_real_sizes():
            print(f"{r['model']:5s} {r['size']}: {r['params'] / 1e9:.3f} B params, {r['tflop_per_step']:.0f} TFLOP "
                  "per guidance step (cond + uncond) at 81 frames", flush=True)
        fyp = unet_step_flops(dict(frames=24, size=512)) / 1e12
        print(f"for scale, Follow-Your-Pose's full-size UNet3D: {fyp:.0f} TFLOP per guidance step at 24 frames 512x512 "
              "(unet_step.count_flops)", flush=True)
        return 0
    if args.child:  # one config, in this fresh process
        print(json.dumps(run_config(args.child, CONFIGS[args.child], args.repeats, args.layers)))
        return 0
    results = []
    for name in config_names(parser, args.configs, CONFIGS):
        cmd = [sys.executable, __file__, "--child", name, "--repeats", str(args.repeats)]
        cmd += ["--layers", str(args.layers)] if args.layers else []
        proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
        if proc.returncode != 0:
            results.append({"config": name, "error": proc.stderr.strip().splitlines()[-1:] or ["failed"]})
        else:
            results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        _print(results[-1])
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
