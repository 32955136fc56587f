"""Tiny demo weights of the video stage: real on-disk layout, seeded, loadable by the real loading path."""

from __future__ import annotations

import json
import time

import pytest
import torch

from text2video.diffusion.demo import DEMO_UNET_CONFIG, SD14_SCHEDULER_CONFIG, build_tokenizer_files
from text2video.diffusion.pipeline import FollowYourPosePipeline
from text2video.models.inventory import inventory
from text2video.models.layout import ModelPaths


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _load_state(path):
    return torch.load(path, map_location="cpu", weights_only=True)


def test_layout_is_complete_and_says_demo(demo_models):
    paths = ModelPaths(demo_models)
    assert inventory(demo_models).present and inventory(demo_models).demo
    assert paths.is_demo
    sd = paths.sd
    # The files a real SD-1.4 download has, in the same places.
    for rel in ("model_index.json", "tokenizer/vocab.json", "tokenizer/merges.txt", "text_encoder/config.json",
                "vae/config.json", "unet/config.json", "unet/diffusion_pytorch_model.safetensors",
                "scheduler/scheduler_config.json"):
        assert (sd / rel).is_file(), rel
    unet_config = json.loads((sd / "unet/config.json").read_text())
    assert unet_config["_class_name"] == "UNet2DConditionModel"  # the 2-D config, inflated at load time
    for key, value in DEMO_UNET_CONFIG.items():
        assert unet_config[key] == value, key
    scheduler = json.loads((sd / "scheduler/scheduler_config.json").read_text())
    assert scheduler == SD14_SCHEDULER_CONFIG
    vae = json.loads((sd / "vae/config.json").read_text())
    assert len(vae["block_out_channels"]) == 4 and vae["scaling_factor"] == 0.18215  # factor 8, SD latent scale


def test_checkpoint_in_the_released_format(demo_models):
    paths = ModelPaths(demo_models)
    state = _load_state(paths.fyp_checkpoint / "pytorch_model.bin")  # weights_only: plain tensors
    adapter = _load_state(paths.pose_encoder)
    from text2video.diffusion.unet3d import UNet3DConditionModel

    with torch.device("meta"):
        model = UNet3DConditionModel.from_config(DEMO_UNET_CONFIG)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    # Full UNet3D state dict (as accelerate.save_state writes it), adapter also on its own without the prefix.
    assert {k: tuple(v.shape) for k, v in state.items()} == expected
    assert set(adapter) == {k[len("skeleton_adapter."):] for k in expected if k.startswith("skeleton_adapter.")}
    for key, value in adapter.items():
        torch.testing.assert_close(value, state["skeleton_adapter." + key])
    # The new layers are not left at zero: demo output depends on them (temporal conv "up" starts at zero).
    assert any(k.endswith("conv_temporal.up.weight") and v.abs().sum() > 0 for k, v in state.items())


def test_round_trip_save_load(demo_models, tmp_path):
    """Demo folder -> pipeline (real loader) -> saved again in the released format -> loaded: same weights, same
    video."""
    paths = ModelPaths(demo_models)
    pipe = FollowYourPosePipeline.from_models_dir(demo_models)
    pipe.set_progress_bar_config(disable=True)
    saved = _load_state(paths.fyp_checkpoint / "pytorch_model.bin")
    loaded = pipe.unet.state_dict()
    assert set(saved) == set(loaded)
    for key in saved:
        torch.testing.assert_close(loaded[key], saved[key], rtol=0, atol=0)

    # Save what was loaded as a new checkpoint beside the same SD folder, and load that.
    root = tmp_path / "models"
    root.mkdir()
    (root / "stable-diffusion-v1-4").symlink_to(paths.sd)
    ckpt = root / "follow-your-pose/followyourpose_checkpoint-1000"
    ckpt.mkdir(parents=True)
    torch.save({k: v.contiguous() for k, v in loaded.items()}, ckpt / "pytorch_model.bin")
    adapter = {k[len("skeleton_adapter."):]: v for k, v in loaded.items() if k.startswith("skeleton_adapter.")}
    torch.save(adapter, root / "follow-your-pose/pose_encoder.pth")
    again = FollowYourPosePipeline.from_models_dir(root)
    again.set_progress_bar_config(disable=True)
    for key, value in again.unet.state_dict().items():
        torch.testing.assert_close(value, loaded[key], rtol=0, atol=0)
    pose = torch.zeros(2, 3, 64, 64)
    pose[:, :, 20:44, 30:34] = 1.0
    args = dict(pose=pose, video_length=2, height=64, width=64, num_inference_steps=1)
    a = pipe("a robot", generator=torch.Generator().manual_seed(0), **args).frames
    b = again("a robot", generator=torch.Generator().manual_seed(0), **args).frames
    assert (a == b).all()


def test_tokenizer_files_work_with_clip_tokenizer(tmp_path):
    from transformers import CLIPTokenizer

    size = build_tokenizer_files(tmp_path / "tokenizer")
    tok = CLIPTokenizer.from_pretrained(tmp_path / "tokenizer")
    assert len(tok) == size and tok.model_max_length == 77
    ids = tok("A man dancing on the beach", padding="max_length", max_length=77, truncation=True).input_ids
    assert len(ids) == 77 and ids[0] == tok.bos_token_id
    assert tok.decode(ids, skip_special_tokens=True).strip() == "a man dancing on the beach"
    tokens = tok.tokenize("the beach")
    assert tokens == ["the</w>", "beach</w>"]  # known words are whole tokens
    # Anything else (accents, emoji) still tokenizes, byte by byte, as CLIP's byte-level BPE does.
    assert tok.decode(tok("cô gái 🙂").input_ids, skip_special_tokens=True).strip() == "cô gái 🙂"


def test_init_demo_models_command_builds_seeded_folder_fast(demo_models, tmp_path, capsys):
    from text2video.cli import main

    started = time.monotonic()
    assert main(["init-demo-models", str(tmp_path)]) == 0
    elapsed = time.monotonic() - started
    out = capsys.readouterr().out
    assert "noise" in out and str(tmp_path.resolve()) in out
    assert elapsed < 90, f"demo build took {elapsed:.1f} s"
    paths, fresh = ModelPaths(demo_models), ModelPaths(tmp_path)
    assert fresh.is_demo and inventory(tmp_path).missing["diffusion"] == []
    # Same seeds -> the same weights as the session's demo folder, bit for bit.
    a = _load_state(paths.fyp_checkpoint / "pytorch_model.bin")
    b = _load_state(fresh.fyp_checkpoint / "pytorch_model.bin")
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)
    for rel in ("tokenizer/vocab.json", "tokenizer/merges.txt", "unet/config.json"):
        assert (paths.sd / rel).read_text() == (fresh.sd / rel).read_text()
