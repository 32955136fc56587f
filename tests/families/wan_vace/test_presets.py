"""Wan memory presets: the choice by free VRAM (estimates) and each placement applied to the demo pipeline."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.families.wan_vace.wan_helpers import pose_video
from text2video.families.wan_vace import presets
from text2video.families.wan_vace.presets import WanPreset, apply_preset, choose_preset, estimate_peak_gb

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SMALL = "wan2.1-vace-1.3b"
BIG = "wan2.1-vace-14b"


def test_estimates_order_and_grow_with_the_work():
    for folder in (SMALL, BIG):
        high, medium, low = (estimate_peak_gb(folder, n) for n in presets.GPU_PRESETS)
        assert high > medium > low > 0
        assert estimate_peak_gb(folder, "high", 81, 1280, 720) > estimate_peak_gb(folder, "high", 81, 832, 480)
        assert estimate_peak_gb(folder, "low", 81) > estimate_peak_gb(folder, "low", 17)
    assert estimate_peak_gb(BIG, "high") > estimate_peak_gb(SMALL, "high")
    # medium holds one part at a time: the 5.7e9-parameter text encoder in bf16 alone is over 10 GiB
    assert estimate_peak_gb(SMALL, "medium", 5, 64, 64) > 5.68e9 * 2 / 2**30
    with pytest.raises(ValueError, match="no GPU memory estimate for preset 'cpu'"):
        estimate_peak_gb(SMALL, "cpu")
    with pytest.raises(ValueError, match="no memory estimate for Wan VACE folder 'wan2.1-vace-7b'"):
        estimate_peak_gb("wan2.1-vace-7b", "high")


@pytest.mark.parametrize("folder", [SMALL, BIG])
def test_auto_takes_the_fastest_preset_that_fits(folder):
    need = {n: estimate_peak_gb(folder, n) for n in presets.GPU_PRESETS}
    for name in presets.GPU_PRESETS:
        free = need[name] / presets.HEADROOM + 0.01
        chosen = choose_preset(folder, "cuda", free)
        assert chosen.name == name and chosen.warning == "" and chosen.estimated_peak_gb == need[name]
    starved = choose_preset(folder, "cuda:1", need["low"] / 2)
    assert starved.name == "low" and "may run out of memory" in starved.warning
    assert choose_preset(folder, "cuda", None).name == "medium"


def test_asked_presets_cpu_and_bad_choices():
    assert choose_preset(SMALL, "cuda", 80.0, "low").placement == "group_offload"
    assert choose_preset(SMALL, "cuda", 80.0, "medium").placement == "model_offload"
    too_small = choose_preset(SMALL, "cuda", 4.0, "high")
    assert too_small.name == "high" and "only 4.0 GB is free" in too_small.warning
    assert choose_preset(SMALL, "cpu", None, "high").placement == "cpu"
    with pytest.raises(ValueError, match="memory preset 'huge' is not one of auto, high, medium, low"):
        choose_preset(SMALL, "cuda", 10.0, "huge")
    with pytest.raises(ValueError, match="device 'mps' has no Wan memory presets"):
        choose_preset(SMALL, "mps", 10.0)


def _generate(pipe) -> np.ndarray:
    from PIL import Image

    video = [Image.fromarray(f) for f in pose_video(5, 32, 32)]
    return pipe(prompt="a dancer", video=video, height=32, width=32, num_frames=5, num_inference_steps=2,
                generator=torch.Generator("cpu").manual_seed(3), output_type="np").frames[0]


def test_every_placement_runs_on_the_cpu_and_gives_the_same_frames(wan_models):
    """Model offload and group offload (onload = offload = CPU: diffusers allows it, no CUDA streams) move
    weights, not numbers: all placements give the frames of the plain one."""
    from diffusers import WanVACEPipeline

    folder = wan_models / SMALL
    results, applied = {}, {}
    for placement in ("cpu", "model_offload", "group_offload"):
        pipe = WanVACEPipeline.from_pretrained(folder, dtype=torch.float32)
        pipe.set_progress_bar_config(disable=True)
        applied[placement] = apply_preset(pipe, WanPreset("x", placement, "test"), "cpu")
        results[placement] = _generate(pipe)
    assert applied["model_offload"] == ["enable_model_cpu_offload"]
    assert applied["group_offload"][0] == "transformer.enable_group_offload(block_level, 1 block, streams=False)"
    assert np.array_equal(results["cpu"], results["model_offload"])
    assert np.array_equal(results["cpu"], results["group_offload"])
