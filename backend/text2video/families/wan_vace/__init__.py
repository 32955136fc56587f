"""Wan2.1 VACE (1.3B and 14B, Apache-2.0) on diffusers' own ``WanVACEPipeline``: the declaration.

Text + a pose video drawn as VACE's annotator draws it (:mod:`.drawing`) + an optional character photo
(``reference_image``). Its rules: frames 4k+1 (the VAE compresses time 4x), sides multiples of 16 (8x VAE x 2x2
patches), 16 fps, UniPC with the flow shift for the size, guidance 5.0, a 512-token UMT5 prompt. Facts:
``../shared/reference/wan-vace.md``. Everything here is plain data: importing it loads no model and no torch.
"""

from __future__ import annotations

from ...models.loras import WAN
from ...params import Param
from ...settings import Settings
from ..base import Family, FrameRule, Slot, Variant
from . import sources

PACKAGE = __name__
DEFAULT_WINDOW = 81  # the clip length Wan2.1 was trained on (windows.py explains both)
DEFAULT_OVERLAP = 17  # 4*4+1: the carried frames fill whole latent frames


def _longest_clip(settings: Settings) -> int:
    """The longest window a job may ask for: the largest 4k+1 up to ``max_output_frames``."""
    return FrameRule(step=4, offset=1).floor(settings.max_output_frames)


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
    # 4k+1 for one pass (the VAE compresses time 4x); longer videos are made in windows and may have any count
    frame_rule=FrameRule(step=4, offset=1, any_above_window=True),
    narrow={
        "width": {"minimum": 64, "maximum": 1280, "multiple_of": 16, "default": 832,
                  "description": "Output width in pixels, a multiple of 16 (832 x 480 is the 1.3B's size)."},
        "height": {"minimum": 64, "maximum": 1280, "multiple_of": 16, "default": 480,
                   "description": "Output height in pixels, a multiple of 16."},
        "frames": {"description": "Frames to generate: 4k+1 up to one window (5, 9, ..., 81 with the default "
                                  "window; the closest allowed count is suggested when another is asked), any count "
                                  "above (made in windows). Absent = 81, capped by the video's length."},
        "guidance_scale": {"default": 5.0, "maximum": 20},
        # one model pass: 4k+1 (request.py checks it against the frame rule), at most the longest such video
        "window": {"default": DEFAULT_WINDOW, "minimum": 5, "maximum": _longest_clip,
                   "description": f"Long videos: frames per model pass, 4k+1 (absent = {DEFAULT_WINDOW}, the length "
                                  "Wan2.1 was trained on). Longer videos are made window after window, each "
                                  "continuing from the last frames of the one before."},
        "window_overlap": {"default": DEFAULT_OVERLAP, "maximum": lambda s: _longest_clip(s) - 4,
                           "description": f"Long videos: frames each window carries over from the one before "
                                          f"(absent = {DEFAULT_OVERLAP}, or the window less 4 for a shorter "
                                          "window); at most the window less 4."},
    },
    # stride: Wan samples the pose video at its own 16 fps; scheduler: UniPC with the flow shift, set by the runner;
    # anchor_first_frame: Follow-Your-Pose's attention anchor (Wan's windows carry frames and the photo instead)
    refuses=("stride", "scheduler", "anchor_first_frame"),
    own_params=(Param("conditioning_scale", "number", "How strongly the pose video steers the motion (1 = as "
                      "trained).", default=1.0, minimum=0.0, maximum=2.0),
                Param("pose_hands", "boolean", "Draw the hands (21 points each, whole-body pose) in the pose video, "
                      "as VACE's annotator can; its default pose video shows the body and the face only.",
                      default=False),
                Param("cache_threshold", "number", "First Block Cache: skips transformer work on steps where the "
                      "first block's output barely changes (higher = more skipped, faster, more risk of blur; "
                      "0 = off). Quality is not judged here: off by default.",
                      default=lambda s: s.wan_cache_threshold, minimum=0.0, maximum=0.5)),
    draw_options={"pose_hands": "hands"},
    default_frames=81,
    default_fps=16.0,
    prompt_tokens=512,  # UMT5-XXL
    translate_default=True,  # UMT5 read Vietnamese in pre-training, but Wan's captions were Chinese and English
    pose_preset="wholebody",
    cuda_dtype="bf16",  # Wan was trained in bf16, and its UMT5 text encoder overflows in fp16 (as T5 does)
    sources=hub_files,
    presets=f"{PACKAGE}.presets:choose_preset",
    demo=f"{PACKAGE}.demo:build_demo",
    preview=f"{PACKAGE}.preview:wan_latents_to_rgb",
    lora_format=WAN,  # its transformer's LoRAs, loaded per job by diffusers' load_lora_weights
    lora_defaults=f"{PACKAGE}.lora:recommended_params",  # step-distillation LoRAs' steps / guidance
    licence_note="Apache-2.0",
)

__all__ = ["FAMILY"]
