"""`python manage.py translate TEXT`: what the prompt stage makes of a prompt (language, English, CLIP tokens)."""

from __future__ import annotations

import argparse
import json

HELP = "translate a prompt to the English the video model gets (detect Vietnamese, envit5, CLIP 77-token check)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", nargs="+", help="the prompt (quote it, or give several words)")
    parser.add_argument("--lang", default="auto", help="auto (detect) | vi (always translate) | en (use as is)")
    parser.add_argument("--negative", action="store_true", help="check it as a negative prompt")
    parser.add_argument("--models", default=None,
                        help="models folder, or `demo` for tiny random weights (default: TEXT2VIDEO_MODELS_DIR or ./models)")
    parser.add_argument("--device", default=None, help="auto | cpu | cuda | cuda:N (default: settings)")
    parser.add_argument("--dtype", default=None, help="auto | fp32 | bf16 (fp16 is upgraded: T5 overflows in it)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    from ..models.demo import resolve_models_dir
    from ..prompt import PromptProcessor
    from ..settings import Settings

    settings = Settings.load({"models_dir": args.models, "device": args.device, "dtype": args.dtype})
    models_dir = resolve_models_dir(settings.models_dir)
    processor = PromptProcessor(models_dir, device=settings.device, dtype=settings.dtype,
                                max_chars=settings.prompt_max_chars)
    field = "negative_prompt" if args.negative else "prompt"
    result = processor.process(" ".join(args.text), lang=args.lang, field=field)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return 0
    how = "detected" if result.detected else "given"
    print(f"language:  {result.language} ({how})")
    print(f"english:   {result.english}" + ("" if result.translated else "   (used as is, not translated)"))
    if result.token_count is None:
        print("tokens:    unknown (no CLIP tokenizer in the models folder)")
    else:
        print(f"tokens:    {result.token_count} / {result.max_tokens} CLIP tokens")
        if result.dropped_words:
            print(f"dropped:   {' '.join(result.dropped_words)}")
    for warning in result.warnings:
        print(f"warning:   {warning}")
    return 0
