#!/usr/bin/env python
"""Benchmark the pose stage: sampled frames per second and peak memory, per preset and ONNX Runtime provider.

    python bench/pose.py [--models models] [--videos ../shared/data/raw/*.mp4] [--stride 5] [--size 512]

With the real models (``manage.py download``) under --models it times every preset (balanced, accurate, wholebody:
YOLOX-L + DWPose with 133 keypoints) on CPU and, when onnxruntime has it, CUDA. Without them it says so and times
the DEMO models instead: that measures decoding, pre/post-processing (for wholebody: the raw YOLOX head's decoding
and NMS, SimCC decoding of 133 points), tracking, repair of all keypoints and rendering, NOT real network inference
(the demo "networks" are a few ops, so the fps of a preset says nothing of its real model's cost).
Peak memory is the resident set size sampled every 10 ms while a run lasts, above what the process held before it.
Not a test: prints a table (and --json FILE writes the rows).
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "backend"))

import psutil  # noqa: E402

from text2video.models.layout import POSE_PRESETS, ModelPaths  # noqa: E402


class PeakRSS:
    """Highest resident memory of this process while the block runs (sampled in a thread)."""

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.proc = psutil.Process()

    def __enter__(self) -> "PeakRSS":
        self.base = self.proc.memory_info().rss
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(self.interval)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)

    @property
    def delta_mb(self) -> float:
        return (self.peak - self.base) / 2**20


def available_devices() -> list[str]:
    import onnxruntime as ort

    return ["cpu"] + (["cuda"] if "CUDAExecutionProvider" in ort.get_available_providers() else [])


def run_one(video: Path, models_dir: Path, preset: str, device: str, args) -> dict:
    from text2video.pose import PoseModels, iter_pose_frames

    t0 = time.perf_counter()
    models = PoseModels(models_dir, preset, device)
    load_s = time.perf_counter() - t0
    # warm-up (first ORT run allocates and, on CUDA, picks kernels)
    list(iter_pose_frames(video, width=args.size, height=args.size, stride=args.stride, max_frames=2,
                          input_type="video", models=models))
    with PeakRSS() as mem:
        t0 = time.perf_counter()
        stream = iter_pose_frames(video, width=args.size, height=args.size, stride=args.stride,
                                  max_frames=args.max_frames, input_type="video", models=models)
        t_est = time.perf_counter() - t0
        t1 = time.perf_counter()
        n = sum(1 for _ in stream)
        t_render = time.perf_counter() - t1
    total = t_est + t_render
    return {"video": video.name, "preset": preset, "keypoints": models.estimator.keypoints, "device": device,
            "provider": models.provider,
            "demo": models.demo, "frames": n, "load_s": round(load_s, 2), "estimate_s": round(t_est, 2),
            "render_s": round(t_render, 2), "fps": round(n / total, 2) if total else None,
            "estimate_fps": round(n / t_est, 2) if t_est else None, "peak_mb": round(mem.delta_mb, 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(allow_abbrev=False, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="models", type=Path)
    parser.add_argument("--videos", nargs="*", default=None,
                        help="default: ../shared/data/raw/* next to the repository")
    parser.add_argument("--presets", default=",".join(POSE_PRESETS))
    parser.add_argument("--devices", default=None, help="cpu,cuda (default: those available)")
    parser.add_argument("--stride", type=int, default=5)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--max-frames", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    videos = [Path(v) for v in (args.videos or sorted(glob.glob(str(ROOT.parent / "shared/data/raw/*"))))]
    if not videos:
        print("no videos to benchmark (give --videos)")
        return 1
    presets = [p for p in args.presets.split(",") if p]
    devices = args.devices.split(",") if args.devices else available_devices()
    if "cuda" not in devices:
        print("CUDA provider: not available in this onnxruntime build (install onnxruntime-gpu): CPU only.")

    rows = []
    real = [p for p in presets if all(f.is_file() for f in ModelPaths(args.models).pose_models(p))
            and not (args.models / "pose" / "DEMO").exists()]
    for preset in presets:
        if preset not in real:
            print(f"SKIP real {preset}: {', '.join(POSE_PRESETS[preset][k] for k in ('detector', 'pose'))} "
                  f"not under {args.models} (run `python manage.py download`).")
    targets = [(args.models, p) for p in real]
    if not targets:
        from text2video.pose.demo import build_demo

        demo_dir = Path(tempfile.mkdtemp(prefix="pose-bench-demo-"))
        build_demo(demo_dir)
        print("Measuring the DEMO models instead: decode + pre/post-processing + tracking + repair + render only; "
              "the demo networks are a few ONNX ops, so this is NOT real inference speed.")
        targets = [(demo_dir, p) for p in presets]
    for models_dir, preset in targets:
        for device in devices:
            for video in videos:
                row = run_one(video, models_dir, preset, device, args)
                rows.append(row)
                label = "DEMO " if row["demo"] else ""
                print(f"{label}{preset:9s} {row['keypoints']:3d} kp {row['provider']:22s} {video.name:34s} "
                      f"{row['frames']:4d} frames  "
                      f"{row['fps']:7.2f} fps (estimate {row['estimate_fps']:.2f}, render {row['render_s']:.2f} s)"
                      f"  peak +{row['peak_mb']:.0f} MB  load {row['load_s']:.2f} s", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
