"""`python manage.py download`: fetch the real models (Stable Diffusion v1-4, Follow-Your-Pose, envit5, YOLOX +
RTMPose), verify their hashes and record them in <models>/manifest.json. Same as `sh download_module.sh`."""

from __future__ import annotations

import argparse
import os

HELP = "download and verify the real models (Stable Diffusion v1-4, Follow-Your-Pose, envit5, YOLOX + RTMPose)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models", metavar="DIR", default=None,
                        help="models folder (default: TEXT2VIDEO_MODELS_DIR or ./models)")
    parser.add_argument("--model", metavar="NAME", default=None,
                        help="fetch what this model needs: its own weights and the shared prompt and pose models "
                        "(GET /api/v1/models lists the names; default: the parts of --only)")
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

    from .generate import check_model_flags

    check_model_flags(args.models, args.model)
    settings = Settings.load({"models_dir": args.models} if args.models else None)
    parts = sources.parse_parts(args.only)
    presets = (tuple(p.strip() for p in args.pose_presets.split(",") if p.strip()) if args.pose_presets
               else sources.POSE_PRESET_NAMES)
    sources.zoo_files(("pose",), presets)  # validates the names before anything is asked of a server
    catalog = None
    if args.model:
        catalog = _model_catalog(args.model, args.fp16, parts if args.only else None, presets)
        parts = tuple(dict.fromkeys(f.part for f in (*catalog.hub, *catalog.zoo)))
    if args.no_progress:
        os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    download(settings.models_dir, parts, fp16=args.fp16, pose_presets=presets, dry_run=args.dry_run,
             progress=not args.no_progress, out=lambda line: print(line, flush=True), catalog=catalog)
    return 0


def _model_catalog(model: str, fp16: bool, parts: tuple[str, ...] | None, presets: tuple[str, ...]):
    from ..exceptions import InvalidInput
    from ..families import download_catalog, model_names

    try:
        return download_catalog(model, fp16=fp16, parts=parts, pose_presets=presets)
    except KeyError:
        raise InvalidInput(f"unknown model {model!r}", field="model", value=model,
                           hint=f"Use one of: {', '.join(model_names())}.") from None
