"""Pose-test fixtures: the demo ONNX models (real signatures) and small synthetic videos written with H.264."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pose.scenes import draw_scene, write_video


@pytest.fixture(scope="session")
def pose_models(tmp_path_factory) -> Path:
    """A models folder holding only the tiny demo pose models, built with the onnx helper API."""
    from text2video.pose.demo import build_demo

    return build_demo(tmp_path_factory.mktemp("pose-models"))


@pytest.fixture(scope="session")
def walker_video(tmp_path_factory) -> Path:
    """30 frames: a figure walking right; its right arm is hidden in frames 10-12; nobody in frames 20-21."""
    frames = [draw_scene(f, present=f not in (20, 21), hide_right_arm=f in (10, 11, 12)) for f in range(30)]
    return write_video(tmp_path_factory.mktemp("videos") / "walker.mp4", frames)


@pytest.fixture(scope="session")
def mostly_empty_video(tmp_path_factory) -> Path:
    """The figure only in frames 0-7 of 30."""
    frames = [draw_scene(f, present=f < 8) for f in range(30)]
    return write_video(tmp_path_factory.mktemp("videos") / "empty.mp4", frames)
