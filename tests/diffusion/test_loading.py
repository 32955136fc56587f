"""Loading SD-1.4 2-D weights + the Follow-Your-Pose checkpoint + pose_encoder.pth into the UNet3D, on tiny models
saved in the real on-disk formats (diffusers save_pretrained, accelerate's pytorch_model.bin, torch.save)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from text2video.diffusion.unet3d import UNet3DConditionModel
from text2video.exceptions import ModelsMissing

TINY = dict(
    sample_size=8, block_out_channels=(32, 64, 64, 64), layers_per_block=2, cross_attention_dim=32,
    attention_head_dim=8, norm_num_groups=8,
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
)
TRAINED = re.compile(r"attn1\.to_q|attn2\.to_q|attn_temp|norm_temp|conv_temporal")  # the reference's trainable_modules


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """models/ in the real layout: SD unet (2-D, safetensors + bin), FYP checkpoint (full 3-D state dict, as
    accelerate saves it), pose_encoder.pth (bare adapter state dict). Returns paths and the tensors written."""
    from diffusers import UNet2DConditionModel

    root = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    unet2d = UNet2DConditionModel(**TINY)
    sd_dir = root / "stable-diffusion-v1-4" / "unet"
    unet2d.save_pretrained(sd_dir)  # config.json + diffusion_pytorch_model.safetensors
    torch.manual_seed(1)
    unet3d = UNet3DConditionModel.from_config(dict(unet2d.config))
    with torch.no_grad():
        for p in unet3d.parameters():
            p.normal_(0, 0.02)
    fyp_dir = root / "follow-your-pose" / "followyourpose_checkpoint-1000"
    fyp_dir.mkdir(parents=True)
    full = {k: v.clone() for k, v in unet3d.state_dict().items()}
    torch.save(full, fyp_dir / "pytorch_model.bin")
    pose = root / "follow-your-pose" / "pose_encoder.pth"
    adapter = {k[len("skeleton_adapter."):]: v.clone() for k, v in full.items() if k.startswith("skeleton_adapter.")}
    torch.save(adapter, pose)
    return dict(root=root, sd=sd_dir, fyp=fyp_dir, pose=pose, full=full, sd_state=unet2d.state_dict(),
                adapter=adapter)


def _assert_state(model, expected: dict, keys=None):
    state = model.state_dict()
    for k in keys or expected:
        torch.testing.assert_close(state[k], expected[k].to(state[k].dtype), rtol=0, atol=0, msg=k)


def _copy_sd(folders, tmp_path) -> Path:
    dst = tmp_path / "unet"
    shutil.copytree(folders["sd"], dst)
    return dst


def test_full_checkpoint_loads_every_tensor(folders):
    model = UNet3DConditionModel.from_pretrained_2d(folders["sd"], fyp_checkpoint=folders["fyp"],
                                                    pose_encoder=folders["pose"])
    assert isinstance(model, UNet3DConditionModel) and not model.training
    assert not any(p.is_meta for p in model.parameters())
    _assert_state(model, folders["full"])


def test_full_checkpoint_needs_no_sd_weights_file(folders, tmp_path):
    """The released checkpoint holds every tensor: the 3.4 GB SD unet weights are not even opened."""
    sd = tmp_path / "unet"
    sd.mkdir()
    shutil.copy(folders["sd"] / "config.json", sd)
    model = UNet3DConditionModel.from_pretrained_2d(sd, fyp_checkpoint=folders["fyp"] / "pytorch_model.bin")
    _assert_state(model, folders["full"])


def test_partial_checkpoint_takes_the_rest_from_sd_and_pose_encoder(folders, tmp_path):
    trained = {k: v for k, v in folders["full"].items() if TRAINED.search(k)}
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    save_file(trained, ckpt / "model.safetensors")  # newer accelerate saves safetensors
    model = UNet3DConditionModel.from_pretrained_2d(folders["sd"], fyp_checkpoint=ckpt, pose_encoder=folders["pose"])
    _assert_state(model, trained)
    _assert_state(model, folders["sd_state"], [k for k in folders["sd_state"] if not TRAINED.search(k)])
    _assert_state(model, {"skeleton_adapter." + k: v for k, v in folders["adapter"].items()})


def test_sd_only_inflates_and_initialises_temporal_layers_fresh(folders, tmp_path):
    sd = _copy_sd(folders, tmp_path)
    # .bin instead of .safetensors (older SD downloads)
    from safetensors.torch import load_file

    torch.save(load_file(sd / "diffusion_pytorch_model.safetensors"), sd / "diffusion_pytorch_model.bin")
    (sd / "diffusion_pytorch_model.safetensors").unlink()
    model = UNet3DConditionModel.from_pretrained_2d(sd, pose_encoder=folders["pose"])
    _assert_state(model, folders["sd_state"])
    state = model.state_dict()
    assert all(not v.is_meta for v in state.values())
    ups = [v for k, v in state.items() if k.endswith("conv_temporal.up.weight")]
    assert ups and all(torch.count_nonzero(v) == 0 for v in ups)  # identity at start, as the reference
    assert all(v.std() > 0 for k, v in state.items() if k.endswith("attn_temp.to_q.weight"))
    sample = torch.randn(1, 4, 2, 8, 8)
    with torch.no_grad():
        out = model(sample, 3, torch.randn(1, 5, 32), pose=torch.rand(1, 2, 3, 64, 64)).sample
    assert torch.isfinite(out).all()


def test_fp16_variant_dtype_and_device(folders, tmp_path):
    sd = _copy_sd(folders, tmp_path)
    from safetensors.torch import load_file

    half = {k: v.half() for k, v in load_file(sd / "diffusion_pytorch_model.safetensors").items()}
    save_file(half, sd / "diffusion_pytorch_model.fp16.safetensors")
    (sd / "diffusion_pytorch_model.safetensors").unlink()
    for variant in ("fp16", None):  # None: the only file present is the fp16 variant
        model = UNet3DConditionModel.from_pretrained_2d(sd, pose_encoder=folders["pose"], torch_dtype=torch.bfloat16,
                                                        device="cpu", variant=variant)
        assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
        _assert_state(model, {k: v.to(torch.bfloat16) for k, v in half.items()})


def test_ddp_module_prefix_is_removed(folders, tmp_path):
    path = tmp_path / "pytorch_model.bin"
    torch.save({"module." + k: v for k, v in folders["full"].items()}, path)
    model = UNet3DConditionModel.from_pretrained_2d(folders["sd"], fyp_checkpoint=path)
    _assert_state(model, folders["full"])


# ---------------------------------------------------------------- errors
def _error(**kwargs) -> ModelsMissing:
    with pytest.raises(ModelsMissing) as err:
        UNet3DConditionModel.from_pretrained_2d(**kwargs)
    return err.value


def test_missing_keys_are_listed_with_count_and_files(folders, tmp_path):
    path = tmp_path / "pytorch_model.bin"
    # Without the temporal convolutions, and they exist in no other source.
    torch.save({k: v for k, v in folders["full"].items() if "conv_temporal" not in k}, path)
    err = _error(sd_unet_dir=folders["sd"], fyp_checkpoint=path, pose_encoder=folders["pose"])
    n = sum("conv_temporal" in k for k in folders["full"])
    msg = str(err)
    assert f"{n} UNet3D parameter(s) missing" in msg
    assert str(path) in msg and "diffusion_pytorch_model.safetensors" in msg
    assert f"(and {n - 10} more)" in msg
    assert msg.count("conv_temporal") == 10
    assert err.hint


def test_unexpected_key_names_file_and_key(folders, tmp_path):
    path = tmp_path / "pytorch_model.bin"
    torch.save({**folders["full"], "extra_head.weight": torch.zeros(3)}, path)
    msg = str(_error(sd_unet_dir=folders["sd"], fyp_checkpoint=path))
    assert "1 unexpected key(s)" in msg and str(path) in msg and "extra_head.weight" in msg


def test_pose_encoder_with_unet_keys_is_unexpected(folders, tmp_path):
    path = tmp_path / "pose_encoder.pth"
    torch.save({**folders["adapter"], "conv_in.weight_extra": torch.zeros(1)}, path)
    msg = str(_error(sd_unet_dir=folders["sd"], pose_encoder=path))
    assert "unexpected" in msg and "skeleton_adapter.conv_in.weight_extra" in msg and str(path) in msg


def test_shape_mismatch_names_file_key_and_shapes(folders, tmp_path):
    path = tmp_path / "pytorch_model.bin"
    bad = dict(folders["full"])
    bad["conv_in.weight"] = torch.zeros(32, 4, 1, 1)
    torch.save(bad, path)
    msg = str(_error(sd_unet_dir=folders["sd"], fyp_checkpoint=path))
    assert "1 shape mismatch(es)" in msg and str(path) in msg and "conv_in.weight [32, 4, 1, 1] != [32, 4, 3, 3]" in msg


@pytest.mark.parametrize("what", ["config", "sd_weights", "checkpoint", "pose_encoder", "corrupt"])
def test_missing_or_broken_files(folders, tmp_path, what):
    sd = _copy_sd(folders, tmp_path)
    kwargs = dict(sd_unet_dir=sd, pose_encoder=folders["pose"])
    if what == "config":
        (sd / "config.json").unlink()
        expect = str(sd / "config.json")
    elif what == "sd_weights":
        (sd / "diffusion_pytorch_model.safetensors").unlink()
        expect = "diffusion_pytorch_model.safetensors"
    elif what == "checkpoint":
        kwargs["fyp_checkpoint"] = tmp_path / "nowhere" / "followyourpose_checkpoint-1000"
        expect = str(kwargs["fyp_checkpoint"])
    elif what == "pose_encoder":
        kwargs["pose_encoder"] = tmp_path / "pose_encoder.pth"
        expect = str(kwargs["pose_encoder"])
    else:
        broken = tmp_path / "pytorch_model.bin"
        broken.write_bytes(b"not a checkpoint")
        kwargs["fyp_checkpoint"] = broken
        expect = str(broken)
    err = _error(**kwargs)
    assert expect in str(err)
    assert err.field == "models" and err.hint
