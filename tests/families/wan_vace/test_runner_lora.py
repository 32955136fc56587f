"""WanVaceRunner with the job's LoRAs (diffusers' load_lora_weights + set_adapters, per job): each format changes
the video, and after the job (done or canceled) the runner makes exactly what a fresh runner makes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tests.families.wan_vace.test_runner import inputs, run
from tests.lora_files import WAN_FORMATS, write_demo_wan_lora, write_wan_lora
from text2video.exceptions import Canceled, InvalidInput
from text2video.families.wan_vace.runner import WanVaceRunner

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def fresh_runner(wan_models: Path) -> WanVaceRunner:
    return WanVaceRunner(wan_models, "wan2.1-vace-1.3b", device="cpu", dtype=torch.float32)


@pytest.fixture(scope="module")
def fresh(wan_models):
    """What a fresh runner makes (no LoRA ever loaded) and its transformer's weights."""
    runner = fresh_runner(wan_models)
    video = run(runner, inputs())
    return video, {k: v.clone() for k, v in runner.pipe.transformer.state_dict().items()}


def with_lora(request, path: Path, weight: float = 1.0):
    request.loras = [(path, weight)]
    return request


def assert_as_fresh(runner: WanVaceRunner, fresh) -> None:
    video, weights = fresh
    state = runner.pipe.transformer.state_dict()
    assert set(state) == set(weights)  # no PEFT layer left behind
    assert all(torch.equal(state[k], v) for k, v in weights.items())
    assert not getattr(runner.pipe.transformer, "peft_config", None)
    assert np.array_equal(run(runner, inputs()), video)  # byte for byte


@pytest.mark.parametrize("fmt", WAN_FORMATS)
def test_each_format_changes_the_video_and_the_next_job_is_as_on_a_fresh_runner(fmt, wan_runner, fresh, tmp_path):
    path = write_demo_wan_lora(tmp_path / f"{fmt}.safetensors", fmt, seed=5)
    steps: list = []
    styled = run(wan_runner, with_lora(inputs(), path, 0.8), steps)
    assert styled.shape == fresh[0].shape and not np.array_equal(styled, fresh[0]), f"{fmt} changed nothing"
    assert steps[-1] == (2, 2)
    assert_as_fresh(wan_runner, fresh)


def test_two_loras_with_weights_and_a_weaker_one_changes_less(wan_runner, fresh, tmp_path):
    a = write_demo_wan_lora(tmp_path / "a.safetensors", "diffusers", seed=1)
    b = write_demo_wan_lora(tmp_path / "b.safetensors", "kohya", seed=2)
    strong = run(wan_runner, with_lora(inputs(), a, 1.0)).astype(np.int16)
    weak = run(wan_runner, with_lora(inputs(), a, 0.1)).astype(np.int16)
    both = inputs()
    both.loras = [(a, 1.0), (b, -0.5)]
    mixed = run(wan_runner, both).astype(np.int16)
    plain = fresh[0].astype(np.int16)
    assert np.abs(weak - plain).mean() < np.abs(strong - plain).mean()
    assert not np.array_equal(mixed, strong)
    assert_as_fresh(wan_runner, fresh)


def test_a_canceled_job_takes_its_lora_off_too(wan_runner, fresh, tmp_path):
    path = write_demo_wan_lora(tmp_path / "style.safetensors", "original")

    def cancel(step, total):
        if step == 1:
            raise Canceled("stop")

    with pytest.raises(Canceled):
        list(wan_runner.generate(with_lora(inputs(), path), on_step=cancel, warnings=[]))
    assert_as_fresh(wan_runner, fresh)


def test_a_job_whose_frames_are_left_unread_does_not_leak_its_lora(wan_runner, fresh, tmp_path):
    path = write_demo_wan_lora(tmp_path / "style.safetensors", "diffusers")
    frames = wan_runner.generate(with_lora(inputs(), path), on_step=lambda s, t: None, warnings=[])
    next(frames)  # the run happened with the LoRA on; its consumer stops reading (and keeps the iterator)
    assert getattr(wan_runner.pipe.transformer, "peft_config", None)
    assert np.array_equal(run(wan_runner, inputs()), fresh[0])  # the next job takes it off first
    frames.close()  # (closing the old run later takes nothing of another job's off)
    assert_as_fresh(wan_runner, fresh)


def test_a_file_that_does_not_fit_the_transformer_fails_and_leaves_it_as_it_was(wan_runner, fresh, tmp_path):
    # 40 wide: the demo transformer is 24 wide (the engine refuses a known other size first; this one is unknown)
    path = write_wan_lora(tmp_path / "wide.safetensors", "diffusers", blocks=2, width=40, ffn=48)
    with pytest.raises(InvalidInput, match="wide.safetensors cannot be used with wan-vace-1.3b: .*size mismatch"):
        run(wan_runner, with_lora(inputs(), path))
    assert_as_fresh(wan_runner, fresh)


def test_loras_must_be_existing_files(wan_runner, tmp_path):
    with pytest.raises(ValueError, match="loras must be"):
        wan_runner.generate(with_lora(inputs(), tmp_path / "missing.safetensors"), on_step=lambda s, t: None)
