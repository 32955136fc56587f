"""Pose-test fixtures: the demo ONNX models (real signatures) and small synthetic videos written with H.264."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

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
