"""GPU check: the figures docs/gpu.md can only estimate, measured in one prepared run on one CUDA GPU (8 min at most).

    python bench/gpu_check.py --out gpu_check.json          # on the GPU machine, from the repository root
    python bench/gpu_check.py --dry-run --out /tmp/dry.json  # CPU, tiny sizes, well under a minute: every code path
    python bench/gpu_check.py --parts fyp-compiled --limit fyp-compiled=450 --out compiled.json   # one part again

Writes the JSON (``--out``; ``<out>.log`` beside it holds every part's output) and prints a table. Parts, each run as
its own subprocess with its own time limit (``--limit PART=S``) inside the whole budget (``--budget``, 480 s): a part
that runs over is killed with its process group and recorded as skipped with the reason, and what it measured
before that is kept; a part with under 15 s of the budget left is not started. In order:

- ``env``: GPU, driver, CUDA capability and memory, python / torch / CUDA / cuDNN / Triton / diffusers versions,
  and the torch that requirements.txt pins.
- ``pytest-gpu``: ``pytest -m gpu`` (the suite's GPU tests) with pass/fail/skip/error counts from its JUnit XML,
  ``--continue-on-collection-errors`` (a missing package fails only its own modules), and the whole-pipeline peak per
  memory preset that tests/models/test_presets_gpu.py writes (test-artifacts/preset_measurements.json).
- ``fyp-eager``: the Follow-Your-Pose UNet3D at full size (SD-1.4, ~998 M parameters, random weights; built by
  bench/unet_step.py), fp16, one denoising step of the guidance batch (2) at 8 and 24 frames, 512x512: seconds,
  TFLOP and fraction of the measured fp16 matmul peak; then per memory preset (high / medium / low: the UNet's
  attention slicing and feed-forward chunking as ``apply_preset`` switches them) the step time and the UNet step's
  peak VRAM, next to the preset's whole-pipeline estimate; seconds per 50-step video.
- ``preview``: the live preview's cost per step at 24 frames (bench/preview.py: linear map and TAESD-shaped decoder).
- ``wan-vace``: Wan2.1 VACE 1.3B at full size with random weights, bf16, one step (conditional + unconditional
  forward, as WanVACEPipeline runs guidance) at 81 frames 480x832, without and with First Block Cache
  (threshold 0.05): no-cache step, the first cached step (a miss) and a cached step that reuses (same inputs, so
  every later step is a hit: the bound, not what a real video gets). No weights are on the device: this part builds
  diffusers' own ``WanVACETransformer3DModel`` (the class the product's Wan runner loads) with the Wan2.1-VACE-1.3B config
  of diffusers' scripts/convert_wan_to_diffusers.py (2.15 B parameters with its 15 VACE blocks, which First Block
  Cache does not skip: it hooks only the 30 main blocks).
- ``fyp-compiled``: the same UNet through ``--compile max-autotune`` (text2video.diffusion.compilation), 24 frames
  first, then 8: the first call (cold cache: compile + one step), the steady compiled step and eager in turn; the
  second shape compiles in the same process (in-memory caches warm). Last, because a cold max-autotune compile may
  not fit in what is left: then it is recorded as skipped; run it alone as in the third example above.

Needs, on the GPU machine: the project's own install (README "Set-up": the CUDA build of the pinned torch, then
``pip install -r requirements.txt``). On this workplace's lent H200 the image's python3 already has a CUDA torch
(2.11.0+cu130 when last seen; the pinned 2.13.0's CUDA wheel is far over the 64 MiB a device call carries; ``env``
records which torch ran), Triton, transformers, accelerate, safetensors, huggingface-hub, pytest and pytest-timeout,
but not diffusers nor the service packages. Carry those as wheels (about 52 MiB), made once on the dev machine:

    echo /.whl/ >> .git/info/exclude
    python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \\
      --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \\
      --platform manylinux2014_x86_64 -d .whl diffusers==0.42.1 importlib_metadata av==18.1.0 flask==3.1.3 \\
      flask-cors==6.0.5 itsdangerous==2.2.0 waitress==3.0.2 celery==5.7.0 kombu==5.7.0 amqp vine billiard \\
      click-didyoumean click-plugins click-repl tzlocal prompt_toolkit wcwidth blinker sqlalchemy==2.1.9 \\
      redis==8.1.0 psycopg==3.3.9 psycopg-binary==3.3.9 pyngrok==9.1.0

and run, with ``.whl`` carried (timeout 600 s: the check ends by 480 s plus start-up):

    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \\
      .whl/*.whl && export PYTHONPATH=/tmp/site || exit; \\
    PYTHONUNBUFFERED=1 python3 bench/gpu_check.py --out $OUT/gpu_check.json

No downloads and no real weights: every model has the real shapes and seeded random values (time and memory depend
on shapes). Not a test; ``tests/test_bench_gpu_check.py`` runs the dry run.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))

from unet_step import (  # noqa: E402 - the bench folder's own helpers
    SD14_UNET_CONFIG, alternate_steps, build_model, run_config, step_inputs)

MARK = "@gpu_check "  # a child's result lines start with this; anything else it prints goes to the log
BUDGET_S = 480.0  # the whole check: 8 minutes
MIN_PART_S = 15.0  # a part is not started with less than this left of the budget
# Each part's own limit (s), in the order they run: the most wanted first, the cold compile last.
PART_LIMITS_S = {"env": 30, "pytest-gpu": 150, "fyp-eager": 90, "preview": 60, "wan-vace": 100, "fyp-compiled": 300}
DRY_PEAK_GFLOPS = 100.0  # a nominal CPU matmul rate for the dry run's meaningless "fraction of peak"
DRY_LIMIT_S = 90  # each part of a dry run (CPU, tiny sizes: seconds when the machine is quiet)
LOG_TAIL = 1_000_000  # characters of each part's stdout and stderr kept in the log
STEPS_PER_VIDEO = 50
REPEATS = 3  # timed steps after one warm-up (1 in a dry run)
FBC_THRESHOLD = 0.05  # diffusers' FirstBlockCacheConfig default; reported 1.6x on Wan T2V (diffusers PR #11180)

# Follow-Your-Pose: fp16 at 512x512 on CUDA; the dry run's UNet3D has one attention and one plain block.
FYP = dict(device="cuda", dtype="float16", frames=(8, 24), size=512, unet=SD14_UNET_CONFIG)
FYP_DRY = dict(device="cpu", dtype="float32", frames=(2, 3), size=64, unet=dict(
    SD14_UNET_CONFIG, attention_head_dim=2, block_out_channels=[32, 32], cross_attention_dim=32, layers_per_block=1,
    down_block_types=["CrossAttnDownBlock2D", "DownBlock2D"], up_block_types=["UpBlock2D", "CrossAttnUpBlock2D"]))

# Wan2.1-VACE-1.3B as diffusers' scripts/convert_wan_to_diffusers.py ("Wan-VACE-1.3B") configures it.
WAN_VACE_1_3B = dict(
    patch_size=(1, 2, 2), num_attention_heads=12, attention_head_dim=128, in_channels=16, out_channels=16,
    text_dim=4096, freq_dim=256, ffn_dim=8960, num_layers=30, cross_attn_norm=True, qk_norm="rms_norm_across_heads",
    eps=1e-6, image_dim=None, added_kv_proj_dim=None, rope_max_seq_len=1024,
    vace_layers=list(range(0, 30, 2)), vace_in_channels=96)
WAN = dict(device="cuda", dtype="bfloat16", frames=81, height=480, width=832, text_tokens=512, config=WAN_VACE_1_3B)
WAN_DRY = dict(device="cpu", dtype="float32", frames=5, height=32, width=48, text_tokens=8, config=dict(
    WAN_VACE_1_3B, num_attention_heads=2, attention_head_dim=16, ffn_dim=64, num_layers=4, vace_layers=[0, 2],
    text_dim=32))


# --- the parent: runs each part as a subprocess under its limit ----------------------------------------------------

def part_command(part: str, dry: bool, junit: Path) -> list[str]:
    if part == "pytest-gpu":
        targets = ["tests/models/test_presets_gpu.py"] if dry else ["tests"]  # dry: one module, collected in seconds
        return [sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider",
                "--continue-on-collection-errors", f"--junitxml={junit}", *targets]
    return [sys.executable, str(Path(__file__).resolve()), "--child", part] + (["--dry-run"] if dry else [])


def run_part(part: str, limit_s: float, dry: bool) -> tuple[dict, str]:
    """Run one part in its own process group, killed at ``limit_s``: its result (lines, status, reason) and log."""
    started, wall = time.monotonic(), time.time()
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        junit, out_path, err_path = Path(tmp, "junit.xml"), Path(tmp, "stdout"), Path(tmp, "stderr")
        # Output to files, not pipes: a compile worker left behind cannot then keep the parent waiting for EOF.
        with open(out_path, "w") as out, open(err_path, "w") as err:
            proc = subprocess.Popen(part_command(part, dry, junit), cwd=ROOT, stdout=out, stderr=err, text=True,
                                    start_new_session=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
            try:
                proc.wait(timeout=limit_s)
                timed_out = False
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # the part and everything it started (inductor's workers)
                proc.wait(timeout=30)
                timed_out = True
        stdout, stderr = out_path.read_text(errors="replace"), err_path.read_text(errors="replace")
        # The last LOG_TAIL characters of each stream: max-autotune can print a great deal, and the device hands
        # back files of 16 MiB at most.
        log = (f"===== {part} (rc {proc.returncode}, limit {limit_s:.0f} s)\n"
               f"{stdout[-LOG_TAIL:]}\n{stderr[-LOG_TAIL:]}\n")
        rows = pytest_rows(junit, wall) if part == "pytest-gpu" else [
            json.loads(line[len(MARK):]) for line in stdout.splitlines() if line.startswith(MARK)]
    result = {"part": part, "status": "ok", "reason": "", "seconds": round(time.monotonic() - started, 1),
              "limit_s": limit_s, "results": rows}
    tail = [line for line in stderr.strip().splitlines() if line.strip()][-5:]
    if timed_out:
        result.update(status="skipped", reason=f"timed out after {limit_s:.0f} s (this part's limit); "
                      f"{len(rows)} result(s) measured before that are kept")
    elif part == "pytest-gpu" and not rows:
        result.update(status="failed", reason=f"pytest wrote no JUnit report (exit {proc.returncode}): "
                      + " | ".join(tail or stdout.strip().splitlines()[-3:]))
    elif proc.returncode != 0 and part != "pytest-gpu":  # failed tests are pytest's result, not a failed part
        result.update(status="failed", reason=f"exit {proc.returncode}: " + " | ".join(tail or ["no output"]))
    elif len(rows) == 1 and rows[0].get("skip_reason"):
        result.update(status="skipped", reason=rows[0]["skip_reason"])
    return result, log


def pytest_rows(junit: Path, started_wall: float) -> list[dict]:
    """Counts and failures from pytest's JUnit XML, and the preset measurements its GPU test wrote in this run."""
    import xml.etree.ElementTree as ET

    if not junit.exists():
        return []
    suite = ET.parse(junit).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    total, failures, errors, skipped = (int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
    failed = [f"{case.get('classname')}::{case.get('name')}: {(bad.get('message') or '')[:200]}"
              for case in suite.iter("testcase") for bad in case if bad.tag in ("failure", "error")]
    row = {"tests": total, "passed": total - failures - errors - skipped, "failed": failures, "errors": errors,
           "skipped": skipped, "not_passed": failed[:20]}
    row["summary"] = f"{row['passed']} passed, {failures} failed, {errors} errors, {skipped} skipped"
    measured = ROOT / "test-artifacts" / "preset_measurements.json"
    if measured.exists() and measured.stat().st_mtime >= started_wall:
        row["preset_measurements"] = json.loads(measured.read_text())  # whole pipeline, per preset and frames
    return [row]


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:  # one part, in this fresh process
        CHILDREN[args.child](args.dry_run)
        return 0
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    limits = {p: float(DRY_LIMIT_S if args.dry_run else s) for p, s in PART_LIMITS_S.items()} | args.limit
    started = time.monotonic()

    def one(part: str) -> tuple[dict, str]:
        left = args.budget - (time.monotonic() - started)
        if left < MIN_PART_S:
            return {"part": part, "status": "skipped", "seconds": 0.0, "limit_s": limits[part], "results": [],
                    "reason": f"budget spent: {left:.0f} s left of {args.budget:.0f} s, under the "
                    f"{MIN_PART_S:.0f} s a part needs to start"}, ""
        result = run_part(part, min(limits[part], left), args.dry_run)
        print(f"[{part}] {result[0]['status']} in {result[0]['seconds']:.0f} s {result[0]['reason']}", flush=True)
        return result

    # On the GPU one part at a time (each measures the machine alone); a dry run's figures mean nothing, so it runs
    # two at once: the subprocesses' imports are most of its time.
    with ThreadPoolExecutor(max_workers=2 if args.dry_run else 1) as pool:
        done = list(pool.map(one, args.parts))
    parts = [result for result, _ in done]
    out.with_suffix(".log").write_text("".join(log for _, log in done))
    report = {"check": "bench/gpu_check.py", "dry_run": args.dry_run, "date": datetime.now(timezone.utc).isoformat(
              timespec="seconds"), "budget_s": args.budget, "seconds": round(time.monotonic() - started, 1),
              "parts": parts}
    out.write_text(json.dumps(report, indent=2))
    print_table(report)
    print(f"written: {out} (log {out.with_suffix('.log')})")
    return 0


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="gpu_check.json", help="the JSON file to write (its .log beside it)")
    parser.add_argument("--dry-run", action="store_true", help="CPU, tiny sizes: every part's code path in seconds")
    parser.add_argument("--parts", default=",".join(PART_LIMITS_S), help="comma-separated, run in this order: "
                        + ", ".join(PART_LIMITS_S))
    parser.add_argument("--budget", type=float, default=BUDGET_S, help="seconds for the whole check")
    parser.add_argument("--limit", action="append", default=[], metavar="PART=SECONDS",
                        help="one part's own limit (default: " + ", ".join(f"{p} {s}" for p, s in
                                                                             PART_LIMITS_S.items()) + ")")
    parser.add_argument("--child", choices=CHILDREN, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = [p for p in args.parts if p not in PART_LIMITS_S]
    if unknown:
        parser.error(f"--parts: unknown part(s) {unknown}; choose from {', '.join(PART_LIMITS_S)}")
    limits = {}
    for item in args.limit:
        part, _, seconds = item.partition("=")
        if part not in PART_LIMITS_S or not seconds.replace(".", "", 1).isdigit():
            parser.error(f"--limit {item!r}: expected PART=SECONDS with PART one of {', '.join(PART_LIMITS_S)}, "
                         "e.g. --limit fyp-compiled=450")
        limits[part] = float(seconds)
    args.limit = limits
    return args


def print_table(report: dict) -> None:
    print(f"\nGPU check{' (DRY RUN: CPU, tiny sizes; no figure here is a GPU figure)' if report['dry_run'] else ''}"
          f", {report['date']}, {report['seconds']:.0f} s of {report['budget_s']:.0f} s")
    print(f"{'part':13s} {'status':8s} {'s':>5s}  result")
    for part in report["parts"]:
        lines = [r["summary"] for r in part["results"] if r.get("summary")] + [part["reason"]] * bool(part["reason"])
        for i, line in enumerate(lines):
            head = f"{part['part']:13s} {part['status']:8s} {part['seconds']:5.0f}" if i == 0 else " " * 28
            print(f"{head}  {line}")


# --- the children: one part each, printing MARK lines ---------------------------------------------------------------

def emit(row: dict) -> None:
    print(MARK + json.dumps(row), flush=True)


def _no_cuda(device: str) -> bool:
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        emit({"skip_reason": "no CUDA device (torch.cuda.is_available() is False): --dry-run runs the code on "
                             "the CPU"})
        return True
    return False


def _sync(device: str):
    import torch

    return torch.cuda.synchronize if device == "cuda" else (lambda: None)


def _peak_gb(device: str) -> float:
    """Peak memory so far: allocated on the GPU (since the last reset), the whole process's RSS on a CPU."""
    import resource

    import torch

    if device == "cuda":
        return round(torch.cuda.max_memory_allocated() / 1e9, 2)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9, 2)


