"""The wholebody preset (YOLOX-L + DWPose, 133 keypoints) end to end on demo models with the real signatures."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.pose.scenes import draw_scene, figure_box, write_video
from text2video.models.layout import POSE_PRESETS
from text2video.pose import prepare_pose_video
from text2video.pose.parts import FACE, LEFT_HAND, RIGHT_HAND, WHOLEBODY_NAMES
from text2video.pose.repair import DETECTED, MISSING, REPAIRED
from text2video.pose.skeleton import render_skeleton

OUT = 256


def test_demo_models_have_the_real_exports_signatures(pose_models):
    import onnxruntime as ort

    entry = POSE_PRESETS["wholebody"]
    det = ort.InferenceSession(str(pose_models / entry["detector"]))
    assert [(i.name, i.shape) for i in det.get_inputs()] == [("images", [1, 3, 640, 640])]
    assert [(o.name, o.shape) for o in det.get_outputs()] == [("output", [1, 8400, 85])]  # raw head, no NMS
    pose = ort.InferenceSession(str(pose_models / entry["pose"]))
    assert [(i.name, i.shape) for i in pose.get_inputs()] == [("input", [1, 3, 384, 288])]
    assert [(o.name, o.shape) for o in pose.get_outputs()] == [("simcc_x", [1, 133, 576]),
                                                               ("simcc_y", [1, 133, 768])]


def _hand_hidden_video(tmp_path, hidden):
    """The walker with a dark patch over its right hand (and wrist) in the ``hidden`` frames."""
    frames = []
    for f in range(30):
        frame = draw_scene(f)
        if f in hidden:
            x1 = figure_box(f)[0]
            frame[275:325, x1:x1 + 32] = 0
        frames.append(frame)
    return write_video(tmp_path / f"hand-{len(hidden)}.mp4", frames)


@pytest.fixture(scope="module")
def hand_gone_briefly(tmp_path_factory, pose_models):
    video = _hand_hidden_video(tmp_path_factory.mktemp("wb"), range(10, 12))
    return prepare_pose_video(video, width=OUT, height=OUT, stride=1, models_dir=pose_models, preset="wholebody")


def test_133_keypoints_follow_the_person_and_the_body_drawing_is_unchanged(hand_gone_briefly):
    pv = hand_gone_briefly
    subject = pv.report.frames[5].subject
    assert subject.xy.shape == (133, 2) and subject.scores.shape == (133,)
    assert (subject.status == DETECTED).all()
    # the hands hang near their wrists, the face around the nose
    assert np.linalg.norm(subject.xy[LEFT_HAND][0] - subject.xy[9]) < 8
    assert np.linalg.norm(subject.xy[RIGHT_HAND][0] - subject.xy[10]) < 8
    assert np.linalg.norm(subject.xy[FACE].mean(axis=0) - subject.xy[0]) < 8
    # Follow-Your-Pose's drawing reads the 17 body points only: the same pixels as drawing those points alone.
    for f in (0, 10, 29):
        body = pv.report.frames[f].drawable()[0][:17]
        assert np.array_equal(pv.frames[f], render_skeleton([body], OUT, OUT))


def test_a_hand_gone_for_two_frames_is_repaired_and_reported(hand_gone_briefly):
    report = hand_gone_briefly.report
    status = np.array([f.subject.status for f in report.frames])
    assert (status[10:12, RIGHT_HAND] == REPAIRED).all()
    assert (status[:10, RIGHT_HAND] == DETECTED).all() and (status[12:, RIGHT_HAND] == DETECTED).all()
    rows = {r["part"]: r["status"] for r in report.part_timeline()["rows"]}
    assert list(rows) == ["head", "left arm", "right arm", "left leg", "right leg", "left hand", "right hand", "face"]
    assert rows["right hand"] == "d" * 10 + "rr" + "d" * 18 and rows["left hand"] == "d" * 30
    summary = report.summary()
    assert "Right hand repaired in frames 10\u201311" in summary
    assert {"code": "pose.part_repaired", "params": {"part": {"code": "pose.part.right_hand", "params": {}},
            "frames": {"code": "pose.frames", "params": {"list": "10\u201311"}}}} in summary.items


def test_a_hand_gone_for_twenty_frames_is_missing_there(tmp_path, pose_models):
    video = _hand_hidden_video(tmp_path, range(5, 25))
    report = prepare_pose_video(video, width=OUT, height=OUT, stride=1, models_dir=pose_models,
                                preset="wholebody").report
    status = np.array([f.subject.status for f in report.frames])
    xy = np.array([f.subject.xy for f in report.frames])
    assert (status[5:25, RIGHT_HAND] == MISSING).all() and np.isnan(xy[5:25, RIGHT_HAND]).all()
    assert (status[:5, RIGHT_HAND] == DETECTED).all() and (status[25:, RIGHT_HAND] == DETECTED).all()
    assert "Right hand missing in frames 5\u201324" in report.summary()


def test_keypoints_json_carries_133_points_and_the_part_ranges(hand_gone_briefly, tmp_path):
    data = json.loads(hand_gone_briefly.save_keypoints(tmp_path / "keypoints.json").read_text())
    assert data["version"] == 2 and data["preset"] == "wholebody"
    assert data["keypoint_names"] == list(WHOLEBODY_NAMES) and len(data["keypoint_names"]) == 133
    assert data["parts"] == {"body": [0, 17], "feet": [17, 23], "face": [23, 91], "left_hand": [91, 112],
                             "right_hand": [112, 133]}
    person = data["frames"][10]["people"][0]
    assert len(person["keypoints"]) == 133
    assert person["keypoints"][112][3] == "repaired" and person["keypoints"][91][3] == "detected"
    timeline = data["part_status"]
    assert timeline["codes"] == ["detected", "repaired", "missing"] and timeline["frames"] == list(range(30))
    assert {r["part"]: r["status"][10] for r in timeline["rows"]}["right hand"] == "r"
