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

from ..exceptions import InvalidInput

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
    from ..settings import Settings

    s = Settings.load()
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--pose-video", "--video", dest="video", metavar="PATH",
                     help="reference video: a ready-made skeleton video, or (with the pose stage) a raw video of "
                     "a person; the kind is detected unless --input-type says")
    p.add_argument("--prompt", required=True, help="what to generate, in English or Vietnamese")
    p.add_argument("--out", required=True, metavar="OUT.mp4", help="output MP4; OUT.gif, OUT_side_by_side.mp4 "
                   "and OUT_skeleton.mp4 are written next to it")
    p.add_argument("--models", default=str(s.models_dir), metavar="DIR|demo",
                   help=f"models folder (default {s.models_dir}); 'demo' = tiny random weights (output is noise)")
    p.add_argument("--steps", type=int, default=s.steps, help=f"denoising steps (default {s.steps})")
    p.add_argument("--guidance-scale", type=float, default=s.guidance_scale,
                   help=f"classifier-free guidance (default {s.guidance_scale}; 1 = off)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: random, printed)")
    p.add_argument("--negative-prompt", default=None, help="what to avoid")
    p.add_argument("--frames", type=int, default=None,
                   help=f"frames to generate (default: up to {s.frames}, as many as the video gives)")
    p.add_argument("--stride", type=int, default=s.stride, help=f"use every k-th video frame (default {s.stride})")
    p.add_argument("--width", type=int, default=s.width, help=f"output width, multiple of 64 (default {s.width})")
    p.add_argument("--height", type=int, default=s.height,
                   help=f"output height, multiple of 64 (default {s.height})")
    p.add_argument("--scheduler", choices=("ddim", "dpm++"), default=s.scheduler,
                   help=f"sampler (default {s.scheduler}; dpm++ needs fewer steps)")
    p.add_argument("--device", default=s.device, help="auto | cpu | cuda | cuda:N (default auto)")
    p.add_argument("--dtype", choices=("auto", "fp32", "fp16", "bf16"), default=s.dtype,
                   help="weights precision (default auto: fp16 on CUDA, bf16 on CPUs that support it, else fp32)")
    p.add_argument("--memory", default=s.memory, help="memory preset: auto | high | medium | low")
    p.add_argument("--lang", choices=("auto", "vi", "en"), default="auto", help="prompt language (default auto)")
    p.add_argument("--input-type", choices=("auto", "video", "skeleton"), default="auto",
                   help="force the kind of --video (default: detected)")
    p.add_argument("--window", type=int, default=None,
                   help="long videos: frames denoised together (default 24; longer videos go in overlapping "
                   "windows)")
    p.add_argument("--window-overlap", type=int, default=None, help="frames shared by neighbouring windows "
                   "(default 8)")
    p.add_argument("--no-anchor", dest="anchor_first_frame", action="store_false",
                   help="long videos: let each window use its own first frame instead of the video's (to compare)")
    p.add_argument("--pose-preset", choices=("balanced", "accurate"), default=s.pose_preset,
                   help=f"pose models for raw video input (default {s.pose_preset})")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--preview", metavar="PATH.gif", default=None,
                   help=f"write a live preview GIF of the video being denoised there, every "
                   f"{s.preview_every_steps} steps (TEXT2VIDEO_PREVIEW_EVERY_STEPS); kept after success")


_BAR_LABELS = {"extracting_pose": "pose", "generating": "denoising"}


def _quiet_libraries() -> None:
    """Keep the terminal to our progress bar: no per-file weight-loading bars or config chatter."""
    try:
        import diffusers
        import transformers

        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
        diffusers.utils.logging.set_verbosity_error()
        diffusers.utils.logging.disable_progress_bar()
    except (ImportError, AttributeError):
        pass


def output_paths(out: Path) -> dict[str, Path]:
    """Engine file name -> final path next to ``out``."""
    stem = out.with_suffix("")
    return {name: stem.parent / (stem.name + suffix) for name, suffix in _OUTPUTS.items()}


def run(args: argparse.Namespace) -> int:
    from ..engine import Engine, GenerationRequest

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
    request = GenerationRequest(
        video=Path(args.video), prompt=args.prompt, negative_prompt=args.negative_prompt, lang=args.lang,
        input_type=args.input_type, steps=args.steps, guidance_scale=args.guidance_scale, seed=args.seed,
        frames=args.frames, stride=args.stride, width=args.width, height=args.height, scheduler=args.scheduler,
        window=args.window, window_overlap=args.window_overlap,
        anchor_first_frame=args.anchor_first_frame)
    # Fail on bad input before loading any model.
    from ..settings import Settings

    request.validate(max_frames=Settings.load().max_output_frames)
    if not getattr(args, "verbose", False):
        _quiet_libraries()
    engine = Engine(args.models, device=args.device, dtype=args.dtype, memory=args.memory,
                    pose_preset=args.pose_preset)

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
    if args.preview is not None and Path(args.preview).is_file():
        print(f"wrote {args.preview} (the last live preview)")
    return 0
