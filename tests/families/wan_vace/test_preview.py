"""Wan live preview: the published latent->RGB factors, the 4x temporal frame mapping, the reference image's latent
frame dropped, x0 from the flow UniPC scheduler, and a real tiny WanVACEPipeline run writing the GIF."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from text2video.families.wan_vace.preview import (WAN21_LATENTS_MEAN, WAN21_LATENTS_STD, WAN_LATENT_RGB_BIAS,
                                                  WAN_LATENT_RGB_WEIGHT, WanLivePreview, flow_x0, latent_frame_of,
                                                  to_projection_space, video_frames_of, wan_latents_to_rgb)
from tests.families.wan_vace.tiny_wan import prompt_embeds, tiny_pipeline

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_frame_mapping_of_the_4x_temporal_compression():
    assert [video_frames_of(n) for n in (1, 2, 5, 21)] == [1, 5, 17, 81]
    assert [latent_frame_of(f) for f in range(10)] == [0, 1, 1, 1, 1, 2, 2, 2, 2, 3]
    with pytest.raises(ValueError):
        video_frames_of(0)


def test_colours_of_a_synthetic_latent():
    latents = torch.zeros(1, 16, 2, 2, 2)
    latents[0, 14, 1] = 1.0  # latent frame 1: one unit of channel 14
    rgb = wan_latents_to_rgb(latents, upscale=1)
    assert rgb.shape == (5, 2, 2, 3) and rgb.dtype == np.uint8
    zero = np.round(np.clip(0.5 + np.array([-0.1835, -0.0868, -0.3360]) / 2, 0, 1) * 255)
    assert (rgb[0] == zero).all()  # zero latents: the published bias (mapped to 0..1)
    one = np.round(np.clip(0.5 + (np.array([-0.1835, -0.0868, -0.3360]) + [0.3477, 0.2275, 0.2950]) / 2, 0, 1) * 255)
    assert (rgb[1:] == one).all()  # video frames 1-4 all show latent frame 1
    assert WAN_LATENT_RGB_WEIGHT.shape == (16, 3) and WAN_LATENT_RGB_BIAS.shape == (3,)


def test_reference_frame_dropped_and_frames_strided():
    latents = torch.zeros(1, 16, 1 + 5, 3, 4)
    latents[0, 2, 0] = 5.0  # the reference image's latent frame: must never show
    for i in range(1, 6):
        latents[0, 14, i] = (i - 1) / 2  # brighter with each video latent frame
    rgb = wan_latents_to_rgb(latents, reference_frames=1, upscale=2)
    assert rgb.shape == (17, 6, 8, 3)
    reference_only = wan_latents_to_rgb(latents[:, :, :1], upscale=2)[0]
    assert not (rgb[0] == reference_only).all()
    reds = [int(rgb[f, 0, 0, 0]) for f in (0, 1, 5, 9, 13)]
    assert reds == sorted(reds) and reds[0] < reds[-1]
    strided = wan_latents_to_rgb(latents, 4, reference_frames=1, upscale=2)
    assert strided.shape[0] == 5 and (strided == rgb[::4]).all()
    with pytest.raises(ValueError, match="16"):
        wan_latents_to_rgb(torch.zeros(1, 4, 2, 2, 2))


def test_projection_space_conversion():
    x = torch.randn(1, 16, 2, 2, 2)
    assert to_projection_space(x, WAN21_LATENTS_MEAN, WAN21_LATENTS_STD) is x
    mean, std = [0.0] * 16, [1.0] * 16  # latents that are raw VAE latents
    expected = (x - torch.tensor(WAN21_LATENTS_MEAN).view(1, -1, 1, 1, 1)) / torch.tensor(
        WAN21_LATENTS_STD).view(1, -1, 1, 1, 1)
    torch.testing.assert_close(to_projection_space(x, mean, std), expected)


def test_flow_x0_is_x_t_minus_sigma_v():
    from diffusers import UniPCMultistepScheduler

    scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0)
    scheduler.set_timesteps(6)
    sample, v = torch.randn(1, 16, 2, 4, 4), torch.randn(1, 16, 2, 4, 4)
    sigma = scheduler.sigmas[0]
    scheduler.step(v, scheduler.timesteps[0], sample)
    torch.testing.assert_close(flow_x0(scheduler), sample - sigma * v)
    with pytest.raises(ValueError, match="x0"):
        flow_x0(UniPCMultistepScheduler())  # an epsilon scheduler that has not stepped


def test_preview_written_during_a_real_tiny_wan_run(tmp_path):
    pipe = tiny_pipeline()
    embeds, negative = prompt_embeds()
    frames, size = 9, 32
    video = [Image.new("RGB", (size, size), (0, 0, 0))] * frames
    mask = [Image.new("L", (size, size), 0)] + [Image.new("L", (size, size), 255)] * (frames - 1)
    written = []
    live = WanLivePreview(tmp_path / "preview.gif", 16.0, reference_frames=1, every_steps=1, min_interval_s=0.0,
                          max_frames=96, on_written=written.append)
    pipe(video=video, mask=mask, reference_images=Image.new("RGB", (size, size), (255, 255, 255)),
         prompt_embeds=embeds, negative_prompt_embeds=negative, height=size, width=size, num_frames=frames,
         num_inference_steps=3, guidance_scale=1.0, generator=torch.Generator().manual_seed(0), output_type="latent",
         callback_on_step_end=live.on_step_end)
    assert live.live.written == 2 and written  # steps 1 and 2 (not the last)
    with Image.open(tmp_path / "preview.gif") as gif:
        assert gif.n_frames == frames  # 3 latent frames -> 9 video frames, the reference's dropped
        assert gif.size == (size // 8 * 2, size // 8 * 2)
