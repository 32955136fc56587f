"""`python manage.py loras`: the style LoRAs in MODELS/loras, whether each can be used, and how to name them.

    python manage.py loras
    python manage.py loras --models demo --json
"""

from __future__ import annotations

import argparse
import json

HELP = "list the style LoRAs installed in MODELS/loras (use them with generate --lora NAME[:WEIGHT])"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models", metavar="DIR|demo", default=None,
                        help="models folder (default: TEXT2VIDEO_MODELS_DIR or ./models; 'demo' = demo)")
    parser.add_argument("--json", action="store_true", help="machine-readable list on stdout")


def run(args: argparse.Namespace) -> int:
    from ..families import lora_models
    from ..models.loras import MAX_LORAS, MAX_WEIGHT, MIN_WEIGHT, installed_loras, loras_dir
    from ..settings import Settings

    models = Settings.load({"models_dir": args.models}).models_dir
    found = installed_loras(models)
    if args.json:
        listed = [{**f.to_dict(), "models": lora_models(f.fits, f.width)} for f in found]
        print(json.dumps({"folder": str(loras_dir(models)), "loras": listed}, indent=2))
        return 0
    if not found:
        print(f"no LoRAs installed: copy LoRA files (*.safetensors; SD-1.x ones for Follow-Your-Pose, Wan2.1 ones "
              f"for Wan VACE) into {loras_dir(models)}")
        return 0
    print(f"{loras_dir(models)}  (use up to {MAX_LORAS} per job: --lora NAME[:WEIGHT], weight "
          f"{MIN_WEIGHT:g}..{MAX_WEIGHT:g})")
    for f in found:
        state = (f"{f.format}, {'+'.join(f.parts)}, for {', '.join(lora_models(f.fits, f.width)) or f.fits}"
                 if f.problem is None else f"NOT USABLE: {f.problem}")
        print(f"  {f.name:<28} {f.size_bytes / 2**20:8.1f} MB  {state}")
    return 0
