"""WanVaceRunner on the tiny demo folder, loaded through the real-folder path (WanVACEPipeline.from_pretrained)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from tests.families.wan_vace.wan_helpers import pose_video
from text2video.exceptions import Canceled
from text2video.families.base import RunInputs
from text2video.families.wan_vace.runner import (FLOW_SHIFT_480P, FLOW_SHIFT_720P, PROMPT_TOKENS, WanVaceRunner,
                                                 closest_frames, flow_shift_for)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

W, H, F = 48, 32, 5  # not square: a swapped width/height would show


def inputs(frames=F, width=W, height=H, seed=7, reference=None, prompt="a girl dancing on a mountain",
           pose=None, steps=2) -> RunInputs:
    pose = pose_video(frames, width, height) if pose is None else pose
    return RunInputs(prompt=prompt, original_prompt=prompt, negative_prompt="blurry", language="en", pose=pose,
                     fps=16.0, reference_image=reference, frames=frames, width=width, height=height, steps=steps,
                     guidance_scale=5.0, seed=seed, params={"conditioning_scale": 1.0})


def run(runner, request, steps=None, warnings=None) -> np.ndarray:
    calls = [] if steps is None else steps
    chunks = list(runner.generate(request, on_step=lambda s, t: calls.append((s, t)), warnings=warnings))
    assert all(c.dtype == np.uint8 and c.ndim == 4 for c in chunks)
    return np.concatenate(chunks)


@pytest.fixture(scope="module")
def plain(wan_runner):
    """One generation without a reference image (seed 7), with the steps it reported."""
    steps: list = []
    return run(wan_runner, inputs(), steps), steps


def test_generates_the_asked_frames_and_size_and_reports_each_step(plain, wan_runner):
    video, steps = plain
    assert video.shape == (F, H, W, 3)
    assert video.std() > 0  # decoded noise, not a blank canvas
    assert steps == [(0, 2), (1, 2), (2, 2)]  # before the loop, then after each step
    assert wan_runner.demo is True  # the folder has the DEMO marker
    assert wan_runner.preset.name == "cpu" and wan_runner.applied == ["pipe.to(cpu)"]
    assert str(wan_runner.pipe.vae.dtype) == "torch.float32"  # the VAE stays fp32 whatever the run dtype


def test_same_seed_same_frames_other_seed_other_frames(plain, wan_runner):
    assert np.array_equal(run(wan_runner, inputs()), plain[0])
    assert not np.array_equal(run(wan_runner, inputs(seed=8)), plain[0])


def test_reference_image_at_64x64_with_9_frames(plain, wan_runner):
    photo = Image.new("RGB", (40, 72), (230, 30, 30))  # portrait: the pipeline letterboxes it on white
    video = run(wan_runner, inputs(frames=9, width=64, height=64, reference=photo))
    assert video.shape == (9, 64, 64, 3)
    with_ref = run(wan_runner, inputs(reference=photo))
    assert with_ref.shape == plain[0].shape and not np.array_equal(with_ref, plain[0])


def test_raising_from_on_step_stops_the_run(plain, wan_runner):
    calls = []

    def cancel(step, total):
        calls.append((step, total))
        raise Canceled("stop")

    frames = wan_runner.generate(inputs(steps=3), on_step=cancel, warnings=[])
    with pytest.raises(Canceled):
        list(frames)
    assert calls == [(0, 3)]  # stopped before the first step
    assert np.array_equal(run(wan_runner, inputs()), plain[0])  # the runner stays usable, unchanged


@pytest.mark.parametrize("frames, closest", [(8, 9), (80, 81), (2, 1), (0, 1)])
def test_frames_must_be_4k_plus_1(wan_runner, frames, closest):
    assert closest_frames(frames) == closest
    with pytest.raises(ValueError, match=rf"frames must be 4k\+1.*got {frames}: the closest is {closest}"):
        wan_runner.generate(inputs(frames=frames, pose=pose_video(max(frames, 1), W, H)), on_step=print)


@pytest.mark.parametrize("field, width, height, closest", [("width", 40, 32, 48), ("height", 48, 50, 48),
                                                            ("width", 8, 32, 16)])
def test_sides_must_be_multiples_of_16(wan_runner, field, width, height, closest):
    value = width if field == "width" else height
    with pytest.raises(ValueError, match=rf"{field} must be a multiple of 16.*got {value}: the closest is {closest}"):
        wan_runner.generate(inputs(width=width, height=height, pose=pose_video(F, width, height)), on_step=print)


def test_pose_frames_of_another_size_are_refused(wan_runner):
    with pytest.raises(ValueError, match=r"pose must be a uint8 array of shape \(5, 32, 48, 3\).*\(5, 48, 32"):
        wan_runner.generate(inputs(pose=pose_video(F, 32, 48)), on_step=print)


def test_prompt_over_512_tokens_reports_the_words_cut(wan_runner):
    from diffusers.pipelines.wan.pipeline_wan_vace import prompt_clean

    words = [f"dancer{i} spins" for i in range(400)]
    text = " ".join(words)
    warnings: list = []
    wan_runner.generate(inputs(prompt=text), on_step=print, warnings=warnings)  # reported before anything runs
    tokenizer = wan_runner.pipe.tokenizer
    count = len(tokenizer(prompt_clean(text)).input_ids)
    assert count > PROMPT_TOKENS
    assert len(warnings) == 1 and warnings[0].startswith(f"prompt is {count} UMT5 tokens, over the 512")
    cut = warnings[0].split("ignored: ", 1)[1].split(" ")
    kept = text.split(" ")[: len(text.split(" ")) - len(cut)]
    assert kept + cut == text.split(" ")
    # What is kept is exactly what fits: the pipeline's own 512-token window ends inside the first cut word.
    assert len(tokenizer(" ".join(kept)).input_ids) <= PROMPT_TOKENS
    assert len(tokenizer(" ".join(kept + cut[:1])).input_ids) > PROMPT_TOKENS
    assert wan_runner.prompt_warnings("a short prompt", "blurry") == []


def test_flow_shift_follows_the_size(wan_runner):
    assert flow_shift_for(832, 480) == flow_shift_for(480, 832) == FLOW_SHIFT_480P
    assert flow_shift_for(1280, 720) == flow_shift_for(720, 1280) == flow_shift_for(960, 720) == FLOW_SHIFT_720P
    assert flow_shift_for(1024, 576) == FLOW_SHIFT_480P
    wan_runner._use_flow_shift(1280, 720)
    assert wan_runner.pipe.scheduler.config.flow_shift == 5.0
    assert type(wan_runner.pipe.scheduler).__name__ == "UniPCMultistepScheduler"
    wan_runner._use_flow_shift(W, H)
    assert wan_runner.pipe.scheduler.config.flow_shift == 3.0


def test_demo_flag_and_missing_folder(wan_models, tmp_path):
    shutil.copytree(wan_models / "wan2.1-vace-14b", tmp_path / "wan2.1-vace-14b")
    real_layout = WanVaceRunner(tmp_path, "wan2.1-vace-14b", device="cpu", dtype="bf16")
    assert real_layout.demo is False  # no DEMO marker in that models folder
    assert real_layout.pipe.transformer.config.vace_layers == [0, 5]
    # bf16 run, fp32 VAE (colour drift): the mixed pipeline runs
    assert str(real_layout.pipe.transformer.dtype) == "torch.bfloat16"
    assert str(real_layout.pipe.vae.dtype) == "torch.float32"
    assert run(real_layout, inputs(steps=1)).shape == (F, H, W, 3)
    with pytest.raises(FileNotFoundError, match=r"manage.py download --model wan-vace-1.3b"):
        WanVaceRunner(tmp_path, "wan2.1-vace-1.3b", device="cpu")


def test_transparent_reference_photo_is_put_on_white():
    from text2video.families.wan_vace.runner import _on_white

    photo = Image.new("RGBA", (4, 2), (0, 0, 0, 0))
    photo.putpixel((0, 0), (10, 200, 30, 255))
    rgb = np.asarray(_on_white(photo))
    assert rgb.shape == (2, 4, 3)
    assert tuple(rgb[0, 0]) == (10, 200, 30) and tuple(rgb[1, 3]) == (255, 255, 255)
    assert tuple(np.asarray(_on_white(Image.new("L", (2, 2), 40)))[0, 0]) == (40, 40, 40)