def _reset_peak(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def child_env(dry: bool) -> None:
    import platform

    import diffusers
    import torch

    pinned = next((line.split("==")[1].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()
                   if line.startswith("torch==")), None)
    row = {"python": platform.python_version(), "torch": torch.__version__, "torch_pinned": pinned,
           "torch_cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(),
           "diffusers": diffusers.__version__, "cuda_available": torch.cuda.is_available(), "cpu_threads":
           torch.get_num_threads(), "git_commit": _git_commit()}
    try:
        import triton

        row["triton"] = triton.__version__
    except ImportError:
        row["triton"] = None
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        row.update(gpu=props.name, capability=f"{props.major}.{props.minor}", gpu_memory_gb=round(
            props.total_memory / 1e9, 1), multiprocessors=props.multi_processor_count, driver=_driver())
    row["summary"] = (f"{row.get('gpu', 'no CUDA GPU')}, driver {row.get('driver')}, torch {row['torch']} (CUDA "
                      f"{row['torch_cuda']}, cuDNN {row['cudnn']}; pinned {pinned}), triton {row['triton']}, "
                      f"diffusers {row['diffusers']}, python {row['python']}")
    emit(row)


def _driver() -> str | None:
    try:
        proc = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=20)
        return proc.stdout.strip().splitlines()[0] if proc.returncode == 0 and proc.stdout.strip() else None
    except (OSError, subprocess.TimeoutExpired):
        return None


