"""Benchmark: Wan VACE's speed and memory levers on a tiny random WanVACEPipeline (CPU), ratios from one run.

    python bench/wan_extras.py                        # all three parts
    python bench/wan_extras.py --parts cache --steps 20 --rounds 3
    python bench/wan_extras.py --json out.json

Parts:
- ``cache``: First Block Cache off vs thresholds 0.05 / 0.1 / 0.2, runs alternated ``--rounds`` times: transformer
  calls, full passes, share of block computations skipped (counted by hooks,
  ``families/wan_vace/cache.py``), median time and time ratio to the uncached run. Random weights: the share
  skipped depends on how much the first block's residual changes between steps, which real weights decide.
- ``preview``: the live preview at every step (Wan 2.1 latent->RGB projection, x0 from the UniPC scheduler, GIF)
  vs none: the preview's own seconds per step as a fraction of the step time.
- ``windows``: peak RSS of a long video in windows (``families/wan_vace/windows.py``, pipeline call per window,
  frames dropped as the encoder would) for 1 and 6 windows, each in a fresh subprocess; the ratio shows whether
  memory stays flat in the number of windows.
- ``runner-cache``: the product's ``WanVaceRunner`` on the family's demo weights (``--models demo``), request
  parameter ``cache_threshold`` 0 (off) vs 0.05 / 0.1 / 0.2 / 0.5, runs alternated: the share of block
  computations skipped (as the job's warning says it) and the median denoising step time, with its ratio to off.
The first three parts use the tiny pipeline of ``tests/families/wan_vace/tiny_wan.py`` (more layers than the demo).
Not a test: timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "backend"), str(ROOT)]

from long_video import _reset_peak, _status_mb  # noqa: E402 - the bench folder's own helpers

SIZE, FRAMES, LAYERS = 64, 9, 8


def _setup(layers: int = LAYERS):
    import torch
    from PIL import Image

    from tests.families.wan_vace.tiny_wan import prompt_embeds, tiny_pipeline

    torch.set_num_threads(1)
    pipe, (embeds, negative) = tiny_pipeline(num_layers=layers), prompt_embeds()
    common = dict(prompt_embeds=embeds, negative_prompt_embeds=negative, height=SIZE, width=SIZE)
    blank = dict(video=[Image.new("RGB", (SIZE, SIZE))] * FRAMES, mask=[Image.new("L", (SIZE, SIZE), 255)] * FRAMES,
                 num_frames=FRAMES, output_type="latent")
    return pipe, common, blank


def run_cache(steps: int, rounds: int) -> dict:
    import torch

    from text2video.families.wan_vace.cache import measure_cache

    pipe, common, blank = _setup()

    def run():
        pipe(**common, **blank, num_inference_steps=steps, guidance_scale=5.0,
             generator=torch.Generator().manual_seed(0))

    run()  # warm-up
    thresholds = (None, 0.05, 0.1, 0.2)
    found = {t: [] for t in thresholds}
    for _ in range(rounds):  # alternated, so a busy neighbour slows every setting alike
        for t in thresholds:
            found[t].append(measure_cache(run, pipe.transformer, t))
    base = statistics.median(m.seconds for m in found[None])
    rows = []
    for t, runs in found.items():
        seconds = statistics.median(m.seconds for m in runs)
        rows.append({"threshold": t, "calls": runs[0].calls, "full_passes": runs[0].full_passes,
                     "skipped_share": round(runs[0].skipped_share, 3), "seconds": round(seconds, 3),
                     "time_ratio": round(seconds / base, 3)})
    return {"part": "cache", "steps": steps, "rounds": rounds, "layers": LAYERS, "rows": rows}


def run_runner_cache(steps: int, rounds: int) -> dict:
    """The product's runner on demo weights, cache_threshold off vs on (see the docstring)."""
    import numpy as np
    import torch

    from text2video.families.base import RunInputs
    from text2video.families.wan_vace import FAMILY
    from text2video.families.wan_vace.cache import BlockCounter
    from text2video.families.wan_vace.demo import build_demo
    from text2video.families.wan_vace.runner import WanVaceRunner
    from text2video.models.demo import ensure_demo_part, resolve_models_dir

    torch.set_num_threads(1)
    root, variant = resolve_models_dir("demo"), FAMILY.variants[0]
    ensure_demo_part(root, variant.folder, build_demo)
    runner = WanVaceRunner(root, variant, device="cpu", dtype=torch.float32)
    pose = (np.random.default_rng(0).random((FRAMES, SIZE, SIZE, 3)) > 0.9).astype(np.uint8) * 255

    def run(threshold: float) -> tuple[float, float]:
        inputs = RunInputs(prompt="a robot dancing", negative_prompt=None, original_prompt="a robot dancing",
                           language="en", pose=pose, fps=16.0, reference_image=None, frames=FRAMES, width=SIZE,
                           height=SIZE, steps=steps, guidance_scale=5.0, seed=0,
                           params={"cache_threshold": threshold})
        stamps: list[float] = []
        with BlockCounter(runner.pipe.transformer) as counts:
            list(runner.generate(inputs, on_step=lambda s, t: stamps.append(time.perf_counter()), warnings=[]))
        return counts.skipped_share, statistics.median(b - a for a, b in zip(stamps[1:], stamps[2:]))

    run(0.0)  # warm-up
    thresholds = (0.0, 0.05, 0.1, 0.2, 0.5)
    found = {t: [] for t in thresholds}
    for _ in range(rounds):  # alternated, so a busy neighbour slows every setting alike
        for t in thresholds:
            found[t].append(run(t))
    base = statistics.median(step for _, step in found[0.0])
    rows = [{"threshold": t, "skipped_share": round(runs[0][0], 3),
             "step_s": round(statistics.median(step for _, step in runs), 4),
             "time_ratio": round(statistics.median(step for _, step in runs) / base, 3)} for t, runs in found.items()]
    return {"part": "runner-cache", "steps": steps, "rounds": rounds, "frames": FRAMES, "size": SIZE,
            "blocks": len(runner.pipe.transformer.blocks), "rows": rows}


