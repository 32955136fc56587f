"""Wan VACE through the engine on demo weights: a raw video goes through the whole-body pose preset (133 points in
keypoints.json) and is drawn in VACE's style (re-drawing keypoints.json with the family's drawing gives the
skeleton video's frames), the hands only when asked; the CLI runs a Wan job with a character photo end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tests.cli.helpers import manage
from tests.pose.scenes import draw_scene, write_video
from text2video.engine import Engine
from text2video.families.wan_vace.drawing import draw_pose
from text2video.pose.skeleton import render_skeleton
from text2video.request import GenerationRequest
from text2video.video import read_frames

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SIZE = 256


@pytest.fixture(scope="module")
def walker(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("wan-raw") / "walker.mp4", [draw_scene(f) for f in range(12)])


@pytest.fixture(scope="module")
def engine(demo_models):
    return Engine(demo_models, device="cpu", dtype="fp32")


def wan_job(engine, video, out, **kw):
    request = GenerationRequest(video=video, prompt="a robot dancing", model="wan-vace-1.3b", steps=1, frames=5,
                                width=SIZE, height=SIZE, seed=1, input_type="video", **kw)
    return engine.generate(request, out)


def people_of(frame: dict) -> list[np.ndarray]:
    return [np.array([[np.nan if x is None else x, np.nan if y is None else y] for x, y, *_ in p["keypoints"]])
            for p in frame["people"] if p["subject"]]


@pytest.mark.parametrize("hands", [False, True])
def test_a_raw_video_is_drawn_from_133_points_in_vaces_style(engine, walker, tmp_path, hands):
    result = wan_job(engine, walker, tmp_path, pose_hands=hands)
    assert result.frames == 5 and result.model == "wan-vace-1.3b"
    keypoints = json.loads((tmp_path / "keypoints.json").read_text())
    assert keypoints["preset"] == "wholebody" and len(keypoints["keypoint_names"]) == 133
    assert all(len(p["keypoints"]) == 133 for f in keypoints["frames"] for p in f["people"])
    skeleton = read_frames(tmp_path / "skeleton.mp4").astype(int)
    assert skeleton.shape == (5, SIZE, SIZE, 3)
    for frame, drawn in zip(keypoints["frames"], skeleton):
        people = people_of(frame)
        vace = draw_pose(people, SIZE, SIZE, hands=hands).astype(int)
        other = draw_pose(people, SIZE, SIZE, hands=not hands).astype(int)
        fyp = render_skeleton(people, SIZE, SIZE).astype(int)
        error = np.abs(drawn - vace).mean()  # H.264 is lossy: close, not equal
        assert error < 0.5 * np.abs(drawn - fyp).mean(), "drawn in Follow-Your-Pose's style, not VACE's"
        assert error < np.abs(drawn - other).mean(), f"the hands option ({hands}) was not applied"


def test_the_cli_runs_a_wan_job_with_a_character_photo(demo_models, skeleton_video, tmp_path):
    photo = tmp_path / "me.png"
    Image.new("RGB", (40, 64), (220, 40, 40)).save(photo)
    out = tmp_path / "out" / "wan.mp4"
    proc = manage("generate", "--model", "wan-vace-1.3b", "--models", "demo", "--reference-image", str(photo),
                  "--pose-video", str(skeleton_video), "--prompt", "Cô gái nhảy trên núi", "--out", str(out),
                  "--steps", "2", "--frames", "5", "--width", "80", "--height", "64", demo_dir=demo_models)
    assert proc.returncode == 0, proc.stderr
    assert "noise" in proc.stderr and "Traceback" not in proc.stderr  # demo weights say so
    frames = read_frames(out)
    assert frames.shape == (5, 64, 80, 3)
    assert "at 16 fps" in proc.stdout
