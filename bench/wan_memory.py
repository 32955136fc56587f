"""Benchmark: Wan VACE memory — the presets' ESTIMATED GPU peaks, the preset ``auto`` picks per card, and the peak
RSS of a demo Wan run next to a demo Follow-Your-Pose run on this CPU.

    python bench/wan_memory.py                       # all three parts
    python bench/wan_memory.py --parts estimates,auto
    python bench/wan_memory.py --parts rss --steps 8 --frames 9 --size 256 --json out.json

Parts:
- ``estimates``: ``families/wan_vace/presets.estimate_peak_gb`` for 1.3B and 14B, presets high / medium / low, 81
  frames at 480p (832x480) and 720p (1280x720), without and with a character photo (one more latent frame). These
  are ESTIMATES built from parameter counts and an activation model (the presets module's docstring): no GPU run.
- ``auto``: the preset ``choose_preset(memory="auto")`` picks for cards of 8, 12, 16, 24, 48 and 80 GB, taking
  the free memory of an idle card as its size less ``IDLE_USE_GB`` (driver context, a desktop).
- ``rss``: ``manage.py generate --models demo`` for ``--model wan-vace-1.3b`` and ``--model follow-your-pose`` at the
  same tiny settings (the sample skeleton, ``--frames``, ``--size``, ``--steps``), each a subprocess whose peak RSS
  the kernel reports at exit (``os.wait4``; it covers the process and the children it waited for). Demo weights
  are tiny and random: the figures show the code's overhead (imports, buffers) on this CPU and say nothing about
  real weights.
Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))

from text2video.families.wan_vace import presets  # noqa: E402

FRAMES = 81
SIZES = {"480p": (832, 480), "720p": (1280, 720)}
CARDS_GB = (8, 12, 16, 24, 48, 80)
IDLE_USE_GB = 0.5  # what an idle card already holds: the free memory auto sees is the card's size less this
PARTS = ("estimates", "auto", "rss")


def run_estimates() -> list[dict]:
    rows = []
    for folder in presets.PARAMS:
        for size, (width, height) in SIZES.items():
            for photo in (False, True):
                row = {"model": folder, "size": size, "width": width, "height": height, "frames": FRAMES,
                       "photo": photo, "tokens": presets.latent_tokens(FRAMES, width, height, photo),
                       "activations_gb": round(presets.activation_gb(folder, FRAMES, width, height, photo), 2)}
                row.update({name: presets.estimate_peak_gb(folder, name, FRAMES, width, height, photo)
                            for name in presets.GPU_PRESETS})
                rows.append(row)
    return rows


def host_weights_gb() -> dict:
    """GiB of bf16 weights the offload presets keep in host RAM: transformer + UMT5 (medium holds every part
    there between uses; low runs UMT5 on the CPU and streams the transformer's blocks from RAM)."""
    return {folder: round((p["transformer"] + presets.TEXT_ENCODER_PARAMS) * 2 / presets.GB, 1)
            for folder, p in presets.PARAMS.items()}


def run_auto() -> list[dict]:
    rows = []
    for folder in presets.PARAMS:
        for size, (width, height) in SIZES.items():
            for card in CARDS_GB:
                pick = presets.choose_preset(folder, "cuda", card - IDLE_USE_GB, "auto", frames=FRAMES,
                                             width=width, height=height)
                rows.append({"model": folder, "size": size, "card_gb": card, "free_gb": card - IDLE_USE_GB,
                             "preset": pick.name, "estimated_peak_gb": pick.estimated_peak_gb,
                             "may_run_out": bool(pick.warning)})
    return rows


def measure_generate(model: str, frames: int, size: int, steps: int, out_dir: Path) -> dict:
    """Peak RSS (GiB) and wall seconds of one ``manage.py generate --models demo`` run of ``model``."""
    cmd = [sys.executable, str(ROOT / "manage.py"), "generate", "--pose-video", str(ROOT / "assets" /
           "sample_skeleton.mp4"), "--prompt", "a girl dancing", "--models", "demo", "--model", model,
           "--out", str(out_dir / f"{model}.mp4"), "--steps", str(steps), "--frames", str(frames),
           "--width", str(size), "--height", str(size), "--no-progress"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = proc.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)  # the rusage of this child alone (ru_maxrss: KiB on Linux)
    proc.returncode = os.waitstatus_to_exitcode(status)
    row = {"model": model, "frames": frames, "size": size, "steps": steps, "wall_s": round(time.perf_counter() - t0, 1)}
    if proc.returncode != 0:
        return {**row, "error": (stderr.strip().splitlines() or ["failed"])[-1]}
    return {**row, "peak_rss_gb": round(usage.ru_maxrss / 2**20, 3)}


def run_rss(frames: int, size: int, steps: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="wan-memory-") as tmp:
        runs = [measure_generate(model, frames, size, steps, Path(tmp))
                for model in ("wan-vace-1.3b", "follow-your-pose")]
    result = {"runs": runs}
    if all("peak_rss_gb" in r for r in runs):
        result["wan_vs_fyp"] = round(runs[0]["peak_rss_gb"] / runs[1]["peak_rss_gb"], 2)
    return result


def print_estimates(rows: list[dict]) -> None:
    print("ESTIMATED peak GPU memory (GiB), 81 frames, from presets.estimate_peak_gb (no GPU run):")
    for r in rows:
        print(f"  {r['model']:17s} {r['size']} {r['width']}x{r['height']} {'+photo' if r['photo'] else '      '} "
              f"{r['tokens']:6d} tokens, activations {r['activations_gb']:5.2f}: high {r['high']:6.2f}  "
              f"medium {r['medium']:6.2f}  low {r['low']:6.2f}")


def print_auto(rows: list[dict]) -> None:
    print(f"auto's pick per card (free = card - {IDLE_USE_GB} GB), 81 frames, no photo:")
    for r in rows:
        flag = "  (may run out of memory)" if r["may_run_out"] else ""
        print(f"  {r['model']:17s} {r['size']} {r['card_gb']:3d} GB: {r['preset']:6s} ~{r['estimated_peak_gb']:.1f} GB"
              f"{flag}")


def print_rss(result: dict) -> None:
    print("peak RSS of manage.py generate --models demo, measured on this CPU (demo weights: says nothing about "
          "real weights):")
    for r in result["runs"]:
        what = r.get("error") or f"{r['peak_rss_gb']:.3f} GB peak RSS, {r['wall_s']} s"
        print(f"  {r['model']:17s} {r['frames']} frames {r['size']}x{r['size']}, {r['steps']} steps: {what}")
    if "wan_vs_fyp" in result:
        print(f"  Wan / Follow-Your-Pose peak RSS: x{result['wan_vs_fyp']}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default=",".join(PARTS), help="comma-separated: " + ", ".join(PARTS))
    parser.add_argument("--frames", type=int, default=9, help="rss: frames of both runs (Wan needs 4k+1)")
    parser.add_argument("--size", type=int, default=256, help="rss: width = height of both runs (multiple of 16)")
    parser.add_argument("--steps", type=int, default=8, help="rss: denoising steps of both runs")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        parser.error(f"--parts: unknown {unknown}; choose from {', '.join(PARTS)}")
    results = {}
    if "estimates" in parts:
        results["estimates"] = run_estimates()
        results["host_weights_gb"] = host_weights_gb()
        print_estimates(results["estimates"])
        print("host RAM the bf16 weights take with medium / low (transformer + UMT5, GiB): " +
              ", ".join(f"{k} {v}" for k, v in results["host_weights_gb"].items()))
    if "auto" in parts:
        results["auto"] = run_auto()
        print_auto(results["auto"])
    if "rss" in parts:
        results["rss"] = run_rss(args.frames, args.size, args.steps)
        print_rss(results["rss"])
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
