"""Tiny, seeded, randomly initialised models in the real on-disk layout (see ``layout.py``).

They let every loading and inference path run on a CPU in seconds. Their output is NOISE: every place that
uses them says so. Each stage builds its own part (``text2video.<stage>.demo.build_demo(root)``).
"""

from __future__ import annotations

import fcntl
import importlib
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

from ..messages import Message
from .layout import DEMO_MARKER, default_demo_dir

log = logging.getLogger(__name__)

# Bump when any stage's demo builder changes, so cached demo folders are rebuilt.
DEMO_VERSION = "2"
PARTS = ("diffusion", "prompt", "pose")
DEMO_WARNING = Message("demo.weights")


def build_demo_models(root: str | Path, parts: tuple[str, ...] = PARTS) -> Path:
    """Write every stage's demo model under ``root`` (overwrites)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for part in parts:
        module = importlib.import_module(f"text2video.{part}.demo")
        module.build_demo(root)
    (root / DEMO_MARKER).write_text(f"{DEMO_VERSION}\n{DEMO_WARNING}\n")
    return root


def is_current_demo(root: Path) -> bool:
    marker = root / DEMO_MARKER
    return marker.exists() and marker.read_text().splitlines()[:1] == [DEMO_VERSION]


def ensure_demo_models(root: str | Path | None = None) -> Path:
    """Build the demo folder once (process- and thread-safe) and return it."""
    root = Path(root) if root else default_demo_dir()
    if is_current_demo(root):
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(str(root) + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_current_demo(root):
            return root
        log.info("building tiny demo models in %s (once)", root)
        tmp = Path(tempfile.mkdtemp(prefix=".demo-build-", dir=root.parent))
        try:
            build_demo_models(tmp)
            if root.exists():
                shutil.rmtree(root)
            os.replace(tmp, root)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return root


def ensure_demo_part(root: Path, folder: str, build: Callable[[Path], Any]) -> Path:
    """A model family's own demo weights, ``root/folder``, built once by ``build(staging_root)`` the first time
    that family runs (process- and thread-safe; moved into place only when complete)."""
    target = Path(root) / folder
    if target.exists():
        return target
    with open(str(Path(root) / f".{Path(folder).name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.exists():
            return target
        log.info("building tiny demo weights in %s (once)", target)
        tmp = Path(tempfile.mkdtemp(prefix=".demo-part-", dir=root))
        try:
            build(tmp)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp / folder, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def resolve_models_dir(value: str | Path | None) -> Path:
    """``"demo"`` -> the (built on demand) demo folder; anything else -> that path."""
    if value is None or str(value) == "demo":
        return ensure_demo_models()
    return Path(value)
