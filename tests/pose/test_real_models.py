"""The pose stage on the real MMPose-zoo models (skipped by default: run with -m real_weights after download)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import numpy as np

from tests.media import shared_videos
from text2video.models.layout import ModelPaths
from text2video.pose.parts import BODY, LEFT_HAND, RIGHT_HAND

ROOT = Path(__file__).resolve().parents[2]
MODELS = Path(os.environ.get("TEXT2VIDEO_MODELS_DIR") or ROOT / "models")

pytestmark = pytest.mark.real_weights


@pytest.fixture(scope="module", params=["balanced", "accurate", "wholebody"])
def preset(request):
    if not all(p.is_file() for p in ModelPaths(MODELS).pose_models(request.param)):
        pytest.skip(f"real {request.param} pose models not under {MODELS} (python manage.py download)")
    return request.param


@pytest.mark.parametrize("video", shared_videos("raw"), ids=lambda p: p.name)
def test_real_models_find_the_dancer(shared_data, preset, video):
    from text2video.pose import prepare_pose_video
    from text2video.pose.input_kind import frame_looks_like_skeleton

    pv = prepare_pose_video(video, width=512, height=512, stride=5, models_dir=MODELS, preset=preset)
    body = np.array([f.subject.status[BODY] for f in pv.report.frames if f.subject is not None])
    assert (body == 0).mean() > 0.8, pv.summary  # the body points (hands and face come and go with the view)
    assert pv.report.subject_seen.mean() > 0.9, pv.summary
    assert all(frame_looks_like_skeleton(f) for f in pv.frames[::5]), "our render must read as a skeleton video"
    # Anatomy sanity on well-detected frames: shoulders above hips, hips above ankles (image y grows down).
    for f in pv.report.frames:
        s = f.subject
        if s is None or (s.status[BODY] != 0).any():
            continue
        shoulders, hips, ankles = s.xy[[5, 6]].mean(0), s.xy[[11, 12]].mean(0), s.xy[[15, 16]].mean(0)
        assert shoulders[1] < hips[1] < ankles[1], (f.index, s.xy)
        if len(s.xy) == 133:  # DWPose: a seen hand starts at its wrist (within a fifth of the torso)
            torso = np.linalg.norm(shoulders - hips)
            for wrist, hand in ((9, LEFT_HAND), (10, RIGHT_HAND)):
                if (s.status[hand] == 0).all():
                    assert np.linalg.norm(s.xy[hand][0] - s.xy[wrist]) < 0.2 * torso, (f.index, wrist)
