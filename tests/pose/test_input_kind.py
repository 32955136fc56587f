"""Input-kind detection on every file of ../shared/data, forced kinds, and synthetic frames."""

from __future__ import annotations

import numpy as np
import pytest

from tests.media import shared_videos
from text2video.exceptions import InvalidInput
from text2video.pose.input_kind import detect_input_kind, frame_looks_like_skeleton
from text2video.pose.skeleton import render_skeleton


@pytest.mark.parametrize("path", shared_videos("skeleton"), ids=lambda p: p.name)
def test_skeleton_videos_are_detected(shared_data, path):
    assert detect_input_kind(path) == "skeleton"


@pytest.mark.parametrize("path", shared_videos("raw"), ids=lambda p: p.name)
def test_raw_videos_are_detected(shared_data, path):
    assert detect_input_kind(path) == "video"


def test_every_shared_file_is_covered(shared_data):
    assert len(shared_videos("skeleton")) >= 4 and len(shared_videos("raw")) >= 2


def test_forced_kinds_and_bad_value(walker_video):
    assert detect_input_kind(walker_video) == "video"  # a white figure on black is not a skeleton render
    assert detect_input_kind(walker_video, "skeleton") == "skeleton"
    assert detect_input_kind(walker_video, "video") == "video"
    with pytest.raises(InvalidInput) as err:
        detect_input_kind(walker_video, "pose")
    assert err.value.field == "input_type" and "pose" in str(err.value)



def test_rendered_skeleton_frame_votes_skeleton():
    person = np.array([[128, 60], [133, 56], [123, 56], [138, 58], [118, 58], [148, 80], [108, 80], [160, 105],
                       [96, 105], [168, 128], [88, 128], [140, 130], [116, 130], [144, 165], [112, 165],
                       [146, 200], [110, 200]], float)
    assert frame_looks_like_skeleton(render_skeleton([person], 256, 256)) is True
    assert frame_looks_like_skeleton(np.zeros((64, 64, 3), np.uint8)) is None  # black: no opinion
    rng = np.random.default_rng(0)
    assert frame_looks_like_skeleton(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)) is False


def test_reference_skeleton_video_used_as_is(shared_data, tmp_path):
    """A ready-made skeleton video goes through resized and cropped, keeping its style; no models needed."""
    from text2video.pose import prepare_pose_video
    from text2video.pose.skeleton import measure_style

    video = shared_data / "skeleton" / "skeleton_group_1080x1084p24.mp4"
    pv = prepare_pose_video(video, width=512, height=384, stride=5, max_frames=3, models_dir=tmp_path)
    assert pv.kind == "skeleton" and pv.frames.shape == (3, 384, 512, 3) and pv.fps == pytest.approx(24 / 5)
    style = measure_style(pv.frames[0])
    assert style["black_fraction"] > 0.8 and style["center"] is not None and style["right"] is not None
