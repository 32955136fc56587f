"""Paths to ../shared/data for parametrize (imported by name: `conftest` is ambiguous when several folders have one)."""

from __future__ import annotations

from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def shared_videos(kind: str) -> list[Path]:
    folder = SHARED_DATA / kind
    return sorted(folder.iterdir()) if folder.is_dir() else []
