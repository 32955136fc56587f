"""Wan VACE's request rules for long videos: frames 4k+1 up to one window and any count above, a window of 4k+1
frames (default 81), an overlap of at most the window less 4; cache_threshold is Wan's own parameter."""

from __future__ import annotations

import pytest

from text2video.exceptions import InvalidInput
from text2video.families.base import FrameRule
from text2video.families.wan_vace import FAMILY
from text2video.request import default_window, family_params, parse_params
from text2video.settings import Settings

SETTINGS = Settings.load({}, environ={})


def judge(**fields):
    return parse_params({"prompt": "a girl dancing", "model": "wan-vace-1.3b", **fields}, SETTINGS)


def refused(**fields) -> dict:
    with pytest.raises(InvalidInput) as info:
        judge(**fields)
    return info.value.errors


def test_a_frame_rule_that_holds_up_to_one_window():
    rule = FrameRule(step=4, offset=1, any_above_window=True)
    assert rule.allows(81, 81) and not rule.allows(80, 81) and rule.allows(82, 81) and rule.allows(200, 81)
    assert rule.closest(80, 81) == 81 and rule.closest(200, 81) == 200
    assert rule.floor(80, 81) == 77 and rule.floor(120, 81) == 120
    assert rule.describe(81) == "4k+1 up to one window (81 frames), any count above (made in windows)"
    assert not FrameRule(step=4, offset=1).allows(200, 81)  # a plain rule ignores the window


def test_long_wan_videos_are_accepted_and_short_ones_keep_4k_plus_1():
    values = judge(frames=200)
    assert (values["frames"], values["window"], values["window_overlap"]) == (200, 81, 17)
    assert values["cache_threshold"] == 0.0  # off unless asked (or set by the operator)
    assert "closest is 81" in refused(frames=80)["frames"]
    assert judge(frames=80, window=41)["frames"] == 80  # above its window: made in windows
    assert default_window(FAMILY, SETTINGS) == 81


def test_the_window_is_one_model_pass_and_the_overlap_leaves_new_frames():
    assert "closest is 81" in refused(window=80)["window"]
    assert "at most 77" in refused(window_overlap=78)["window_overlap"]
    assert judge(window_overlap=77)["window_overlap"] == 77
    assert "at most 17" in refused(window=21, window_overlap=18)["window_overlap"]
    assert set(refused(window=1021 + 4)) == {"window"}  # the longest window: the largest 4k+1 <= max frames


def test_follow_your_pose_keeps_its_own_window_rules():
    fyp = {"prompt": "a girl", "model": "follow-your-pose"}
    assert parse_params({**fyp, "window_overlap": 23}, SETTINGS)["window_overlap"] == 23  # < its default 24
    with pytest.raises(InvalidInput) as info:
        parse_params({**fyp, "window_overlap": 24}, SETTINGS)
    assert "smaller than the window (24)" in info.value.errors["window_overlap"]


def test_the_operator_can_set_a_cache_default():
    settings = Settings.load({}, environ={"TEXT2VIDEO_WAN_CACHE_THRESHOLD": "0.08"})
    assert parse_params({"prompt": "a", "model": "wan-vace-1.3b"}, settings)["cache_threshold"] == 0.08
    assert family_params(FAMILY)["cache_threshold"].resolve("maximum", settings) == 0.5


def test_capabilities_say_loras_preview_and_long_videos():
    assert FAMILY.capabilities() == {"slots": ["video", "reference_image"], "loras": True, "preview": True,
                                     "long_video": True}
