"""Wan2.1 VACE (1.3B and 14B, Apache-2.0) on diffusers' own ``WanVACEPipeline``: the declaration.

Text + a pose video drawn as VACE's annotator draws it (:mod:`.drawing`) + an optional character photo
(``reference_image``). Its rules: frames 4k+1 (the VAE compresses time 4x), sides multiples of 16 (8x VAE x 2x2
patches), 16 fps, UniPC with the flow shift for the size, guidance 5.0, a 512-token UMT5 prompt. Facts:
``../shared/reference/wan-vace.md``. Everything here is plain data: importing it loads no model and no torch.
"""

from __future__ import annotations

from ...models.loras import WAN
from ...params import Param
from ..base import Family, FrameRule, Slot, Variant
from . import sources

PACKAGE = __name__


def hub_files(variant: Variant, fp16: bool = False) -> tuple:
    """Its download: the diffusers repository of the variant (bf16 weights as published; ``fp16`` changes nothing)."""
    return tuple(sources.hub_files(variant.name))


def _variant(name: str, title: str, description: str, vram_gb: float, width: int) -> Variant:
    folder = sources.FOLDERS[name]
    return Variant(name=name, folder=folder, title=title, description=description, vram_gb=vram_gb,
                   licence="Apache-2.0 (code and weights)", needs=(f"{folder}/model_index.json",), lora_width=width)


FAMILY = Family(
    name="wan-vace",
    title="Wan2.1 VACE",
    variants=(
        _variant("wan-vace-1.3b", "Wan2.1 VACE 1.3B",
                 "Text + pose video + an optional character photo -> 832x480 video at 16 fps, 81 frames a clip. "
                 "Much better than Follow-Your-Pose; keeps the look of the photo. About 18 GB of GPU memory with "
                 "everything on the GPU (estimated), less with offload.", 18.4, 1536),
        _variant("wan-vace-14b", "Wan2.1 VACE 14B",
                 "The large Wan VACE: best quality, made for 1280x720. Needs a large GPU (about 56 GB with "
                 "everything on it, about 15 GB with group offload, estimated) and much more time per step.",
                 56.0, 5120),
    ),
    slots=(Slot("video", "video", True, "The reference dance video (a person filmed, or a pose video drawn in "
                                        "VACE's style)."),
           Slot("reference_image", "image", False, "A photo of the character (PNG, JPEG or WebP), best on a white "
                                                   "background: the video keeps its look.")),
    runner=f"{PACKAGE}.runner:WanVaceRunner",
    draw_pose=f"{PACKAGE}.drawing:draw_pose",
    frame_rule=FrameRule(step=4, offset=1),
    narrow={
        "width": {"minimum": 64, "maximum": 1280, "multiple_of": 16, "default": 832,
                  "description": "Output width in pixels, a multiple of 16 (832 x 480 is the 1.3B's size)."},
        "height": {"minimum": 64, "maximum": 1280, "multiple_of": 16, "default": 480,
                   "description": "Output height in pixels, a multiple of 16."},
        # one clip: long videos in windows are not wired for Wan yet
        "frames": {"maximum": 81,
                   "description": "Frames to generate: 4k+1 (5, 9, ..., 81; the closest allowed count is "
                                  "suggested when another is asked). Absent = 81, capped by the video's length."},
        "guidance_scale": {"default": 5.0, "maximum": 20},
    },
    # stride: Wan samples the pose video at its own 16 fps; scheduler: UniPC with the flow shift, set by the runner;
    # long videos: not wired for Wan yet
    refuses=("stride", "scheduler", "window", "window_overlap", "anchor_first_frame"),
    own_params=(Param("conditioning_scale", "number", "How strongly the pose video steers the motion (1 = as "
                      "trained).", default=1.0, minimum=0.0, maximum=2.0),),
    default_frames=81,
    default_fps=16.0,
    prompt_tokens=512,  # UMT5-XXL
    translate_default=True,  # UMT5 read Vietnamese in pre-training, but Wan's captions were Chinese and English
    pose_preset="wholebody",
    sources=hub_files,
    presets=f"{PACKAGE}.presets:choose_preset",
    demo=f"{PACKAGE}.demo:build_demo",
    lora_format=WAN,  # its transformer's LoRAs, loaded per job by diffusers' load_lora_weights
    lora_defaults=f"{PACKAGE}.lora:recommended_params",  # step-distillation LoRAs' steps / guidance
    licence_note="Apache-2.0",
)

__all__ = ["FAMILY"]
