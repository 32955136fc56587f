"""Fixtures of the diffusion tests."""

from __future__ import annotations

import pytest
import torch

from text2video.diffusion import FollowYourPosePipeline


@pytest.fixture(scope="module")
def pipe(demo_models):
    """The demo pipeline (tiny random weights, real loading path), one per test module: tests may change its
    scheduler or memory savers."""
    p = FollowYourPosePipeline.from_models_dir(demo_models, device="cpu", torch_dtype=torch.float32)
    p.set_progress_bar_config(disable=True)
    return p