def _git_commit() -> str | None:
    try:
        proc = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10)
        return proc.stdout.strip() or None
    except (OSError, subprocess.TimeoutExpired):
        return None


def _fyp(dry: bool) -> tuple[dict, object, float | None]:
    """The Follow-Your-Pose setup, its torch dtype and the matmul peak to pass (None: measured per config)."""
    import torch

    fyp = FYP_DRY if dry else FYP
    dtype = getattr(torch, fyp["dtype"])
    return fyp, dtype, DRY_PEAK_GFLOPS if dry else None


def _repeats(dry: bool) -> int:
    return 1 if dry else REPEATS


def child_fyp_eager(dry: bool) -> None:
    fyp, dtype, peak = _fyp(dry)
    if _no_cuda(fyp["device"]):
        return
    model = build_model(fyp["device"], dtype, fyp["unet"])
    for frames in fyp["frames"]:
        cfg = dict(device=fyp["device"], dtype=fyp["dtype"], frames=frames, size=fyp["size"])
        row = run_config(f"fyp-{frames}", cfg, _repeats(dry), peak_gflops=peak, unet_config=fyp["unet"],
                         model=model)
        row["video_50_steps_s"] = round(STEPS_PER_VIDEO * row["seconds_per_step"] + row["pose_encoder_once_s"], 1)
        row["presets"] = preset_steps(model, cfg, fyp["unet"], _repeats(dry))
        row["summary"] = (f"{frames} frames {fyp['size']}²: {row['seconds_per_step']:.3f} s/step "
                          f"({row['tflop_per_step']:.1f} TFLOP, {row['fraction_of_peak']:.0%} of the matmul peak) "
                          f"-> {row['video_50_steps_s']:.0f} s per 50-step video; UNet step peak " + ", ".join(
                              f"{n} {p['unet_peak_gb']:.1f} GB {p['step_s']:.3f} s" for n, p in row["presets"].items()))
        emit(row)