def run_preview(steps: int, rounds: int) -> dict:
    import torch

    from text2video.families.wan_vace.preview import WanLivePreview

    pipe, common, blank = _setup()

    def denoise(**hook) -> list[float]:
        stamps = [time.perf_counter()]

        def on_step(p, i, t, tensors):
            out = hook["callback_on_step_end"](p, i, t, tensors) if hook else {}
            stamps.append(time.perf_counter())
            return out

        pipe(**common, **blank, num_inference_steps=steps, guidance_scale=5.0,
             generator=torch.Generator().manual_seed(0), callback_on_step_end=on_step)
        return [b - a for a, b in zip(stamps, stamps[1:])][1:-1]  # not the first (warm-up) or last (no preview)

    denoise()
    plain, with_preview = [], []
    with tempfile.TemporaryDirectory() as folder:
        live = WanLivePreview(Path(folder) / "preview.gif", 16.0, reference_frames=0, every_steps=1,
                              min_interval_s=0.0, max_frames=96)
        for _ in range(rounds):
            plain += denoise()
            with_preview += denoise(callback_on_step_end=live.on_step_end)
    step, preview = statistics.median(plain), live.live.seconds / live.live.written
    return {"part": "preview", "steps": steps, "step_s": round(step, 4), "preview_s": round(preview, 4),
            "overhead_every_step": round(preview / step, 3), "overhead_every_5_steps": round(preview / step / 5, 3)}


def run_windows_one(frames: int, window: int, overlap: int) -> dict:
    """In this process: one long video in windows; peak RSS over the job (reset after the model is built)."""
    import numpy as np
    from PIL import Image

    from text2video.families.wan_vace.windows import generate_windows, pipeline_window, plan_windows

    pipe, common, _ = _setup(2)
    poses = np.zeros((frames, SIZE, SIZE, 3), dtype=np.uint8)
    run = pipeline_window(pipe, seed=0, reference_image=Image.new("RGB", (SIZE, SIZE), (255, 255, 255)),
                          num_inference_steps=2, guidance_scale=1.0, **common)
    reset = _reset_peak()
    base = _status_mb("VmRSS")
    started, made = time.perf_counter(), 0
    windows = plan_windows(frames, window, overlap)
    for chunk in generate_windows(poses, windows, run):
        made += len(chunk)  # written and dropped, as the encoder does
    return {"frames": frames, "windows": len(windows), "made": made, "base_mb": round(base, 1),
            "job_peak_mb": round(_status_mb("VmHWM"), 1), "peak_reset": reset,
            "seconds": round(time.perf_counter() - started, 2)}


def run_windows(window: int = 21, overlap: int = 5) -> dict:
    rows = []
    for frames in (window, window + 5 * (window - overlap)):  # 1 window, 6 windows
        cmd = [sys.executable, __file__, "--windows-one", f"{frames},{window},{overlap}"]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    ratio = (rows[1]["job_peak_mb"] - rows[1]["base_mb"]) / max(rows[0]["job_peak_mb"] - rows[0]["base_mb"], 1e-9)
    return {"part": "windows", "window": window, "overlap": overlap, "rows": rows,
            "peak_ratio": round(rows[1]["job_peak_mb"] / rows[0]["job_peak_mb"], 3),
            "job_growth_ratio": round(ratio, 3)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="cache,preview,windows,runner-cache")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--windows-one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.windows_one:
        print(json.dumps(run_windows_one(*(int(x) for x in args.windows_one.split(",")))))
        return 0
    runs = {"cache": lambda: run_cache(args.steps, args.rounds), "preview": lambda: run_preview(args.steps, args.rounds),
            "windows": run_windows, "runner-cache": lambda: run_runner_cache(args.steps, args.rounds)}
    results = []
    for part in args.parts.split(","):
        results.append(runs[part]())
        print(json.dumps(results[-1]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
