"""A tiny Wan VACE models folder (both variants, DEMO marker as in the real demo root), built once per session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def wan_models(tmp_path_factory) -> Path:
    from text2video.families.wan_vace.demo import build_demo
    from text2video.models.layout import DEMO_MARKER

    root = tmp_path_factory.mktemp("wan-demo")
    build_demo(root)
    (root / DEMO_MARKER).write_text("wan test\n")
    return root


@pytest.fixture(scope="session")
def wan_runner(wan_models):
    """One runner for the module's generations: the pipeline loads once, as in a worker."""
    import torch

    from text2video.families.wan_vace.runner import WanVaceRunner

    return WanVaceRunner(wan_models, "wan2.1-vace-1.3b", device="cpu", dtype=torch.float32)


def pose_video(frames: int, width: int, height: int, seed: int = 0) -> np.ndarray:
    """A moving coloured square on black (a stand-in for a drawn pose video): (F, H, W, 3) uint8."""
    rng = np.random.default_rng(seed)
    video = np.zeros((frames, height, width, 3), np.uint8)
    colour = rng.integers(64, 256, 3, dtype=np.uint8)
    for i in range(frames):
        x = (i * 4) % max(1, width - 8)
        video[i, height // 4: height // 4 + 8, x:x + 8] = colour
    return video
