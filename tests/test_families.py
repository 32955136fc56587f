"""The family declarations (text2video.families): plain data, cheap to import, and rules that say what they mean."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT
from text2video.families import FAMILIES, Family, FrameRule, Slot, Variant, family_for, model_names
from text2video.families.follow_your_pose import FAMILY as FYP


def test_declarations_import_no_torch():
    """The API process imports every declaration (validation, OpenAPI, /models): no torch, no diffusers there."""
    code = ("import sys; import text2video.families, text2video.request, text2video.api.schemas; "
            "heavy = [m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules]; "
            "assert not heavy, heavy")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT / "backend", capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("n,allowed,closest,floor", [(1, True, 1, 1), (3, False, 1, 1), (4, False, 5, 1),
                                                      (80, False, 81, 77), (81, True, 81, 81), (83, False, 81, 81)])
def test_the_4k_plus_1_rule(n, allowed, closest, floor):
    rule = FrameRule(step=4, offset=1)
    assert (rule.allows(n), rule.closest(n), rule.floor(n)) == (allowed, closest, floor)
    assert rule.allows(rule.closest(n)) and rule.allows(rule.floor(n))


def test_any_count_rule_allows_every_positive_count():
    assert all(FrameRule().allows(n) and FrameRule().closest(n) == n for n in range(1, 50))
    assert not FrameRule().allows(0) and FrameRule().describe() == "any count"


def test_follow_your_pose_is_the_registered_default():
    assert list(FAMILIES) == ["follow-your-pose", "wan-vace"] and model_names()[0] == "follow-your-pose"
    assert family_for("follow-your-pose") == (FYP, FYP.variants[0])
    assert FYP.capabilities() == {"slots": ["video"], "loras": True, "preview": True, "long_video": True}
    with pytest.raises(KeyError):
        family_for("no-such-model")


def test_a_declaration_that_contradicts_itself_is_refused_at_import():
    base = dict(name="x", title="X", variants=(Variant("x", "x", "X", "", 1.0, "none"),),
                slots=(Slot("video", "video", True, ""),), runner=FYP.runner, draw_pose=FYP.draw_pose)
    with pytest.raises(ValueError, match="no variant"):
        Family(**{**base, "variants": ()})
    with pytest.raises(ValueError, match="'video' slot"):
        Family(**{**base, "slots": (Slot("reference_image", "image", False, ""),)})
    with pytest.raises(ValueError, match="unknown parameters"):
        Family(**base, refuses=("no_such_param",)).params(())