def preset_steps(model, cfg: dict, unet_config: dict, repeats: int) -> dict:
    """Step time and peak memory of the UNet step under each GPU memory preset's savers, switched by the product's
    own ``apply_preset`` (attention slicing, feed-forward chunking). The UNet step alone: with model offload (low)
    only the UNet sits on the GPU while denoising, as here; the text encoder, VAE and decode are in pytest-gpu's
    whole-pipeline measurements, and in the estimate given beside each."""
    from types import SimpleNamespace

    import torch

    from text2video.models.presets import GPU_PRESETS, apply_preset, choose_preset

    device, dtype = cfg["device"], getattr(torch, cfg["dtype"])
    latents, t, text, pose = step_inputs(cfg, device, dtype, unet_config["cross_attention_dim"])
    holder = SimpleNamespace(unet=model)  # apply_preset switches what the object has: here the UNet's savers
    rows = {}
    with torch.inference_mode():
        feats = model.encode_pose(pose)
        for name in GPU_PRESETS:
            preset = choose_preset("cuda", None, False, name, frames=cfg["frames"], width=cfg["size"],
                                   height=cfg["size"])
            applied = apply_preset(holder, preset)
            _reset_peak(device)
            times, _ = alternate_steps({name: model}, lambda unet: unet(latents, t, text, pose_features=feats).sample,
                                       repeats, _sync(device))[name]
            step = statistics.median(times)
            rows[name] = {"applied": applied, "step_s": round(step, 4), "unet_peak_gb": _peak_gb(device),
                          "video_50_steps_s": round(STEPS_PER_VIDEO * step, 1),
                          "estimated_pipeline_peak_gb": preset.estimated_peak_gb}
        apply_preset(holder, choose_preset("cuda", None, False, "high"))  # back to the model as built
    return rows


