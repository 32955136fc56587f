"""`manage.py pose`: preview the pose stage alone: a video -> skeleton.mp4 (+ keypoints.json) and a summary."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "Extract the skeleton video (and keypoints.json) from a video, as the generator will see it."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..models.layout import POSE_PRESETS

    parser.add_argument("--video", required=True, type=Path, help="raw video of a person, or a skeleton video")
    parser.add_argument("--out", type=Path, default=Path("skeleton.mp4"), help="skeleton MP4 to write")
    parser.add_argument("--json", type=Path, default=None, help="also write keypoints.json here (raw video input)")
    parser.add_argument("--models", default=None,
                        help="models folder (default: settings models_dir); 'demo' = tiny demo models (meaningless)")
    parser.add_argument("--preset", choices=tuple(POSE_PRESETS), default=None,
                        help="balanced = YOLOX-m + RTMPose-m; accurate = YOLOX-x + RTMPose-x; wholebody = YOLOX-l "
                        "+ DWPose, 133 keypoints with hands and face (default: settings)")
    parser.add_argument("--stride", type=int, default=None, help="use every k-th frame (default: settings, 5)")
    parser.add_argument("--max-frames", type=int, default=None, help="stop after this many sampled frames")
    parser.add_argument("--width", type=int, default=None, help="output width (default: settings, 512)")
    parser.add_argument("--height", type=int, default=None, help="output height (default: settings, 512)")
    parser.add_argument("--draw", choices=("subject", "all"), default="subject",
                        help="draw the main person only, or everyone detected")
    parser.add_argument("--subject", choices=("auto", "largest", "central"), default="auto",
                        help="how the main person is chosen in the first frames")
    parser.add_argument("--input-type", choices=("auto", "video", "skeleton"), default="auto",
                        help="auto-detect, or force: video = estimate poses, skeleton = use the frames as they are")
    parser.add_argument("--device", default=None, help="auto | cpu | cuda | cuda:N (default: settings)")


def run(args: argparse.Namespace) -> int:
    from ..settings import Settings
    from ..video import write_mp4
    from .. import pose as pose_stage

    overrides = {"models_dir": args.models, "pose_preset": args.preset, "stride": args.stride,
                 "width": args.width, "height": args.height, "device": args.device}
    settings = Settings.load(overrides)
    options = pose_stage.PoseOptions(subject=args.subject)
    last = {"shown": -1}

    def progress(i: int, n: int) -> None:
        pct = int(100 * (i + 1) / max(n, 1))
        if pct // 10 != last["shown"]:
            last["shown"] = pct // 10
            print(f"  pose: frame {i + 1}/{n}", file=sys.stderr)

    stream = pose_stage.iter_pose_frames(
        args.video, width=settings.width, height=settings.height, stride=settings.stride,
        max_frames=args.max_frames, input_type=args.input_type, models_dir=settings.models_dir,
        preset=settings.pose_preset or "balanced", device=settings.device, draw=args.draw, progress=progress, options=options)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_mp4(stream, args.out, stream.fps)
    kind = "raw video (poses estimated)" if stream.kind == "video" else "skeleton video (resized, not estimated)"
    print(f"input: {kind}; {len(stream)} frames at {stream.fps:.3g} fps, "
          f"{settings.width}x{settings.height} -> {args.out}")
    if stream.report is not None:
        if args.json:
            stream.save_keypoints(args.json)
            print(f"keypoints -> {args.json}")
        print(f"provider: {stream.provider}")
        print(stream.report.summary())
    elif args.json:
        print("no keypoints.json: the input is already a skeleton video (nothing was estimated)")
    return 0
