"""Live preview for Wan VACE: the denoiser's current x0 estimate as approximate colours, without the VAE.

Projection: Wan 2.1's 16 latent channels map to RGB by a published least-squares fit (16 x 3 factors + a bias),
from ComfyUI ``comfy/latent_formats.py``, class ``Wan21``, attributes ``latent_rgb_factors`` and
``latent_rgb_factors_bias`` (github.com/comfyanonymous/ComfyUI, file as stored at commit 040a3243). The numbers
are facts; only they are taken. ComfyUI's map lands in [-1, 1]; halved with a bias of 0.5 here (as for SD-1.x in
:mod:`text2video.diffusion.preview`) it lands in [0, 1].

Which latents the factors read: ComfyUI samples Wan in normalised space (``process_in``: (raw - latents_mean) /
latents_std) and previews the sampler's x0 in that space, so the factors apply to *normalised* latents. diffusers
denoises in the same space: ``WanVACEPipeline`` normalises the VAE's latents with ``vae.config.latents_mean`` and
``latents_std`` (``prepare_video_latents``) and undoes it only before decoding; and ``AutoencoderKLWan``'s default
(and the published checkpoints') mean/std are ComfyUI's ``Wan21`` ones. So x0 in the callback is projected as it
is; :func:`to_projection_space` converts latents normalised with other statistics (a VAE with another config).

Frames: the VAE keeps video frame 0 as latent frame 0 and packs video frames 4i-3..4i into latent frame i >= 1,
so n latent frames stand for 4(n-1)+1 video frames; each latent frame is shown for the video frames it stands
for. With a reference image the pipeline puts one latent frame per image in front of the video's (the latents
the callback sees are (1, 16, refs + latent frames, h, w)); they are dropped.

x0: ``WanVACEPipeline`` exposes only ``latents``, ``prompt_embeds`` and ``negative_prompt_embeds`` to
``callback_on_step_end`` (``_callback_tensor_inputs``), and ``latents`` there is already the next step's x_{t-1}.
Flow matching predicts v, and x0 = x_t - sigma_t * v; diffusers' ``UniPCMultistepScheduler`` with
``prediction_type="flow_prediction"`` and ``predict_x0=True`` (Wan's scheduler config) computes exactly that in
``convert_model_output`` and keeps it as ``scheduler.model_outputs[-1]`` after ``step``: :func:`flow_x0` reads it
(no extra transformer call, no copy).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ...diffusion.preview import UPSCALE, LivePreview

TEMPORAL_STEP = 4  # AutoencoderKLWan's temporal compression

# Rows: latent channels 0-15; columns: R, G, B. ComfyUI comfy/latent_formats.py class Wan21 (see the docstring).
_WAN21_FACTORS = [
    [-0.1299, -0.1692, 0.2932], [0.0671, 0.0406, 0.0442], [0.3568, 0.2548, 0.1747], [0.0372, 0.2344, 0.1420],
    [0.0313, 0.0189, -0.0328], [0.0296, -0.0956, -0.0665], [-0.3477, -0.4059, -0.2925], [0.0166, 0.1902, 0.1975],
    [-0.0412, 0.0267, -0.1364], [-0.1293, 0.0740, 0.1636], [0.0680, 0.3019, 0.1128], [0.0032, 0.0581, 0.0639],
    [-0.1251, 0.0927, 0.1699], [0.0060, -0.0633, 0.0005], [0.3477, 0.2275, 0.2950], [0.1984, 0.0913, 0.1861],
]
_WAN21_BIAS = [-0.1835, -0.0868, -0.3360]
# the statistics the factors' latents were normalised with (ComfyUI Wan21 = AutoencoderKLWan's defaults)
WAN21_LATENTS_MEAN = (-0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508,
                      0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921)
WAN21_LATENTS_STD = (2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743,
                     3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.9160)
# [-1, 1] -> [0, 1]
WAN_LATENT_RGB_WEIGHT = torch.tensor(_WAN21_FACTORS) / 2
WAN_LATENT_RGB_BIAS = torch.tensor(_WAN21_BIAS) / 2 + 0.5


def video_frames_of(latent_frames: int) -> int:
    """How many video frames ``latent_frames`` latent frames decode to: 4(n-1)+1."""
    if latent_frames < 1:
        raise ValueError(f"a Wan video has at least one latent frame, got {latent_frames}")
    return TEMPORAL_STEP * (latent_frames - 1) + 1


def latent_frame_of(video_frame: int) -> int:
    """The latent frame holding ``video_frame``: 0 -> 0, 4i-3..4i -> i."""
    return (video_frame + TEMPORAL_STEP - 1) // TEMPORAL_STEP


def to_projection_space(latents: torch.Tensor, latents_mean: Sequence[float], latents_std: Sequence[float]
                        ) -> torch.Tensor:
    """Latents normalised with another VAE config's statistics -> normalised with Wan 2.1's (the factors' space).
    The published checkpoints use Wan 2.1's own, and then the latents come back unchanged."""
    if tuple(latents_mean) == WAN21_LATENTS_MEAN and tuple(latents_std) == WAN21_LATENTS_STD:
        return latents
    shape = (1, -1, 1, 1, 1)
    mean = torch.tensor(latents_mean, dtype=torch.float32, device=latents.device).view(shape)
    std = torch.tensor(latents_std, dtype=torch.float32, device=latents.device).view(shape)
    raw = latents.float() * std + mean
    return (raw - torch.tensor(WAN21_LATENTS_MEAN, device=latents.device).view(shape)) / torch.tensor(
        WAN21_LATENTS_STD, device=latents.device).view(shape)


def wan_latents_to_rgb(latents: torch.Tensor, frame_step: int = 1, *, reference_frames: int = 0,
                       upscale: int = UPSCALE) -> np.ndarray:
    """Latents (1, 16, reference_frames + n, h, w) -> the video's approximate colours, every ``frame_step``-th of
    its 4(n-1)+1 frames: (ceil((4(n-1)+1) / frame_step), h*upscale, w*upscale, 3) uint8. The reference image's
    latent frames in front are dropped; only the latent frames shown are projected."""
    if latents.ndim != 5 or latents.shape[1] != WAN_LATENT_RGB_WEIGHT.shape[0]:
        raise ValueError(f"Wan latents are (1, 16, frames, h, w), got {tuple(latents.shape)}")
    video = latents[0, :, reference_frames:]
    shown = [latent_frame_of(f) for f in range(0, video_frames_of(video.shape[1]), frame_step)]
    unique = sorted(set(shown))
    x = video[:, unique].float()  # (16, u, h, w)
    weight, bias = WAN_LATENT_RGB_WEIGHT.to(x.device), WAN_LATENT_RGB_BIAS.to(x.device)
    rgb = torch.einsum("cfhw,cr->frhw", x, weight) + bias.view(1, 3, 1, 1)
    if upscale > 1:
        rgb = F.interpolate(rgb, scale_factor=upscale, mode="bilinear", align_corners=False)
    rgb = (rgb.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    position = {latent: i for i, latent in enumerate(unique)}
    return rgb[[position[latent] for latent in shown]]


def flow_x0(scheduler: Any) -> torch.Tensor:
    """The x0 estimate of the step just taken: x_t - sigma_t * v, as the UniPC flow scheduler computed it.
    ValueError for a scheduler that does not keep it (the runner then makes no preview)."""
    config = getattr(scheduler, "config", None)
    outputs = getattr(scheduler, "model_outputs", None)
    if (config is None or not getattr(config, "predict_x0", False) or config.prediction_type != "flow_prediction"
            or not outputs or outputs[-1] is None):
        raise ValueError(f"{type(scheduler).__name__} does not keep an x0 estimate (a preview needs "
                         "UniPCMultistepScheduler with prediction_type='flow_prediction', predict_x0=True)")
    return outputs[-1]


class WanLivePreview:
    """The project's :class:`LivePreview` (when and where GIFs are written) with Wan's projection and x0.

    Use :meth:`on_step_end` as ``WanVACEPipeline``'s ``callback_on_step_end`` (tensor inputs: the default
    ``["latents"]``; x0 comes from the scheduler)."""

    def __init__(self, path: Path, fps: float, *, reference_frames: int, every_steps: int, min_interval_s: float,
                 max_frames: int, latents_mean: Optional[Sequence[float]] = None,
                 latents_std: Optional[Sequence[float]] = None, **live_kwargs: Any):
        self.reference_frames = reference_frames
        self.stats = (latents_mean, latents_std) if latents_mean is not None and latents_std is not None else None
        self.live = LivePreview(path, fps, every_steps=every_steps, min_interval_s=min_interval_s,
                                max_frames=max_frames, project=self._project, frame_count=self._frame_count,
                                **live_kwargs)

    def _frame_count(self, x0: torch.Tensor) -> int:
        return video_frames_of(x0.shape[2] - self.reference_frames)

    def _project(self, x0: torch.Tensor, frame_step: int) -> np.ndarray:
        if self.stats is not None:
            x0 = to_projection_space(x0, *self.stats)
        return wan_latents_to_rgb(x0, frame_step, reference_frames=self.reference_frames)

    def on_step_end(self, pipe: Any, index: int, timestep: Any, tensors: dict[str, torch.Tensor]) -> dict:
        """diffusers-style ``callback_on_step_end(pipe, step_index, timestep, callback_kwargs)``."""
        if self.live.due(index + 1, pipe.num_timesteps):
            self.live.write(flow_x0(pipe.scheduler))
        return {}

    def discard(self) -> None:
        self.live.discard()


__all__ = ["TEMPORAL_STEP", "WAN_LATENT_RGB_WEIGHT", "WAN_LATENT_RGB_BIAS", "WAN21_LATENTS_MEAN",
           "WAN21_LATENTS_STD", "video_frames_of", "latent_frame_of", "to_projection_space", "wan_latents_to_rgb",
           "flow_x0", "WanLivePreview"]
