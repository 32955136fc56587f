"""The loras folder: listing, header checks (other architectures, damaged files) and what a job may ask for."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from tests.lora_files import SD2_TARGETS, lora_state, models_with_loras, write_lora
from text2video.exceptions import InvalidInput
from text2video.models.loras import (LoraChoice, check_choices, installed_loras, parse_lora_spec, read_choices)


@pytest.fixture
def models(demo_models, tmp_path):
    return models_with_loras(demo_models, tmp_path / "models")


def test_lists_both_formats_with_their_parts_and_nothing_else(models):
    write_lora(models / "loras" / "ink.safetensors", "kohya")
    write_lora(models / "loras" / "watercolor.safetensors", "peft")
    write_lora(models / "loras" / "unet-only.safetensors", "peft",
               {("unet", "mid_block.resnets.0.conv1"): (64, 64, 3, 3)})
    (models / "loras" / "notes.txt").write_text("not a LoRA")
    found = {f.name: f for f in installed_loras(models)}
    assert set(found) == {"ink", "watercolor", "unet-only"}
    assert found["ink"].format == "kohya" and found["watercolor"].format == "diffusers"
    assert found["ink"].parts == ("unet", "text_encoder") and found["unet-only"].parts == ("unet",)
    assert all(f.problem is None and f.size_bytes > 0 for f in found.values())
    assert found["ink"].to_dict()["usable"] is True


def test_no_folder_means_no_loras(tmp_path):
    assert installed_loras(tmp_path / "nowhere") == []


def test_other_architectures_and_damaged_files_say_why(models):
    folder = models / "loras"
    write_lora(folder / "sd2.safetensors", "kohya", SD2_TARGETS)
    sdxl = lora_state("kohya")
    sdxl["lora_te2_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight"] = torch.zeros(4, 1280)
    sdxl["lora_te2_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight"] = torch.zeros(1280, 4)
    save_file(sdxl, str(folder / "sdxl.safetensors"))
    save_file({"lora_unet_input_blocks_4_1_proj_in.lora_down.weight": torch.zeros(4, 640),
               "lora_unet_input_blocks_4_1_proj_in.lora_up.weight": torch.zeros(640, 4)},
              str(folder / "sgm.safetensors"))
    whole = (folder / "sd2.safetensors").read_bytes()
    (folder / "cut.safetensors").write_bytes(whole[: len(whole) // 2])
    save_file({"conv.weight": torch.zeros(3, 3)}, str(folder / "checkpoint.safetensors"))
    problems = {f.name: f.problem for f in installed_loras(models)}
    assert "SD-2.x" in problems["sd2"] and "1024" in problems["sd2"]
    assert "SDXL" in problems["sdxl"] and "SDXL" in problems["sgm"]
    assert "damaged" in problems["cut"]
    assert "not a LoRA" in problems["checkpoint"]


def test_each_file_says_which_kind_of_model_it_fits(models):
    from tests.lora_files import WAN_FORMATS, write_wan_lora

    folder = models / "loras"
    write_lora(folder / "ink.safetensors", "kohya")
    for fmt in WAN_FORMATS:
        write_wan_lora(folder / f"wan-{fmt}.safetensors", fmt, blocks=1, width=1536, ffn=8, rank=1)
    save_file({"transformer.single_transformer_blocks.0.attn.to_q.lora_A.weight": torch.zeros(4, 8),
               "transformer.single_transformer_blocks.0.attn.to_q.lora_B.weight": torch.zeros(8, 4)},
              str(folder / "flux.safetensors"))
    found = {f.name: f for f in installed_loras(models)}
    assert (found["ink"].fits, found["ink"].width) == ("sd1", None)
    for fmt in WAN_FORMATS:
        wan = found[f"wan-{fmt}"]
        assert (wan.fits, wan.format, wan.parts, wan.width, wan.problem) == ("wan", fmt, ("transformer",), 1536, None)
    assert found["flux"].fits is None and "neither SD-1.x's" in found["flux"].problem
    assert found["wan-kohya"].to_dict()["fits"] == "wan"


@pytest.mark.parametrize("text, expected", [
    ("ink", LoraChoice("ink", 1.0)), ("ink:0.5", LoraChoice("ink", 0.5)), (" ink : -1 ", LoraChoice("ink", -1.0)),
])
def test_parse_spec(text, expected):
    assert parse_lora_spec(text) == expected


@pytest.mark.parametrize("raw, message", [
    ("ink:much", "not a number"),
    (["a", "b", "c", "d"], "at most 3"),
    (["ink:2.5"], "outside -2..2"),
    ([{"name": "ink", "weight": -3}], "outside -2..2"),
    (["ink", "ink:0.5"], "named twice"),
    ([{"name": "ink", "strength": 1}], "not a LoRA choice"),
    (42, "must be a list"),
])
def test_bad_choices_name_the_field_and_the_fix(raw, message):
    with pytest.raises(InvalidInput, match=message) as err:
        read_choices(raw)
    assert err.value.field == "loras"


def test_choices_from_json_and_from_a_form_text():
    assert read_choices([{"name": "ink", "weight": 0.5}, "wash"]) == [LoraChoice("ink", 0.5), LoraChoice("wash")]
    assert read_choices("ink:0.5, wash") == [LoraChoice("ink", 0.5), LoraChoice("wash")]
    assert read_choices("") == [] and read_choices([]) == []


def test_only_installed_usable_files_can_be_named(models):
    write_lora(models / "loras" / "ink.safetensors", "kohya")
    write_lora(models / "loras" / "sd2.safetensors", "kohya", SD2_TARGETS)
    (models / "outside.safetensors").write_bytes((models / "loras" / "ink.safetensors").read_bytes())
    [(choice, file)] = check_choices(["ink:0.7"], models)
    assert choice == LoraChoice("ink", 0.7) and file.path == models / "loras" / "ink.safetensors"
    for name in ("sketch", "ink.safetensors"):
        with pytest.raises(InvalidInput, match=r"no LoRA named .* \(installed: ink, sd2\)"):
            check_choices([name], models)
    for path in ("../outside", str(models / "outside"), "loras/ink"):  # a path is refused before any file is looked at
        with pytest.raises(InvalidInput, match="is not a LoRA name .* paths are not accepted"):
            check_choices([path], models)
    with pytest.raises(InvalidInput, match="sd2.safetensors cannot be used: it was made for SD-2.x"):
        check_choices(["sd2"], models)
