"""Memory presets: the choice for a table of (device, free VRAM) inputs, and applying them to the real pipeline."""

from __future__ import annotations

import pytest

from text2video.exceptions import DeviceError, InvalidInput
from text2video.models.presets import apply_preset, choose_preset, estimate_peak_gb


@pytest.mark.parametrize("device, vram, bf16, memory, name, dtype, offload", [
    ("cuda", 80.0, False, "auto", "high", "fp16", "none"),     # H100/A100 80 GB
    ("cuda", 40.0, False, "auto", "high", "fp16", "none"),     # A100 40 GB
    ("cuda:1", 23.5, False, "auto", "high", "fp16", "none"),   # 24 GB card (3090/4090/L4), some used
    ("cuda", 14.7, False, "auto", "medium", "fp16", "none"),   # Colab/Kaggle T4 16 GB
    ("cuda", 11.5, False, "auto", "medium", "fp16", "none"),   # 12 GB card
    ("cuda", 10.0, False, "auto", "low", "fp16", "model"),     # <= 10 GB: offload
    ("cuda", 7.5, False, "auto", "low", "fp16", "model"),      # 8 GB card
    ("cuda", None, False, "auto", "medium", "fp16", "none"),   # free memory unknown
    ("cuda", 80.0, False, "low", "low", "fp16", "model"),      # explicit choice wins
    ("cuda", 14.7, False, "high", "high", "fp16", "none"),
    ("cpu", None, True, "auto", "cpu", "bf16", "none"),        # AVX512-BF16 / AMX CPU
    ("cpu", None, False, "auto", "cpu", "fp32", "none"),
    ("cpu", None, True, "high", "cpu", "bf16", "none"),        # GPU presets mean nothing on a CPU
])
def test_choice_table(device, vram, bf16, memory, name, dtype, offload):
    p = choose_preset(device, vram, bf16, memory)
    assert (p.name, p.dtype, p.offload) == (name, dtype, offload)
    assert p.reason
    assert p.device == device
    if name == "high":
        assert not p.vae_slicing and p.attention_chunk is None and p.decode_chunk_size == 8
    if name in ("medium", "low"):
        assert p.vae_slicing and p.vae_tiling and p.attention_chunk and p.ff_chunk and p.decode_chunk_size == 1
    if name == "cpu":
        assert "minutes per denoising step" in p.warning and p.estimated_peak_gb is None


def test_warnings_when_the_estimate_does_not_fit():
    assert choose_preset("cuda", 11.5, False).warning == ""
    small = choose_preset("cuda", 6.0, False)
    assert small.name == "low" and "may run out of memory" in small.warning and "--frames" in small.warning
    forced = choose_preset("cuda", 14.7, False, "high")
    assert "may run out of memory" in forced.warning
    # Fewer frames fit where 24 do not.
    assert choose_preset("cuda", 6.0, False, frames=8).warning == ""


def test_estimates_grow_with_frames_and_resolution_and_shrink_with_presets():
    assert estimate_peak_gb("high", 48) > estimate_peak_gb("high", 24) > estimate_peak_gb("high", 8)
    assert estimate_peak_gb("high", 24, 768, 768) > estimate_peak_gb("high", 24, 512, 512)
    assert estimate_peak_gb("high") > estimate_peak_gb("medium") > estimate_peak_gb("low")
    # A bigger workload moves auto down a preset on the same card.
    assert choose_preset("cuda", 23.5, False, frames=48).name == "medium"


@pytest.mark.parametrize("kwargs, field", [
    ({"device": "cuda", "free_vram_gb": 16, "bf16_cpu": False, "memory": "huge"}, "memory"),
    ({"device": "tpu", "free_vram_gb": 16, "bf16_cpu": False}, "device"),
])
def test_bad_values_name_the_field(kwargs, field):
    with pytest.raises(InvalidInput) as err:
        choose_preset(**kwargs)
    assert err.value.field == field and err.value.hint


@pytest.fixture(scope="module")
def pipe(tmp_path_factory):
    """A2's real FollowYourPosePipeline on tiny random demo weights (CPU)."""
    from text2video.diffusion.demo import build_demo
    from text2video.diffusion.pipeline import FollowYourPosePipeline

    root = tmp_path_factory.mktemp("fyp-demo")
    build_demo(root)
    return FollowYourPosePipeline.from_models_dir(root)


def _attention_slices(unet):
    from text2video.diffusion.attention import Attention, FeedForward

    slices = {m.processor.slice_size for m in unet.modules() if isinstance(m, Attention)}
    chunks = {m.chunk_size for m in unet.modules() if isinstance(m, FeedForward)}
    return slices, chunks


def test_apply_preset_switches_the_pipelines_savers(pipe):
    applied = apply_preset(pipe, choose_preset("cuda", 14.7, False))
    assert "enable_vae_slicing" in applied and "enable_vae_tiling" in applied
    assert pipe.vae.use_slicing and pipe.vae.use_tiling
    assert _attention_slices(pipe.unet) == ({16}, {1024})
    # Back to high: every saver off again (a worker may switch presets between jobs).
    applied = apply_preset(pipe, choose_preset("cuda", 80, False))
    assert not pipe.vae.use_slicing and not pipe.vae.use_tiling
    assert _attention_slices(pipe.unet) == ({None}, {None})


def test_low_preset_offload_needs_cuda(pipe):
    import torch

    low = choose_preset("cuda", 8, False)
    if torch.cuda.is_available():
        assert "enable_model_cpu_offload" in apply_preset(pipe, low)
    else:
        with pytest.raises(DeviceError) as err:
            apply_preset(pipe, low)
        assert err.value.field == "memory" and "--memory medium" in str(err.value)
