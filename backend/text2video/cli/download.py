"""`python manage.py download`: fetch the real models (Stable Diffusion v1-4, Follow-Your-Pose, envit5, YOLOX +
RTMPose), verify their hashes and record them in <models>/manifest.json. Same as `sh download_module.sh`."""

from __future__ import annotations

import argparse
import os

HELP = "download and verify the real models (Stable Diffusion v1-4, Follow-Your-Pose, envit5, YOLOX + RTMPose)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models", metavar="DIR", default=None,
                        help="models folder (default: TEXT2VIDEO_MODELS_DIR or ./models)")
    parser.add_argument("--only", metavar="PARTS", default=None,
                        help="comma-separated subset of: diffusion, pose, prompt (default: all)")
    parser.add_argument("--fp16", action="store_true",
                        help="fetch the fp16 variant of the Stable Diffusion UNet and VAE (half the size; for GPUs)")
    parser.add_argument("--pose-presets", default=None, metavar="NAMES",
                        help="pose model presets to fetch: balanced (YOLOX-m + RTMPose-m), accurate (YOLOX-x + "
                        "RTMPose-x), wholebody (YOLOX-l + DWPose, 133 keypoints, 351 MB); default all of them")
    parser.add_argument("--dry-run", action="store_true",
                        help="print what would be fetched and its size (asks the servers with HEAD), fetch nothing")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars (logs, CI)")


def run(args: argparse.Namespace) -> int:
    from ..models import sources
    from ..models.download import download
    from ..settings import Settings

    settings = Settings.load({"models_dir": args.models} if args.models else None)
    parts = sources.parse_parts(args.only)
    presets = (tuple(p.strip() for p in args.pose_presets.split(",") if p.strip()) if args.pose_presets
               else sources.POSE_PRESET_NAMES)
    sources.zoo_files(("pose",), presets)  # validates the names before anything is asked of a server
    if args.no_progress:
        os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    download(settings.models_dir, parts, fp16=args.fp16, pose_presets=presets, dry_run=args.dry_run,
             progress=not args.no_progress, out=lambda line: print(line, flush=True))
    return 0