def child_fyp_compiled(dry: bool) -> None:
    fyp, dtype, peak = _fyp(dry)
    if _no_cuda(fyp["device"]):
        return
    # Dry run: dynamo traces the same path with the eager backend (inductor's CPU compile takes minutes).
    mode, backend = ("default", "eager") if dry else ("max-autotune", "inductor")
    model = build_model(fyp["device"], dtype, fyp["unet"])
    for frames in sorted(fyp["frames"], reverse=True)[: 1 if dry else None]:  # 24 first: the default video
        cfg = dict(device=fyp["device"], dtype=fyp["dtype"], frames=frames, size=fyp["size"])
        row = run_config(f"fyp-{frames}-compiled", cfg, _repeats(dry), mode, peak, unet_config=fyp["unet"], model=model,
                         backend=backend)
        compiled = row["compiled_seconds_per_step"]
        row["backend"] = backend
        row["video_50_steps_s"] = {
            "eager": round(STEPS_PER_VIDEO * row["seconds_per_step"], 1),
            "compiled": round(STEPS_PER_VIDEO * compiled, 1),
            "compiled_first_video": round(row["compile_first_call_s"] + (STEPS_PER_VIDEO - 1) * compiled, 1)}
        row["summary"] = (f"{frames} frames, {backend} {mode}: first call {row['compile_first_call_s']:.1f} s "
                          f"(compile + 1 step), then {compiled:.3f} s/step = x{row['compiled_vs_eager']:.2f} eager "
                          f"-> {row['video_50_steps_s']['compiled']:.0f} s per 50-step video "
                          f"({row['video_50_steps_s']['compiled_first_video']:.0f} s for a worker's first)")
        emit(row)


