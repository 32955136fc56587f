"""Wan LoRAs: recognised by their keys in each format (and told apart from SD-1.x ones), distillation kinds, and
loaded by diffusers' own WanVACEPipeline.load_lora_weights on a tiny transformer: the output changes, and
unloading restores every weight and the output bit for bit."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.families.wan_vace.tiny_wan import TEXT_DIM, tiny_transformer
from tests import lora_files
from tests.lora_files import write_lora
from text2video.families.wan_vace.lora import distillation_of, inspect_wan_lora, wan_model_of
from text2video.models.loras import LoraFileError, is_wan_keys, lora_family, wan_key_format

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = dict(blocks=2, width=16, ffn=32)  # the tiny transformer of tiny_wan: 2 blocks, 16 wide, ffn 32


def wan_lora_state(fmt: str, seed: int = 0):
    return lora_files.wan_lora_state(fmt, seed=seed, **TINY)


def write_wan_lora(path: Path, fmt: str, seed: int = 0, metadata=None) -> Path:
    return lora_files.write_wan_lora(path, fmt, seed=seed, metadata=metadata, **TINY)


@pytest.mark.parametrize("fmt", ["diffusers", "original", "kohya"])
def test_wan_formats_recognised(fmt, tmp_path):
    keys = list(wan_lora_state(fmt))
    assert is_wan_keys(keys) and lora_family(keys) == "wan" and wan_key_format(keys) == fmt
    info = inspect_wan_lora(write_wan_lora(tmp_path / "style.safetensors", fmt))
    assert info.format == fmt and info.model == "a Wan model 16 wide" and info.distillation is None


@pytest.mark.parametrize("fmt", ["kohya", "peft", "diffusers_old"])
def test_sd1_loras_are_not_wan_loras(fmt, tmp_path):
    from safetensors import safe_open

    with safe_open(str(write_lora(tmp_path / "fyp.safetensors", fmt)), framework="numpy") as f:
        keys = list(f.keys())
    assert lora_family(keys) == "sd1" and not is_wan_keys(keys)
    with pytest.raises(LoraFileError, match="not a Wan LoRA"):
        wan_key_format(keys)


def test_bias_deltas_on_some_layers_only_are_refused():
    # diffusers 0.42.1 + PEFT then give every LoRA layer a bias and leave the others' unset (meta tensors): the
    # file loads and the first forward fails ("Tensor on device meta")
    state = wan_lora_state("original")
    del state["diffusion_model.blocks.1.ffn.2.diff_b"]
    with pytest.raises(LoraFileError, match="diff_b"):
        wan_key_format(state)


def test_neither_family():
    assert lora_family(["model.diffusion_model.input_blocks.1.weight"]) is None  # not a LoRA
    assert lora_family(["transformer.single_transformer_blocks.0.attn.to_q.lora_A.weight"]) is None  # Flux


def test_model_size_from_the_query_width():
    assert wan_model_of({"transformer.blocks.0.attn1.to_q.lora_A.weight": [32, 1536]}) == "wan-vace-1.3b"
    assert wan_model_of({"lora_unet_blocks_0_self_attn_q.lora_down.weight": [64, 5120]}) == "wan-vace-14b"
    assert wan_model_of({"diffusion_model.blocks.0.ffn.0.lora_down.weight": [64, 5120]}) is None


def test_distillation_kinds_from_name_or_metadata():
    lightx2v = distillation_of("Wan21_T2V_14B_lightx2v_cfg_step_distill_lora_rank64")
    assert (lightx2v.kind, lightx2v.recommended_steps, lightx2v.recommended_guidance) == ("lightx2v", 4, 1.0)
    assert distillation_of("wan2.1_t2v_14b_lora_rank64_lightx2v_8steps").recommended_steps == 8
    causvid = distillation_of("Wan21_CausVid_14B_T2V_lora_rank32")
    assert (causvid.kind, causvid.recommended_guidance) == ("causvid", 1.0)
    assert distillation_of("renamed", {"ss_output_name": "CausVid_bidirect2"}).kind == "causvid"
    assert distillation_of("watercolor_style_rank32") is None
    assert distillation_of("rank64") is None  # a rank is not a step count


def _forward(transformer) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        return transformer(hidden_states=torch.randn(1, 16, 2, 4, 4, generator=g), timestep=torch.tensor([500]),
                           encoder_hidden_states=torch.randn(1, 6, TEXT_DIM, generator=g),
                           control_hidden_states=torch.randn(1, 96, 2, 4, 4, generator=g),
                           return_dict=False)[0]


@pytest.fixture(scope="module")
def pipe():
    from diffusers import WanVACEPipeline

    return WanVACEPipeline(tokenizer=None, text_encoder=None, vae=None, scheduler=None, transformer=tiny_transformer())


@pytest.mark.parametrize("fmt", ["diffusers", "original", "kohya"])
def test_diffusers_loads_each_format_and_unloading_restores_bit_for_bit(pipe, fmt, tmp_path):
    before_state = {k: v.clone() for k, v in pipe.transformer.state_dict().items()}
    before = _forward(pipe.transformer)
    path = write_wan_lora(tmp_path / f"{fmt}.safetensors", fmt)
    pipe.load_lora_weights(str(path), adapter_name=f"job_{fmt}")
    pipe.set_adapters([f"job_{fmt}"], [0.8])
    changed = _forward(pipe.transformer)
    assert (changed - before).abs().max() > 1e-3, f"the {fmt} LoRA did not change the output"
    pipe.delete_adapters([f"job_{fmt}"])
    pipe.unload_lora_weights()
    after_state = pipe.transformer.state_dict()
    assert set(after_state) == set(before_state)  # no LoRA layers left behind
    assert all(torch.equal(after_state[k], v) for k, v in before_state.items())
    assert torch.equal(_forward(pipe.transformer), before)
