"""Follow-Your-Pose (Stable Diffusion 1.4 inflated to video, with a pose adapter): the declaration.

Its model code is :mod:`text2video.diffusion` (UNet3D, FollowYourPosePipeline, windows, preview, LoRA, compile);
:mod:`.runner` runs it for the engine. Everything here is plain data: importing it loads no model and no torch.
"""

from __future__ import annotations

from ...models import layout, sources
from ...models.loras import SD1
from ..base import Family, FrameRule, Slot, Variant

SCHEDULERS = ("ddim", "dpm++")  # what FollowYourPosePipeline.set_scheduler knows (tests check they agree)


def hub_files(variant: Variant, fp16: bool = False) -> tuple[sources.HubFile, ...]:
    """Its download: Stable Diffusion v1-4 in diffusers format and the Follow-Your-Pose weights."""
    return tuple(sources.hub_files(("diffusion",), fp16))


FAMILY = Family(
    name="follow-your-pose",
    title="Follow-Your-Pose",
    variants=(Variant(
        name="follow-your-pose", folder=layout.FYP_DIR, title="Follow-Your-Pose v1 (SD 1.4)",
        description="Text + pose video -> video at 512x512, 24 frames a window (long videos in overlapping "
                    "windows). The first model of this service; modest quality.",
        vram_gb=9.0, licence="MIT (code), CreativeML OpenRAIL-M (Stable Diffusion v1-4 weights)",
        needs=(f"{layout.SD_DIR}/model_index.json", layout.FYP_CHECKPOINT_DIR, layout.FYP_POSE_ENCODER)),),
    slots=(Slot("video", "video", True, "The reference dance video (a person filmed, or a skeleton video)."),),
    runner="text2video.families.follow_your_pose.runner:FypRunner",
    draw_pose="text2video.pose.skeleton:render_skeleton",
    frame_rule=FrameRule(),
    narrow={
        "width": {"minimum": 64, "maximum": 1024, "multiple_of": 64,
                  "description": "Output width in pixels, a multiple of 64."},
        "height": {"minimum": 64, "maximum": 1024, "multiple_of": 64,
                   "description": "Output height in pixels, a multiple of 64."},
        "scheduler": {"enum": SCHEDULERS},
    },
    prompt_tokens=77,  # CLIP ViT-L/14
    translate_default=True,
    pose_preset="balanced",
    sources=hub_files,
    presets="text2video.models.presets:choose_preset",
    preview="text2video.diffusion.preview:latents_to_rgb",
    lora_format=SD1,
)

__all__ = ["FAMILY", "SCHEDULERS"]