def child_preview(dry: bool) -> None:
    from preview import EVERY, run_unet

    fyp, _, _ = _fyp(dry)
    if _no_cuda(fyp["device"]):
        return
    cfg = dict(device=fyp["device"], dtype=fyp["dtype"], frames=max(fyp["frames"]), size=fyp["size"])
    row = run_unet(f"preview-{cfg['frames']}", _repeats(dry), cfg, fyp["unet"])
    row["overhead_per_step"] = {"every_step": row["preview_s"] / row["step_s"],
                                f"every_{EVERY}_steps": row["preview_s"] / EVERY / row["step_s"],
                                f"taesd_every_{EVERY}_steps": row["preview_taesd_s"] / EVERY / row["step_s"]}
    share = row["overhead_per_step"]
    row["summary"] = (f"{cfg['frames']} frames: step {row['step_s'] * 1000:.1f} ms, preview "
                      f"{row['preview_s'] * 1000:.1f} ms (TAESD {row['preview_taesd_s'] * 1000:.1f} ms) -> "
                      f"{share[f'every_{EVERY}_steps']:.2%} per step every {EVERY} steps "
                      f"({share['every_step']:.1%} every step)")
    emit(row)


def child_wan(dry: bool) -> None:
    import torch
    from diffusers import FirstBlockCacheConfig, WanVACETransformer3DModel

    wan = WAN_DRY if dry else WAN
    device, dtype = wan["device"], getattr(torch, wan["dtype"])
    if _no_cuda(device):
        return
    t0 = time.perf_counter()
    with torch.device(device):  # initialised on the device itself: no CPU copy of the weights
        model = WanVACETransformer3DModel(**wan["config"]).eval()
    _cast_as_loaded(model, dtype)
    build_s = time.perf_counter() - t0
    step = _wan_step(model, _wan_inputs(wan, device, dtype))
    sync = _sync(device)
    row = {"config": "wan-vace-1.3b", **{k: v for k, v in wan.items() if k != "config"}, "transformer_config":
           wan["config"], "params": sum(p.numel() for p in model.parameters()), "build_s": round(build_s, 1),
           "fbc_threshold": FBC_THRESHOLD, "model_source": "diffusers WanVACETransformer3DModel (the class the "
           "product's Wan runner loads), random weights"}
    with torch.inference_mode():
        _reset_peak(device)
        times, _ = alternate_steps({"plain": model}, step, _repeats(dry), sync)["plain"]
        row.update(step_s=statistics.median(times), peak_gb=_peak_gb(device))
        model.enable_cache(FirstBlockCacheConfig(threshold=FBC_THRESHOLD))
        _reset_peak(device)
        sync()
        t0 = time.perf_counter()
        step(model)  # the first step with a cache computes every block
        sync()
        row["fbc_first_step_s"] = time.perf_counter() - t0
        times, _ = alternate_steps({"fbc": model}, step, _repeats(dry), sync)["fbc"]
        row.update(fbc_reuse_step_s=statistics.median(times), fbc_peak_gb=_peak_gb(device))
        model.disable_cache()
    row["video_50_steps_s"] = {"plain": round(STEPS_PER_VIDEO * row["step_s"], 1),
                               "fbc_every_step_reused_bound": round(row["fbc_first_step_s"] + (
                                   STEPS_PER_VIDEO - 1) * row["fbc_reuse_step_s"], 1)}
    row["summary"] = (f"{wan['frames']} frames {wan['height']}x{wan['width']} {wan['dtype']} "
                      f"({row['params'] / 1e6:.1f} M params): {row['step_s']:.2f} s/step (cond + uncond), peak "
                      f"{row['peak_gb']:.1f} GB -> {row['video_50_steps_s']['plain']:.0f} s per 50 steps; First Block "
                      f"Cache {FBC_THRESHOLD}: first step {row['fbc_first_step_s']:.2f} s, a reused step "
                      f"{row['fbc_reuse_step_s']:.2f} s (x{row['fbc_reuse_step_s'] / row['step_s']:.2f})")
    emit(row)


