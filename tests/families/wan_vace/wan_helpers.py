"""Helpers for the Wan VACE tests (a module with a unique name: `conftest` imports clash across test folders)."""

from __future__ import annotations

import numpy as np


def pose_video(frames: int, width: int, height: int, seed: int = 0) -> np.ndarray:
    """A moving coloured square on black (a stand-in for a drawn pose video): (F, H, W, 3) uint8."""
    rng = np.random.default_rng(seed)
    video = np.zeros((frames, height, width, 3), np.uint8)
    colour = rng.integers(64, 256, 3, dtype=np.uint8)
    for i in range(frames):
        x = (i * 4) % max(1, width - 8)
        video[i, height // 4: height // 4 + 8, x:x + 8] = colour
    return video
