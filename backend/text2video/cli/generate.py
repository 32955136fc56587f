"""`manage.py generate`: one video from the command line, through the same Engine as the queue worker.

    python manage.py generate --pose-video assets/sample_skeleton.mp4 --prompt "an astronaut on the beach" \\
        --out out/astronaut.mp4 --models demo --steps 4 --frames 8 --width 256 --height 256

Writes OUT.mp4 and, next to it, OUT.gif, OUT_side_by_side.mp4, OUT_skeleton.mp4 (and OUT_keypoints.json for raw
video input). Everything is generated in a hidden temporary folder beside OUT and moved into place only when the
whole job succeeded: a failed or interrupted run leaves no partial file.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from ..devices import DTYPES
from ..diffusion.compilation import COMPILE_MODES
from ..exceptions import InvalidInput
from ..models.layout import POSE_PRESETS

HELP = "generate a video from a reference (skeleton or raw) video and a prompt"

# engine file name -> suffix appended to OUT's stem
_OUTPUTS = {
    "result.mp4": ".mp4",
    "result.gif": ".gif",
    "side_by_side.mp4": "_side_by_side.mp4",
    "skeleton.mp4": "_skeleton.mp4",
    "keypoints.json": "_keypoints.json",
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..request import add_cli_flags
    from ..settings import Settings

    s = Settings.load()
    p.set_defaults(settings=s)  # loaded once per run, passed down to the request and the engine
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--pose-video", "--video", dest="video", metavar="PATH",
                     help="reference video: a ready-made skeleton video, or (with the pose stage) a raw video of "
                     "a person; the kind is detected unless --input-type says")
    p.add_argument("--reference-image", metavar="PATH", default=None,
                   help="a character photo (PNG, JPEG or WebP) for the models that take one (GET /api/v1/models)")
    p.add_argument("--out", required=True, metavar="OUT.mp4", help="output MP4; OUT.gif, OUT_side_by_side.mp4 "
                   "and OUT_skeleton.mp4 are written next to it")
    add_cli_flags(p, s)  # --prompt, --steps, --guidance-scale... from text2video.request
    p.add_argument("--models", default=str(s.models_dir), metavar="DIR|demo",
                   help=f"models FOLDER (default {s.models_dir}); 'demo' = tiny random weights (output is noise). "
                   "The model itself is --model")
    p.add_argument("--device", default=s.device, help="auto | cpu | cuda | cuda:N (default auto)")
    p.add_argument("--dtype", choices=DTYPES, default=s.dtype,
                   help="weights precision (default auto: fp16 on CUDA, bf16 on CPUs that support it, else fp32)")
    p.add_argument("--memory", default=s.memory, help="memory preset: auto | high | medium | low")
    own = "the model's own: balanced for Follow-Your-Pose, wholebody for Wan VACE"
    p.add_argument("--pose-preset", choices=POSE_PRESETS, default=s.pose_preset,
                   help=f"pose models for raw video input (default {s.pose_preset or own})")
    add_compile_flag(p, s.compile)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--preview", metavar="PATH.gif", default=None,
                   help=f"write a live preview GIF of the video being denoised there, every "
                   f"{s.preview_every_steps} steps (TEXT2VIDEO_PREVIEW_EVERY_STEPS); kept after success")


def add_compile_flag(p: argparse.ArgumentParser, default: str | None) -> None:
    """``--compile [MODE]``: a worker/CLI option (never a request field); the same flag on generate, worker, serve."""
    p.add_argument("--compile", nargs="?", const="default", choices=COMPILE_MODES, default=default, metavar="MODE",
                   help="torch.compile the UNet: faster steps after a slow first job (each new frames/size compiles "
                   f"once; compile cache in DATA_DIR/compile-cache). MODE: {' | '.join(COMPILE_MODES)} "
                   "(default when given: default; TEXT2VIDEO_COMPILE)")


def build_request(args: argparse.Namespace) -> Any:
    """The generation request of these flags, validated (bad input fails here, before any model loads)."""
    from ..request import cli_params, request_from_params

    check_model_flags(getattr(args, "models", None), getattr(args, "model", None))
    image = Path(args.reference_image) if getattr(args, "reference_image", None) else None
    return request_from_params(Path(args.video), cli_params(args), args.settings,
                               reference_image=image).validate(args.settings)


def check_model_flags(models: str | None, model: str | None) -> None:
    """``--models`` is the folder, ``--model`` the model: a name given to the wrong one says which was meant."""
    from ..families import model_names

    names = model_names()
    if models is not None and models in names and not Path(models).is_dir():
        raise InvalidInput(f"--models takes the models folder (or demo), and {models!r} is a model name",
                           field="models", value=models, hint=f"Use --model {models} (and --models DIR|demo).")
    if model is not None and model not in names and (model == "demo" or Path(model).is_dir() or "/" in model):
        raise InvalidInput(f"--model takes a model name ({', '.join(names)}), and {model!r} is a folder",
                           field="model", value=model, hint=f"Use --models {model} for the models folder.")


_BAR_LABELS = {"extracting_pose": "pose", "generating": "denoising"}


def output_paths(out: Path) -> dict[str, Path]:
    """Engine file name -> final path next to ``out``."""
    stem = out.with_suffix("")
    return {name: stem.parent / (stem.name + suffix) for name, suffix in _OUTPUTS.items()}


def _out_path(args: argparse.Namespace) -> Path:
    out = Path(args.out)
    if out.suffix.lower() != ".mp4":
        raise InvalidInput(f"--out must name an .mp4 file, got {args.out!r}", field="out", value=args.out,
                           hint="For example --out results/dance.mp4.")
    if args.preview is not None and Path(args.preview).suffix.lower() != ".gif":
        raise InvalidInput(f"--preview must name a .gif file, got {args.preview!r}", field="preview",
                           value=args.preview, hint="For example --preview results/preview.gif.")
    if out.exists() and out.is_dir():
        raise InvalidInput(f"--out {args.out!r} is a folder", field="out", value=args.out,
                           hint="Give a file name ending in .mp4.")
    return out


def run(args: argparse.Namespace) -> int:
    from ..engine import Engine, quiet_libraries

    out = _out_path(args)
    request = build_request(args)
    if not getattr(args, "verbose", False):
        quiet_libraries()
    engine = Engine(args.models, device=args.device, dtype=args.dtype, memory=args.memory,
                    pose_preset=args.pose_preset, settings=args.settings.replace(compile=args.compile))

    out.parent.mkdir(parents=True, exist_ok=True)
    if args.preview is not None:
        Path(args.preview).parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.stem}.", suffix=".tmp", dir=out.parent))
    bars: dict[str, Any] = {}
    said: list[str] = []
    try:
        from tqdm.auto import tqdm

        def on_progress(progress) -> None:
            stage = progress.stage.value
            for name in [n for n in bars if n != stage]:
                bars.pop(name).close()  # a finished stage's bar
            if stage == "generating" and "english_prompt" in progress.info and not said:
                said.append(progress.info["english_prompt"])
                tqdm.write(f"prompt (English): {progress.info['english_prompt']}", file=sys.stderr)
            if args.no_progress or progress.total == 0:
                return
            bar = bars.get(stage)
            if bar is None:
                bar = bars[stage] = tqdm(total=progress.total, desc=_BAR_LABELS.get(stage, stage),
                                         unit="step" if stage == "generating" else "frame", file=sys.stderr)
            bar.total = progress.total
            bar.n = progress.step
            bar.refresh()

        result = engine.generate(request, work, on_progress=on_progress, preview=args.preview)
        for bar in bars.values():
            bar.close()
        bars.clear()
        targets = output_paths(out)
        for name, path in result.files.items():
            os.replace(path, targets[name])
            result.files[name] = targets[name]
    finally:
        for bar in bars.values():
            bar.close()
        shutil.rmtree(work, ignore_errors=True)
    _print_result(result, args.preview)
    return 0


def _print_result(result: Any, preview: str | None) -> None:
    print(f"prompt used (English): {result.english_prompt}")
    if result.negative_prompt:
        print(f"negative prompt used: {result.negative_prompt}")
    print(f"language: {result.language}  seed: {result.seed}  frames: {result.frames} at {result.fps:g} fps  "
          f"size: {result.width}x{result.height}  device: {result.device}/{result.dtype}  "
          f"time: {result.timings.get('total', 0):.1f} s")
    if result.pose_summary:
        print(f"pose: {result.pose_summary}")
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for name in ("result.mp4", "result.gif", "side_by_side.mp4", "skeleton.mp4", "keypoints.json"):
        if name in result.files:
            print(f"wrote {result.files[name]}")
    if preview is not None and Path(preview).is_file():
        print(f"wrote {preview} (the last live preview)")
