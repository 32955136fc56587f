"""Wan VACE's pose drawing, checked pixel by pixel against facts measured on VACE's own annotator.

How the facts were measured (outside the repository, not committed): ali-vilab/VACE's ``vace/annotators/dwpose/
util.py`` (``draw_bodypose`` / ``draw_handpose`` / ``draw_facepose``) was fed the same COCO-WholeBody keypoints the
way ``Wholebody.__call__`` (neck, OpenPose order) and ``PoseAnnotator.process`` (normalised candidate, subset with
the 0.3 thresholds, ``detected_map[..., ::-1]``, ``cv2.resize`` back with INTER_AREA / INTER_LANCZOS4) prepare them,
with numpy 2.4.6 and opencv-python-headless 4.13.0.92 (the project's pins) and matplotlib 3.11 (its hand colours).
The keypoints stood for detections on the frame resized to the annotator's working canvas (pixel centres aligned).

Agreement of ``draw_pose`` with the reference: 192 frames (6 sizes: 832x480, 480x832, 512x512, 1280x720, 64x64,
1920x1080; 8 scenes of 1-2 people incl. jittered poses, 15-20 % low-score points, 5 % unknown points, a person half
outside the frame; hands on/off; face on/off): 100 % of pixels identical, max abs difference 0, mean abs difference
0. Body-only input as ``FramePose.drawable()`` gives it ((17, 2), NaN = unknown): 24/24 frames identical to the
reference's body drawing. The values asserted below are those the reference drew for ``poses.dancer``.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.families.wan_vace.poses import dancer
from text2video.families.wan_vace.drawing import (
    COCO_OF_OPENPOSE, FACE, LEFT_HAND, LIMBS, OPENPOSE_NAMES, RIGHT_HAND, draw_pose, to_openpose18, working_size,
)
from text2video.pose.skeleton import KEYPOINT_NAMES, render_skeleton

# On screen (RGB), measured on the reference at 832x480, 1024x1024 and 512x512 alike: limb i's centre pixel ...
LIMB_CENTRES = [(0, 0, 153), (0, 51, 153), (0, 102, 153), (0, 153, 153), (0, 153, 102), (0, 153, 51), (0, 153, 0),
                (51, 153, 0), (102, 153, 0), (153, 153, 0), (153, 102, 0), (153, 51, 0), (153, 0, 0), (153, 0, 51),
                (153, 0, 102), (153, 0, 153), (102, 0, 153)]
# ... and joint j's centre pixel (OpenPose-18 order), full colour.
JOINT_CENTRES = [(0, 0, 255), (0, 85, 255), (0, 170, 255), (0, 255, 255), (0, 255, 170), (0, 255, 85), (0, 255, 0),
                 (85, 255, 0), (170, 255, 0), (255, 255, 0), (255, 170, 0), (255, 85, 0), (255, 0, 0), (255, 0, 85),
                 (255, 0, 170), (255, 0, 255), (170, 0, 255), (85, 0, 255)]
# Hand edge i's colour at its midpoint at 1024x1024 (the annotator's canvas = the frame: no resampling).
HAND_EDGE_COLOURS = [(0, 0, 255), (0, 77, 255), (0, 153, 255), (0, 229, 255), (0, 255, 204), (0, 255, 128),
                     (0, 255, 51), (25, 255, 0), (102, 255, 0), (179, 255, 0), (255, 255, 0), (255, 178, 0),
                     (255, 102, 0), (255, 25, 0), (255, 0, 51), (255, 0, 128), (255, 0, 204), (230, 0, 255),
                     (153, 0, 255), (77, 0, 255)]
HAND_EDGES = [(0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (0, 9), (9, 10), (10, 11), (11, 12),
              (0, 13), (13, 14), (14, 15), (15, 16), (0, 17), (17, 18), (18, 19), (19, 20)]
WHITE = (255, 255, 255)


def _openpose_xy(points: np.ndarray) -> np.ndarray:
    body = to_openpose18(points)
    return body[:, :2]


def _pixel(frame: np.ndarray, xy) -> tuple[int, int, int]:
    x, y = xy
    return tuple(int(v) for v in frame[int(round(y)), int(round(x))])


def test_working_canvas_is_the_annotators():
    # resize_image(frame, 1024): shorter side 1024, both sides rounded to multiples of 64
    assert working_size(832, 480) == (1792, 1024)
    assert working_size(480, 832) == (1024, 1792)
    assert working_size(512, 512) == (1024, 1024)
    assert working_size(1280, 720) == (1792, 1024)
    assert working_size(1920, 1080) == (1792, 1024)


def test_no_people_is_a_black_frame():
    frame = draw_pose([], 832, 480)
    assert frame.shape == (480, 832, 3) and frame.dtype == np.uint8
    assert not frame.any()


@pytest.mark.parametrize("size", [(832, 480), (1024, 1024), (512, 512)])
def test_limbs_are_dimmed_to_60_percent_with_red_and_blue_swapped(size):
    width, height = size
    person = dancer(width, height)
    frame = draw_pose([person[:17]], width, height)
    xy = _openpose_xy(person)
    centres = [_pixel(frame, (xy[a] + xy[b]) / 2) for a, b in LIMBS]
    assert centres == LIMB_CENTRES
    assert centres[0] == (0, 0, 153)  # neck -> right shoulder: dark blue on screen (red in ControlNet's images)
    assert centres[12] == (153, 0, 0)  # neck -> nose: dark red
    assert (frame.max(axis=2) == 0).mean() > 0.95  # black background


def test_frames_larger_than_the_working_canvas_are_upscaled_with_lanczos():
    # 1920x1080 > 1792x1024: the annotator upsamples with INTER_LANCZOS4, whose overshoot the reference shows as
    # 154 at the centre of limb 7 (INTER_AREA could never exceed the 153 of the dimmed limb).
    person = dancer(1920, 1080)
    frame = draw_pose([person[:17]], 1920, 1080)
    xy = _openpose_xy(person)
    centres = [_pixel(frame, (xy[a] + xy[b]) / 2) for a, b in LIMBS]
    assert centres[7] == (51, 154, 0)
    assert all(np.abs(np.subtract(got, want)).max() <= 1 for got, want in zip(centres, LIMB_CENTRES))


@pytest.mark.parametrize("size", [(832, 480), (1024, 1024), (512, 512)])
def test_joints_are_full_colour_dots_over_the_limbs(size):
    width, height = size
    person = dancer(width, height)
    frame = draw_pose([person], width, height)
    assert [_pixel(frame, p) for p in _openpose_xy(person)] == JOINT_CENTRES


def test_joint_dot_radius_and_stroke_half_width_are_4_on_the_annotators_canvas():
    person = dancer(1024, 1024)  # the frame is the working canvas: its pixels are the annotator's
    frame = draw_pose([person[:17]], 1024, 1024)
    x, y = (int(v) for v in person[9, :2])  # left wrist: joint 7, drawn at the truncated working pixel
    dot = (frame[y - 8:y + 9, x - 8:x + 9] == JOINT_CENTRES[7]).all(axis=-1)
    assert dot.sum() == 49 and dot[8].sum() == 9 and dot[:, 8].sum() == 9  # cv2 filled circle of radius 4
    xy = _openpose_xy(person)
    cx = int(round((xy[1, 0] + xy[2, 0]) / 2))  # across the horizontal neck -> right shoulder limb
    rows = np.nonzero((frame[:, cx] == LIMB_CENTRES[0]).all(axis=-1))[0]
    assert len(rows) == 9 and np.ptp(rows) == 8  # half-width 4: 2 x 4 + 1 rows (the reference: rows 422-430)


def test_stroke_width_at_832x480_is_the_working_stroke_scaled_down():
    # The reference's column across neck -> right shoulder at 832x480 is blue 110, 153, 153, 153, 76 (INTER_AREA of
    # the 9-row working stroke by 480/1024): coverage 4.22 px = 9 x 480 / 1024.
    person = dancer()
    frame = draw_pose([person[:17]], 832, 480)
    xy = _openpose_xy(person)
    column = frame[150:250, int(round((xy[1, 0] + xy[2, 0]) / 2))].astype(int)
    assert not column[:, :2].any()
    assert (column[:, 2] == 153).sum() == 3
    assert column[:, 2].sum() / 153 == pytest.approx(9 * 480 / 1024, abs=0.05)


def test_face_is_68_white_dots_of_radius_3():
    person = dancer(1024, 1024)
    frame = draw_pose([person], 1024, 1024)
    face = person[FACE, :2]
    assert {_pixel(frame, (int(x), int(y))) for x, y in face} == {WHITE}
    x, y = (int(v) for v in face[17])
    assert (frame[y, x - 5:x + 6] == 255).all(axis=-1).sum() == 7  # 2 x 3 + 1 across
    assert (frame[y - 5:y + 6, x] == 255).all(axis=-1).sum() == 7
    white = (frame == 255).all(axis=-1).astype(np.uint8)
    assert cv2.connectedComponents(white)[0] - 1 == 68  # one blob per landmark (background excluded)
    small = draw_pose([dancer()], 832, 480)
    assert {_pixel(small, (int(x), int(y))) for x, y in dancer()[FACE, :2]} == {WHITE}


def test_face_can_be_left_out_and_body_only_input_draws_no_face():
    assert not (draw_pose([dancer()], 832, 480, face=False) == 255).all(axis=-1).any()
    assert not (draw_pose([dancer()[:17]], 832, 480) == 255).all(axis=-1).any()


def test_hands_are_rainbow_lines_with_red_dots_when_asked():
    person = dancer(1024, 1024)
    frame = draw_pose([person], 1024, 1024, hands=True)
    for part in (LEFT_HAND, RIGHT_HAND):
        hand = person[part, :2]
        mids = [_pixel(frame, ((hand[a] + hand[b]) / 2 + 0.5).astype(int)) for a, b in HAND_EDGES]
        assert mids == HAND_EDGE_COLOURS
        assert {_pixel(frame, (int(x), int(y))) for x, y in hand} == {(255, 0, 0)}  # (0, 0, 255) before the swap
    finger = person[LEFT_HAND, :2][9:11]  # an upright finger: the 2-px cv2 line is 3 pixels across
    x, y = int(finger[0, 0]), int(finger.mean(axis=0)[1])
    assert [_pixel(frame, (x + d, y)) for d in range(-3, 4)] == [(0, 0, 0)] * 2 + [(179, 255, 0)] * 3 + [(0, 0, 0)] * 2


def test_hands_are_off_by_default():
    person = dancer()
    frame = draw_pose([person], 832, 480)
    x0, y0 = person[LEFT_HAND, :2].min(axis=0).astype(int) - 5
    x1, y1 = person[LEFT_HAND, :2].max(axis=0).astype(int) + 5
    assert not frame[y0:y1, x0:x1].any()


def test_score_thresholds_are_the_annotators():
    # body joints need a score above 0.3; face and hand points need at least 0.3 (its subset vs. un_visible tests)
    person = dancer(1024, 1024)
    x, y = (int(v) for v in person[9, :2])
    for score, drawn in ((0.3, False), (0.3000001, True)):
        person[9, 2] = score
        window = draw_pose([person], 1024, 1024)[y - 8:y + 9, x - 8:x + 9]
        assert (window == JOINT_CENTRES[7]).all(axis=-1).any() == drawn
    fx, fy = (int(v) for v in person[40, :2])
    for score, drawn in ((0.2999999, False), (0.3, True)):
        person[40, 2] = score
        window = draw_pose([person], 1024, 1024)[fy - 1:fy + 2, fx - 1:fx + 2]
        assert (window == 255).all(axis=-1).any() == drawn


def test_neck_and_its_limbs_need_both_shoulders():
    person = dancer()
    xy = _openpose_xy(person)
    person[5, 2] = 0.3  # left shoulder too unsure: no neck (as the annotator's neck score)
    frame = draw_pose([person[:17]], 832, 480)
    assert _pixel(frame, xy[1]) == (0, 0, 0)
    for limb, (a, b) in enumerate(LIMBS):
        drawn = _pixel(frame, (xy[a] + xy[b]) / 2) == LIMB_CENTRES[limb]
        assert drawn == (1 not in (a, b) and 5 not in (a, b)), (limb, a, b)


def test_takes_the_same_people_as_render_skeleton():
    # FramePose.drawable(): (17, 2) x, y with NaN rows for missing points
    person = dancer()[:17]
    drawable = person[:, :2].copy()
    drawable[[7, 9]] = np.nan  # left elbow and wrist missing
    scored = person.copy()
    scored[[7, 9], 2] = 0.0
    assert np.array_equal(draw_pose([drawable], 832, 480), draw_pose([scored], 832, 480))
    assert np.array_equal(draw_pose(iter([drawable]), 832, 480), draw_pose([scored], 832, 480))
    assert render_skeleton([drawable], 832, 480).shape == draw_pose([drawable], 832, 480).shape
    xy = _openpose_xy(person)
    frame = draw_pose([drawable], 832, 480)
    assert _pixel(frame, (xy[5] + xy[6]) / 2) == (0, 0, 0)  # left shoulder -> elbow is not drawn


def test_people_outside_or_on_the_frame_border_are_clipped_not_refused():
    person = dancer()
    person[:, 0] -= 400  # half of the dancer is left of the frame
    frame = draw_pose([person], 832, 480, hands=True)
    assert frame.any() and frame.shape == (480, 832, 3)


def test_bad_input_names_the_person_and_the_shape():
    with pytest.raises(ValueError, match=r"people\[1\].*\(17, 2\+\).*\(133, 2\+\).*got \(18, 2\)"):
        draw_pose([dancer(), np.zeros((18, 2))], 832, 480)
    with pytest.raises(ValueError, match="width and height"):
        draw_pose([], 0, 480)


def test_to_openpose18_orders_the_body_as_openpose():
    coco = np.c_[np.arange(17) * 10.0, np.arange(17) * 10.0 + 1, np.full(17, 0.8)]
    body = to_openpose18(coco)
    assert body.shape == (18, 3)
    for i, name in enumerate(OPENPOSE_NAMES):
        if name == "neck":
            continue
        assert KEYPOINT_NAMES[COCO_OF_OPENPOSE[i]] == name
        assert tuple(body[i]) == tuple(coco[KEYPOINT_NAMES.index(name)])
    assert tuple(body[1]) == (55.0, 56.0, 1.0)  # neck: the shoulders' midpoint (COCO 5 and 6), score 1


def test_to_openpose18_neck_is_unknown_unless_both_shoulders_are_seen():
    coco = np.c_[np.arange(17) * 10.0, np.arange(17) * 10.0, np.full(17, 0.8)]
    coco[6, 2] = 0.3
    assert np.isnan(to_openpose18(coco)[1, :2]).all() and to_openpose18(coco)[1, 2] == 0.0
    xy = coco[:, :2].copy()
    xy[5] = np.nan  # (17, 2): known points score 1, NaN points are unknown
    body = to_openpose18(xy)
    assert body[1, 2] == 0.0 and body[5, 2] == 0.0 and np.isnan(body[5, :2]).all()
    assert body[0, 2] == 1.0 and body[2, 2] == 1.0


def test_to_openpose18_takes_the_body_of_wholebody_points():
    person = dancer()
    assert np.array_equal(to_openpose18(person), to_openpose18(person[:17]), equal_nan=True)
