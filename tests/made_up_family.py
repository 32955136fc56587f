"""A made-up second model family for the tests of the generic plumbing (request, API, CLI, routing, models list):
it re-uses Follow-Your-Pose's runner and drawing with other rules (4k+1 frames, multiples of 16, a
``reference_image`` slot, no LoRAs or windows), and is registered only while a test asks for it. Registering it
is the one line a real family adds to ``text2video/families/__init__.py``."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from text2video.families import FAMILIES, Family, FrameRule, Slot, Variant
from text2video.families.follow_your_pose import FAMILY as FYP

MADE_UP = Family(
    name="made-up",
    title="Made-up (tests only)",
    variants=(Variant("made-up-1b", "made-up-1b", "Made-up 1B", "Exists only in the tests.", 4.0, "none"),
              Variant("made-up-9b", "made-up-9b", "Made-up 9B", "Exists only in the tests.", 30.0, "none")),
    slots=(Slot("video", "video", True, "The pose video."),
           Slot("reference_image", "image", False, "A character photo.")),
    runner=FYP.runner,
    draw_pose=FYP.draw_pose,
    frame_rule=FrameRule(step=4, offset=1),
    narrow={"width": {"minimum": 16, "maximum": 1280, "multiple_of": 16, "default": 320},
            "height": {"minimum": 16, "maximum": 1280, "multiple_of": 16, "default": 192},
            "frames": {"minimum": 5, "maximum": 81},
            "steps": {"default": 30, "maximum": 60},
            "scheduler": {"enum": ("ddim",)}},
    refuses=("loras", "window", "window_overlap", "anchor_first_frame"),
    default_frames=81,
    translate_default=False,
)


@contextmanager
def registered(family: Family = MADE_UP) -> Iterator[Family]:
    FAMILIES[family.name] = family
    try:
        yield family
    finally:
        del FAMILIES[family.name]
