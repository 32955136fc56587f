"""Synthetic scenes for the pose tests (imported by name; `conftest` is ambiguous when several folders have one)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
FPS = 30
SIZE = (640, 480)  # w, h


def figure_box(f: int) -> tuple[int, int, int, int]:
    """x1, y1, x2, y2 of the bright "person" in frame f: walks to the right."""
    x1 = 180 + 6 * f
    return x1, 100, x1 + 140, 420


def draw_scene(f: int, *, present: bool = True, hide_right_arm: bool = False) -> np.ndarray:
    frame = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    if present:
        x1, y1, x2, y2 = figure_box(f)
        frame[y1:y2, x1:x2] = 220
        if hide_right_arm:
            # A dark patch over the image-left upper body (the right arm of someone facing the camera),
            # inside the box so the box itself does not change.
            w, h = x2 - x1, y2 - y1
            frame[y1 + int(0.2 * h):y1 + int(0.62 * h), x1 + int(0.06 * w):x1 + int(0.4 * w)] = 0
    return frame


def write_video(path: Path, frames) -> Path:
    from text2video.video import write_mp4

    write_mp4(frames, path, FPS)
    return path


# A standing person facing the camera, in a 1080 x 1080 frame (their left is on the image's right).
PERSON_1080 = np.array([
    [540, 300], [560, 280], [520, 280], [580, 290], [500, 290], [620, 400], [460, 400], [680, 520], [400, 520],
    [720, 640], [360, 640], [600, 650], [480, 650], [620, 820], [460, 820], [630, 980], [450, 980]], float)


def shared_videos(kind: str) -> list[Path]:
    """For parametrize: files of ../shared/data/<kind> (empty when absent; use with the shared_data fixture)."""
    folder = SHARED_DATA / kind
    return sorted(folder.iterdir()) if folder.is_dir() else []
