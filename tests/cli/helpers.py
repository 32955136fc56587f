"""``python manage.py ...`` as a user runs it: a subprocess on the session's demo models."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def manage(*args: str, demo_dir: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, TEXT2VIDEO_DEMO_MODELS_DIR=str(demo_dir), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=240)
