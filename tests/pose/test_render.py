"""Rendering in the training style, checked against the reference skeleton videos in ../shared/data/skeleton."""

from __future__ import annotations

import numpy as np
import pytest

from tests.pose.scenes import PERSON_1080
from text2video.pose.skeleton import CENTER, LEFT, LIMBS, RIGHT, measure_style, render_skeleton, stroke_width

REFERENCE = "skeleton_solo_1080p30.mov"  # MPEG-4 at high quality: the cleanest of the reference renders


@pytest.fixture(scope="module")
def reference(shared_data):
    """A few full-size frames of the reference render (decoded once for the module)."""
    from text2video.video import iter_frames

    return list(iter_frames(shared_data / "skeleton" / REFERENCE, stride=30, max_frames=4))


def resized(frames, size):
    from text2video.video import resize_and_crop  # the same resize as skeleton input gets

    return [resize_and_crop(f, size, size) for f in frames]


def averaged_style(frames):
    styles = [measure_style(f) for f in frames]
    out = {}
    for name in ("left", "right", "center"):
        items = [s[name] for s in styles if s[name]]
        out[name] = {"color": np.median([i["color"] for i in items], axis=0),
                     "width": float(np.median([i["width"] for i in items]))}
    return out


def test_reference_frames_have_the_documented_colours(reference):
    ref = averaged_style(reference)
    for name, color in (("left", LEFT), ("right", RIGHT), ("center", CENTER)):
        np.testing.assert_allclose(ref[name]["color"], color, atol=6)


@pytest.mark.parametrize("size", [1080, 512])
def test_render_matches_reference_colours_and_stroke(reference, size):
    ref = averaged_style(resized(reference, size))
    mine = measure_style(render_skeleton([PERSON_1080 * size / 1080], size, size))
    for name in ("left", "right", "center"):
        np.testing.assert_allclose(mine[name]["color"], ref[name]["color"], atol=6, err_msg=name)
    # Stroke width, measured the same way on both (2 x area / perimeter per colour class): within 12 %.
    names = ("left", "right", "center")
    ref_w = np.median([ref[n]["width"] for n in names])
    my_w = np.median([mine[n]["width"] for n in names])
    assert abs(my_w - ref_w) / ref_w < 0.12, (size, my_w, ref_w)
    assert mine["black_fraction"] > 0.9


def test_stroke_is_about_one_percent_of_the_shorter_side():
    assert 11 <= stroke_width(1920, 1080) <= 12.5
    assert stroke_width(512, 768) == stroke_width(512, 512)


def test_sides_are_not_swapped():
    """The person's left forearm is green and the right one blue (the old prototype had red/blue swapped)."""
    frame = render_skeleton([PERSON_1080 / 2], 540, 540)
    lx, ly = (PERSON_1080[7] + PERSON_1080[9]) / 4  # middle of the left forearm
    rx, ry = (PERSON_1080[8] + PERSON_1080[10]) / 4
    np.testing.assert_array_equal(frame[int(ly), int(lx)], LEFT)
    np.testing.assert_array_equal(frame[int(ry), int(rx)], RIGHT)
    mx, my = (PERSON_1080[5] + PERSON_1080[6]) / 4  # middle of the shoulder line
    np.testing.assert_array_equal(frame[int(my), int(mx)], CENTER)


def test_limb_drawn_only_when_both_ends_known_and_no_joint_dots():
    kps = PERSON_1080.copy() / 2
    kps[9] = np.nan  # left wrist unknown
    kps[1:5] = np.nan  # eyes and ears unknown: the nose is left alone
    frame = render_skeleton([kps], 540, 540)
    lx, ly = (PERSON_1080[7] + PERSON_1080[9]) / 4
    assert frame[int(ly), int(lx)].max() == 0  # left forearm gone
    ux, uy = (PERSON_1080[5] + PERSON_1080[7]) / 4
    np.testing.assert_array_equal(frame[int(uy), int(ux)], LEFT)  # left upper arm still there
    nx, ny = PERSON_1080[0] / 2
    assert frame[int(ny) - 3:int(ny) + 4, int(nx) - 3:int(nx) + 4].max() == 0  # no dot on the lone nose
    assert frame.dtype == np.uint8 and frame.shape == (540, 540, 3)


def test_several_people_and_bad_shapes():
    a = PERSON_1080 / 4
    b = a + [140, 0]
    frame = render_skeleton([a, b], 400, 300)
    assert frame.shape == (300, 400, 3)
    assert frame[:, :200].any() and frame[:, 200:].any()
    assert not render_skeleton([], 64, 64).any()
    with pytest.raises(ValueError, match="17"):
        render_skeleton([np.zeros((18, 2))], 64, 64)
    assert len(LIMBS) == 19
