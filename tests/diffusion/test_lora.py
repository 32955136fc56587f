"""Style LoRAs merged into the demo UNet3D and text encoder for one block, then the exact weights put back."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.lora_files import DEMO_TARGETS, FORMATS, lora_state, write_lora
from text2video.diffusion import FollowYourPosePipeline
from text2video.diffusion.lora import applied_loras, read_lora
from text2video.exceptions import InvalidInput

pytestmark = pytest.mark.usefixtures("one_torch_thread")

REFERENCE_TSV = Path(__file__).resolve().parents[1] / "data" / "followyourpose_unet_sd14.tsv"
# Follow-Your-Pose's own layers: no SD-1.x LoRA has them
FYP_ONLY = ("attn_temp", "conv_temporal", "skeleton_adapter")


@pytest.fixture(scope="module")
def bf16_pipe(demo_models):
    """bf16: merging then subtracting a delta would not give the same bits back, so this shows the restore."""
    return FollowYourPosePipeline.from_models_dir(demo_models, device="cpu", torch_dtype=torch.bfloat16)


def weights(pipe) -> dict[str, torch.Tensor]:
    state = {f"unet.{k}": v.clone() for k, v in pipe.unet.state_dict().items()}
    state.update({f"text_encoder.{k}": v.clone() for k, v in pipe.text_encoder.state_dict().items()})
    return state


def changed(pipe, before: dict[str, torch.Tensor]) -> set[str]:
    return {k for k, v in weights(pipe).items() if not torch.equal(v, before[k])}


def outputs(pipe) -> tuple[torch.Tensor, torch.Tensor]:
    """(text embedding, UNet noise prediction) on fixed inputs."""
    gen = torch.Generator().manual_seed(0)
    dtype, device = pipe.unet.dtype, pipe.unet.device
    with torch.no_grad():
        text = pipe.text_encoder(torch.tensor([[1, 5, 9, 2]], device=device))[0]
        latents = torch.randn((1, 4, 2, 8, 8), generator=gen).to(device, dtype)
        noise = pipe.unet(latents, 10, text.to(dtype)).sample
    return text.float(), noise.float()


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_changes_the_output_and_leaving_restores_every_bit(bf16_pipe, fmt, tmp_path):
    path = write_lora(tmp_path / f"{fmt}.safetensors", fmt)
    before, (text0, noise0) = weights(bf16_pipe), outputs(bf16_pipe)
    with applied_loras(bf16_pipe, [(path, 0.8)]):
        text1, noise1 = outputs(bf16_pipe)
        touched = changed(bf16_pipe, before)
    # every module the file names, in the UNet (attention, ff, 1x1 and 3x3 convs) and in the text encoder
    assert len(touched) == len(DEMO_TARGETS)
    assert any(k.startswith("text_encoder.") for k in touched) and any("resnets.0.conv1" in k for k in touched)
    assert not torch.equal(text0, text1) and not torch.equal(noise0, noise1)
    assert changed(bf16_pipe, before) == set()  # bit-identical to before
    text2, noise2 = outputs(bf16_pipe)
    assert torch.equal(text0, text2) and torch.equal(noise0, noise2)


@pytest.mark.gpu
def test_fp16_on_cuda_changes_the_output_and_restores_every_bit(demo_models, tmp_path):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    pipe = FollowYourPosePipeline.from_models_dir(demo_models, device="cuda", torch_dtype=torch.float16)
    path = write_lora(tmp_path / "ink.safetensors", "kohya")
    before, (_, noise0) = weights(pipe), outputs(pipe)
    with applied_loras(pipe, [(path, 1.5)]):
        _, noise1 = outputs(pipe)
    assert not torch.equal(noise0, noise1)
    assert changed(pipe, before) == set()  # the exact fp16 weights (an fp16 unmerge would round)


def test_kohya_names_reach_every_2d_layer_of_the_full_size_unet3d(tmp_path):
    """Every Linear/Conv2d weight of the real UNet3D (reference parameter list) that an SD-1.x LoRA can carry,
    named the kohya way (lora_unet_down_blocks_0_resnets_0_conv1...), comes back as that module."""
    from safetensors.torch import save_file

    modules = []
    for line in REFERENCE_TSV.read_text().splitlines()[1:]:
        name, shape = line.split("\t")
        if name.endswith(".weight") and shape.count("x") in (1, 3) and "norm" not in name \
                and not any(part in name for part in FYP_ONLY):
            modules.append(name[:-len(".weight")])
    state = {}
    for module in modules:
        stem = "lora_unet_" + module.replace(".", "_")
        state.update({f"{stem}.lora_down.weight": torch.ones(1, 1), f"{stem}.lora_up.weight": torch.ones(1, 1)})
    save_file(state, str(tmp_path / "full.safetensors"))
    assert len(modules) == 282  # attention, ff, proj_in/out, resnet convs, time embedding, samplers, conv_in/out
    assert sorted(module for _, module, *_ in read_lora(tmp_path / "full.safetensors")) == sorted(modules)


def test_formats_agree_on_the_merged_weights(pipe, tmp_path):
    # kohya with alpha = rank (scale 1) and PEFT without alpha are the same LoRA: the same weights must result
    merged = {}
    for fmt, kwargs in (("kohya", {"alpha": 4.0}), ("peft", {}), ("diffusers_old", {})):
        path = write_lora(tmp_path / f"{fmt}.safetensors", fmt, rank=4, **kwargs)
        with applied_loras(pipe, [(path, 1.0)]):
            merged[fmt] = weights(pipe)
    for key, value in merged["peft"].items():
        assert torch.allclose(merged["kohya"][key], value) and torch.allclose(merged["diffusers_old"][key], value)


def test_kohya_alpha_and_the_weight_scale_the_change(pipe, tmp_path):
    key = "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight"
    base = pipe.unet.state_dict()[key].clone()
    deltas = {}
    for name, alpha, weight in (("a", 4.0, 1.0), ("b", 2.0, 1.0), ("c", 4.0, -0.5)):
        path = write_lora(tmp_path / f"{name}.safetensors", "kohya", rank=4, alpha=alpha)
        with applied_loras(pipe, [(path, weight)]):
            deltas[name] = pipe.unet.state_dict()[key] - base
    assert torch.allclose(deltas["b"], deltas["a"] * 0.5, atol=1e-6)  # alpha 2 / rank 4
    assert torch.allclose(deltas["c"], deltas["a"] * -0.5, atol=1e-6)


def test_two_loras_on_one_layer_add_up_and_both_go(pipe, tmp_path):
    before = weights(pipe)
    a = write_lora(tmp_path / "a.safetensors", "peft", seed=1)
    b = write_lora(tmp_path / "b.safetensors", "kohya", seed=2)
    with applied_loras(pipe, [(a, 1.0)]):
        only_a = weights(pipe)
    with applied_loras(pipe, [(a, 1.0), (b, 0.5)]):
        both = weights(pipe)
    key = "unet.mid_block.resnets.0.conv1.weight"
    assert not torch.equal(both[key], only_a[key])
    assert changed(pipe, before) == set()


def test_an_error_inside_the_block_still_restores(pipe, tmp_path):
    before = weights(pipe)
    path = write_lora(tmp_path / "x.safetensors", "peft")
    with pytest.raises(RuntimeError, match="boom"):
        with applied_loras(pipe, [(path, 1.0)]):
            raise RuntimeError("boom")
    assert changed(pipe, before) == set()


@pytest.mark.parametrize("targets, why", [
    ({("unet", "down_blocks.9.attentions.0.proj_in"): (32, 32, 1, 1)}, "does not have"),
    ({("unet", "mid_block.attentions.0.transformer_blocks.0.attn1.to_q"): (64, 48)}, "do not fit"),
    ({("unet", "mid_block.attentions.0.norm"): (64, 64)}, "neither a linear nor a conv"),
])
def test_a_file_that_does_not_fit_names_the_file_and_why(pipe, tmp_path, targets, why):
    before = weights(pipe)
    good = write_lora(tmp_path / "good.safetensors", "peft")
    bad = write_lora(tmp_path / "odd-style.safetensors", "peft", targets)
    with pytest.raises(InvalidInput, match=why) as err:
        with applied_loras(pipe, [(good, 1.0), (bad, 1.0)]):
            pass
    assert "odd-style.safetensors" in str(err.value) and err.value.field == "loras"
    assert changed(pipe, before) == set()  # the first file's merge was undone too


def test_parts_it_cannot_apply_and_damaged_files_are_refused(tmp_path):
    from safetensors.torch import save_file

    state = lora_state("peft")
    state["unet.mid_block.resnets.0.conv1.lora_magnitude_vector"] = torch.ones(64)
    save_file(state, str(tmp_path / "dora.safetensors"))
    with pytest.raises(ValueError, match="DoRA"):
        read_lora(tmp_path / "dora.safetensors")
    (tmp_path / "broken.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(ValueError, match="damaged"):
        read_lora(tmp_path / "broken.safetensors")
