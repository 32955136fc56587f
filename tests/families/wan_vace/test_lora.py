"""Wan LoRAs: recognised by their keys in each format (and told apart from SD-1.x ones), distillation kinds, and
loaded by diffusers' own WanVACEPipeline.load_lora_weights on a tiny transformer: the output changes, and
unloading restores every weight and the output bit for bit."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from tests.families.wan_vace.tiny_wan import TEXT_DIM, tiny_transformer
from tests.lora_files import write_lora
from text2video.families.wan_vace.lora import distillation_of, inspect_wan_lora, wan_model_of
from text2video.models.loras import LoraFileError, is_wan_keys, lora_family, wan_key_format

pytestmark = pytest.mark.usefixtures("one_torch_thread")

BLOCKS, WIDTH, FFN, RANK = 2, 16, 32, 4  # the tiny transformer: 2 blocks, 16 wide, ffn 32
# (original name, diffusers name, (out, in))
_ATTENTION = tuple(zip("qkvo", ("to_q", "to_k", "to_v", "to_out.0")))
MODULES = [(f"{ours}.{o}", f"{theirs}.{d}", (WIDTH, WIDTH)) for ours, theirs in (("self_attn", "attn1"),
                                                                               ("cross_attn", "attn2"))
           for o, d in _ATTENTION]
MODULES += [("ffn.0", "ffn.net.0.proj", (FFN, WIDTH)), ("ffn.2", "ffn.net.2", (WIDTH, FFN))]


def _pair(shape, gen):
    out, inp = shape
    return torch.randn(RANK, inp, generator=gen) * 0.5, torch.randn(out, RANK, generator=gen) * 0.5


def wan_lora_state(fmt: str, seed: int = 0) -> dict[str, torch.Tensor]:
    """A LoRA for every block's attention and feed-forward layers, in ``fmt``: "diffusers", "original", "kohya"."""
    gen, state = torch.Generator().manual_seed(seed), {}
    for block in range(BLOCKS):
        for original, diffusers, shape in MODULES:
            down, up = _pair(shape, gen)
            if fmt == "diffusers":
                stem = f"transformer.blocks.{block}.{diffusers}"
                state[f"{stem}.lora_A.weight"], state[f"{stem}.lora_B.weight"] = down, up
            elif fmt == "original":
                stem = f"diffusion_model.blocks.{block}.{original}"
                state[f"{stem}.lora_down.weight"], state[f"{stem}.lora_up.weight"] = down, up
                state[f"{stem}.alpha"] = torch.tensor(float(RANK))
                state[f"{stem}.diff_b"] = torch.randn(shape[0], generator=gen) * 0.1  # as LightX2V files carry
            elif fmt == "kohya":
                stem = f"lora_unet_blocks_{block}_{original.replace('.', '_')}"
                state[f"{stem}.lora_down.weight"], state[f"{stem}.lora_up.weight"] = down, up
                state[f"{stem}.alpha"] = torch.tensor(float(RANK))
        if fmt == "original":  # a norm delta, as LightX2V / CausVid files carry them (diffusers drops it)
            state[f"diffusion_model.blocks.{block}.norm3.diff"] = torch.zeros(WIDTH)
    return state


def write_wan_lora(path: Path, fmt: str, seed: int = 0, metadata=None) -> Path:
    save_file(wan_lora_state(fmt, seed), str(path), metadata=metadata)
    return path


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
