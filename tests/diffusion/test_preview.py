"""Live preview: the latent->RGB projection, when previews are written, and the pipeline hook that carries x0."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from text2video.diffusion.preview import LATENT_RGB_BIAS, LATENT_RGB_WEIGHT, LivePreview, latents_to_rgb
from text2video.exceptions import InvalidInput

SIZE = 64

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_projection_of_known_latents():
    latents = torch.zeros(1, 4, 3, 2, 2)
    latents[0, 0, 1] = 1.0  # frame 1: channel 0 only
    latents[0, 3, 2] = 2.0  # frame 2: a strong channel 3 (SD-1.x: yellow, no blue)
    rgb = latents_to_rgb(latents)
    assert rgb.shape == (3, 4, 4, 3) and rgb.dtype == np.uint8  # upscaled 2x, channels last
    assert (rgb[0] == 128).all()  # zero latents: mid grey (the bias, 0.5)
    expected = np.round((0.5 + np.array([0.3512, 0.2297, 0.3227]) / 2) * 255)
    assert (rgb[1] == expected).all()  # one unit of channel 0: bias + the published factors (halved)
    np.testing.assert_array_equal(rgb[2][0, 0], np.round(np.clip(
        (0.5 + 2 * np.array([-0.2120, -0.2616, -0.7177]) / 2), 0, 1) * 255))
    assert rgb[2][0, 0, 2] == 0  # clipped, never wrapped around
    assert LATENT_RGB_WEIGHT.shape == (4, 3) and LATENT_RGB_BIAS.shape == (3,)


def test_projection_keeps_every_kth_frame_and_the_layout():
    latents = torch.zeros(1, 4, 7, 3, 5)
    for f in range(7):
        latents[0, 0, f] = f / 7  # frame f: brighter red-ish with f
    latents[0, 1, :, 0, 0] = 3.0  # one latent pixel: top-left
    rgb = latents_to_rgb(latents, frame_step=3, upscale=1)
    assert rgb.shape == (3, 3, 5, 3)  # frames 0, 3, 6; height 3, width 5
    reds = [int(rgb[i, 2, 4, 0]) for i in range(3)]
    assert reds == sorted(reds) and reds[0] < reds[-1]
    assert rgb[:, 0, 0, 1].min() > rgb[:, 2, 4, 1].max()  # the bright pixel stays top-left


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_written_every_n_steps_at_most_every_interval_and_not_at_the_last_step(tmp_path):
    clock = FakeClock()
    live = LivePreview(tmp_path / "preview.gif", 8.0, every_steps=2, min_interval_s=5.0, max_frames=96,
                       clock=clock)
    assert [s for s in range(1, 11) if live.due(s, 10)] == [2, 4, 6, 8]  # none before any preview was written
    live.write(torch.zeros(1, 4, 2, 4, 4))
    clock.now += 4.0
    assert not live.due(4, 10)  # too soon after the last one
    clock.now += 1.0
    assert live.due(4, 10) and not live.due(10, 10)  # the last step is followed by the real video
    assert not LivePreview(tmp_path / "x.gif", 8.0, every_steps=0, min_interval_s=0, max_frames=96).due(5, 10)


def test_write_is_atomic_capped_and_discard_removes_it(tmp_path):
    seen = []
    live = LivePreview(tmp_path / "preview.gif", 12.0, every_steps=1, min_interval_s=0, max_frames=4,
                       on_written=seen.append)
    path = live.write(torch.randn(1, 4, 10, 8, 8, generator=torch.Generator().manual_seed(0)))
    assert [p.name for p in tmp_path.iterdir()] == ["preview.gif"]  # no temporary file left
    with Image.open(path) as gif:  # 10 frames -> every 3rd: 4 frames, 16x16, looping
        assert gif.n_frames == 4 and gif.size == (16, 16) and gif.info.get("loop") == 0
        assert gif.info["duration"] == pytest.approx(1000 / 4, abs=10)  # 12 fps / 3
    assert seen == [path] and live.written == 1 and live.seconds > 0
    live.discard()
    assert not path.exists()


# --------------------------------------------------------------------------------------------- pipeline hook
@pytest.fixture(scope="module")
def pose():
    g = torch.Generator().manual_seed(0)
    return (torch.rand(2, 3, SIZE, SIZE, generator=g) > 0.9).float()


def run(pipe, pose, **kw):
    return pipe("a man dancing on the beach", pose=pose, video_length=2, height=SIZE, width=SIZE,
                num_inference_steps=3, guidance_scale=7.5, generator=torch.Generator().manual_seed(4),
                output_type="latent", **kw)


def test_step_end_hook_carries_the_predicted_clean_latents(pipe, pose):
    seen = []

    def hook(p, index, t, tensors):
        seen.append((index, int(t), {k: v.clone() for k, v in tensors.items()}, p.num_timesteps))
        return tensors  # diffusers callbacks hand the dict back: nothing changes

    plain = run(pipe, pose).frames
    hooked = run(pipe, pose, callback_on_step_end=hook,
                 callback_on_step_end_tensor_inputs=("latents", "noise_pred", "pred_original_sample")).frames
    torch.testing.assert_close(hooked, plain, rtol=0, atol=0)  # the hook only looks
    assert [s[0] for s in seen] == [0, 1, 2] and all(s[3] == 3 for s in seen)
    assert all(set(s[2]) == {"latents", "noise_pred", "pred_original_sample"} for s in seen)
    torch.testing.assert_close(seen[-1][2]["latents"], plain)  # latents after the step
    x0 = [s[2]["pred_original_sample"] for s in seen]
    assert all(x.shape == plain.shape for x in x0)
    assert (x0[0] - x0[1]).abs().max() > 1e-4  # the estimate moves from step to step


def test_x0_from_the_noise_prediction_matches_ddims_own(pipe, pose):
    """DPM-Solver++'s step gives no x0: the pipeline computes it from eps; the same formula must give DDIM's."""
    pipe.scheduler.set_timesteps(10)
    g = torch.Generator().manual_seed(1)
    sample, eps = torch.randn(1, 4, 2, 8, 8, generator=g), torch.randn(1, 4, 2, 8, 8, generator=g)
    for t in pipe.scheduler.timesteps[[0, 5, 9]]:
        ddim = pipe.scheduler.step(eps, t, sample).pred_original_sample
        torch.testing.assert_close(pipe.predicted_original_sample(object(), sample, eps, t), ddim)
    try:
        pipe.set_scheduler("dpm++")
        seen = []
        run(pipe, pose, callback_on_step_end=lambda p, i, t, k: seen.append(k["pred_original_sample"]),
            callback_on_step_end_tensor_inputs=("pred_original_sample",))
        assert len(seen) == 3 and all(torch.isfinite(x).all() for x in seen)
    finally:
        pipe.set_scheduler("ddim")


def test_unknown_tensor_input_is_refused(pipe, pose):
    with pytest.raises(InvalidInput) as info:
        run(pipe, pose, callback_on_step_end=lambda *a: {}, callback_on_step_end_tensor_inputs=("x0",))
    assert info.value.field == "callback_on_step_end_tensor_inputs" and "pred_original_sample" in str(info.value)


def test_long_video_preview_covers_the_whole_video(pipe):
    """Windows are fused before each scheduler step, so x0 (and the preview) is the whole video, once per step."""
    pose = (torch.rand(3, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(2)) > 0.9).float()
    seen = []
    pipe("a man dancing", pose=pose, video_length=3, height=SIZE, width=SIZE, num_inference_steps=2,
         guidance_scale=7.5, generator=torch.Generator().manual_seed(4), output_type="latent", window_size=2,
         window_overlap=1, callback_on_step_end=lambda p, i, t, k: seen.append(tuple(k["pred_original_sample"].shape)),
         callback_on_step_end_tensor_inputs=("pred_original_sample",))
    assert pipe.last_call_stats["windows"] == 2 and pipe.last_call_stats["unet"] == 4
    assert seen == [(1, 4, 3, SIZE // 8, SIZE // 8)] * 2


def test_tiny_decoder_is_used_when_the_models_folder_has_one(tmp_path):
    from diffusers import AutoencoderTiny

    from text2video.diffusion.preview import load_tiny_decoder

    from text2video.models.layout import ModelPaths

    folder = ModelPaths(tmp_path).tiny_decoder  # models/taesd
    assert load_tiny_decoder(folder, "cpu", torch.float32) is None  # optional: without it, the projection
    torch.manual_seed(0)
    small = dict(encoder_block_out_channels=(8, 8, 8, 8), decoder_block_out_channels=(8, 8, 8, 8),
                 num_encoder_blocks=(1, 1, 1, 1), num_decoder_blocks=(1, 1, 1, 1))
    AutoencoderTiny(**small).save_pretrained(folder)  # the layout of madebyollin/taesd, tiny
    decoder = load_tiny_decoder(folder, "cpu", torch.float32)
    x0 = torch.randn(1, 4, 5, 8, 8, generator=torch.Generator().manual_seed(3))
    with_decoder = LivePreview(tmp_path / "out" / "preview.gif", 8.0, every_steps=1, min_interval_s=0, max_frames=96,
                               decoder=decoder)
    (tmp_path / "out").mkdir()
    with Image.open(with_decoder.write(x0)) as gif:  # same size as the projection's preview: 1/4 of the video
        assert gif.n_frames == 5 and gif.size == (16, 16)
    decoded = np.asarray(Image.open(with_decoder.path).convert("RGB"))
    with torch.no_grad():
        expected = (decoder.decode(x0[0, :, :1].permute(1, 0, 2, 3)).sample + 1) / 2  # frame 0, 64x64, [0, 1]
    small_expected = torch.nn.functional.interpolate(expected, size=(16, 16), mode="area")[0].permute(1, 2, 0)
    assert np.abs(decoded.astype(float) - small_expected.clamp(0, 1).numpy() * 255).mean() < 4  # GIF palette
    assert np.abs(decoded.astype(float) - latents_to_rgb(x0)[0]).mean() > 30  # not the linear projection
