"""`manage.py init-demo-models [DIR]`: write the tiny random demo models (real on-disk layout; output is noise)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

HELP = "write tiny random demo models (real layout, output is noise) for trying the app without downloads"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..models.layout import default_demo_dir

    p.add_argument("dir", nargs="?", default=None,
                   help=f"where to write them (default {default_demo_dir()}, where --models demo looks)")
    p.add_argument("--force", action="store_true", help="rebuild even if a current demo folder is there")


def _present_parts() -> tuple[str, ...]:
    """Stages whose demo builder is part of this build (all of them in a complete checkout)."""
    import importlib.util

    from ..models.demo import PARTS

    return tuple(p for p in PARTS if importlib.util.find_spec(f"text2video.{p}.demo") is not None)


def run(args: argparse.Namespace) -> int:
    from ..models.demo import DEMO_WARNING, build_demo_models, ensure_demo_models, is_current_demo
    from ..models.layout import default_demo_dir

    started = time.monotonic()
    if args.dir is None:
        root = default_demo_dir()
        if args.force and root.exists():
            import shutil

            shutil.rmtree(root)
        root = ensure_demo_models(root)  # locked and atomic: safe while a server uses the default folder
    else:
        root = Path(args.dir)
        if args.force or not is_current_demo(root):
            build_demo_models(root, parts=_present_parts())
    print(f"demo models in {root.resolve()} ({time.monotonic() - started:.1f} s)")
    print(f"note: {DEMO_WARNING}")
    print("use them with: python manage.py generate --models "
          f"{'demo' if args.dir is None else root} --pose-video assets/sample_skeleton.mp4 --prompt '...' "
          "--out out.mp4")
    return 0