def _cast_as_loaded(model, dtype) -> None:
    """Parameters in ``dtype`` as ``from_pretrained(torch_dtype=dtype)`` leaves them: those of the class's
    ``_keep_in_fp32_modules`` (Wan: rope, time embedder, scale-shift tables, norms) stay fp32, buffers as built."""
    import torch

    keep = model._keep_in_fp32_modules or []
    for name, param in model.named_parameters():
        param.data = param.data.to(torch.float32 if any(m in name.split(".") for m in keep) else dtype)


def _wan_inputs(wan: dict, device: str, dtype) -> dict:
    """Seeded latents, VACE control (16 inactive + 16 reactive latent channels + 64 of the 8x8-folded mask), the
    prompt and negative-prompt embeddings and a timestep, as WanVACEPipeline feeds the transformer."""
    import torch

    gen = torch.Generator(device=device).manual_seed(0)
    shape = ((wan["frames"] - 1) // 4 + 1, wan["height"] // 8, wan["width"] // 8)  # the Wan VAE's 4x / 8x
    cfg = wan["config"]

    def randn(*size):
        return torch.randn(*size, generator=gen, device=device, dtype=dtype)

    return {"hidden_states": randn(1, cfg["in_channels"], *shape),
            "control_hidden_states": randn(1, cfg["vace_in_channels"], *shape),
            "timestep": torch.full((1,), 500.0, device=device),
            "cond": randn(1, wan["text_tokens"], cfg["text_dim"]),
            "uncond": randn(1, wan["text_tokens"], cfg["text_dim"])}


def _wan_step(model, inputs: dict):
    """One guidance step: the conditional and the unconditional forward, each in its own cache context (as the
    pipeline runs them, so that First Block Cache compares each branch with its own previous step)."""
    def step(unet):
        for branch in ("cond", "uncond"):
            with unet.cache_context(branch):
                out = unet(inputs["hidden_states"], inputs["timestep"], inputs[branch],
                           control_hidden_states=inputs["control_hidden_states"], return_dict=False)[0]
        return out

    return step


CHILDREN = {"env": child_env, "fyp-eager": child_fyp_eager, "fyp-compiled": child_fyp_compiled,
            "preview": child_preview, "wan-vace": child_wan}

if __name__ == "__main__":
    sys.exit(main())
