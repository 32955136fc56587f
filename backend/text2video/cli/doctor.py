"""`python manage.py doctor`: check this machine (Python, torch/CUDA, GPU memory, bf16, PyAV libx264, ONNX Runtime
providers, models, database, broker, disk) and print the memory preset generation would use.

Exit status: 0 ready (warnings allowed), 1 something needed is missing (each FAIL line says how to fix it)."""

from __future__ import annotations

import argparse
import json

HELP = "check GPU, libraries, models, database and broker; print the memory preset; exit 1 if not ready"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models", metavar="DIR", default=None,
                        help="models folder to check (default: TEXT2VIDEO_MODELS_DIR or ./models; 'demo' = demo)")
    parser.add_argument("--memory", choices=("auto", "high", "medium", "low"), default=None,
                        help="memory preset to evaluate (default: TEXT2VIDEO_MEMORY or auto)")
    parser.add_argument("--device", default=None, help="auto | cpu | cuda | cuda:N (default: TEXT2VIDEO_DEVICE)")
    parser.add_argument("--verify", action="store_true", help="also re-hash every model file (slow: ~10 GB read)")
    parser.add_argument("--json", action="store_true", help="machine-readable report on stdout")


def run(args: argparse.Namespace) -> int:
    from ..doctor import run_checks
    from ..settings import Settings

    settings = Settings.load({"models_dir": args.models, "memory": args.memory, "device": args.device})
    report = run_checks(settings, deep=args.verify)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        print(report.format())
    return 0 if report.ok else 1
