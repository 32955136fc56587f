"""Fixtures of the video I/O tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.media import make_video


@pytest.fixture(scope="session")
def gop_video(tmp_path_factory) -> Path:
    """60 numbered frames, keyframe every 10: seeking has somewhere to land."""
    return make_video(tmp_path_factory.mktemp("video") / "gop.mp4", 60, gop=10)
