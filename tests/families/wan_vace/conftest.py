"""A tiny Wan VACE models folder (both variants, DEMO marker as in the real demo root), built once per session."""

from __future__ import annotations

from pathlib import Path

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
