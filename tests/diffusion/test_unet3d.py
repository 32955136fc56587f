"""The Follow-Your-Pose UNet3D: architecture facts, forward-pass properties, dtypes, save/load."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from text2video.diffusion.attention import Attention, FrameAnchor, SparseCausalAttnProcessor
from text2video.diffusion.blocks import FrameGroupNorm, adapter_layers
from text2video.diffusion.unet3d import UNet3DConditionModel
from text2video.exceptions import InvalidInput, ModelConfigError, Text2VideoError

DATA = Path(__file__).resolve().parents[1] / "data"
SHARED_TSV = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "followyourpose_unet_sd14.tsv"

# diffusers' SD-1.4 unet/config.json (as published), plus keys of newer diffusers versions to be ignored.
SD14_CONFIG = {
    "_class_name": "UNet2DConditionModel", "_diffusers_version": "0.2.2", "act_fn": "silu",
    "attention_head_dim": 8, "block_out_channels": [320, 640, 1280, 1280], "center_input_sample": False,
    "cross_attention_dim": 768,
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    "downsample_padding": 1, "flip_sin_to_cos": True, "freq_shift": 0, "in_channels": 4, "layers_per_block": 2,
    "mid_block_scale_factor": 1, "norm_eps": 1e-05, "norm_num_groups": 32, "out_channels": 4, "sample_size": 64,
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
    "some_future_option": 3,
}

TINY = dict(
    sample_size=8, block_out_channels=(32, 64, 64, 64), layers_per_block=2, cross_attention_dim=32,
    attention_head_dim=8, norm_num_groups=8,
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
)


def _randomize(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Seeded non-trivial weights everywhere (the fresh init zeroes conv_temporal.up, which would hide it)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("conv_temporal.up.weight"):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.05)
    return model


@pytest.fixture(scope="module")
def tiny() -> UNet3DConditionModel:
    torch.manual_seed(0)
    return _randomize(UNet3DConditionModel(**TINY)).eval()


@pytest.fixture(scope="module", params=[2, 1], ids=["layers2", "layers1"])
def tiny_any(request, tiny) -> UNet3DConditionModel:
    """The released layout (2 layers per block) and the demo-model layout (1 layer per block)."""
    if request.param == 2:
        return tiny
    torch.manual_seed(0)
    return _randomize(UNet3DConditionModel(**{**TINY, "layers_per_block": 1})).eval()


def _inputs(batch=1, frames=4, h=8, w=8, seed=1):
    gen = torch.Generator().manual_seed(seed)
    sample = torch.randn(batch, 4, frames, h, w, generator=gen)
    text = torch.randn(batch, 7, 32, generator=gen)
    pose = torch.rand(batch, frames, 3, 8 * h, 8 * w, generator=gen)
    return sample, text, pose


def _read_tsv(path: Path) -> dict[str, tuple[int, ...]]:
    out = {}
    for line in path.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        name, shape = line.split("\t")
        out[name] = tuple(int(s) for s in shape.split("x"))
    return out


def test_committed_copy_of_reference_list_is_current():
    if not SHARED_TSV.is_file():
        pytest.skip(f"{SHARED_TSV} absent (plain clone): the committed copy in tests/data is used")
    assert _read_tsv(SHARED_TSV) == _read_tsv(DATA / "followyourpose_unet_sd14.tsv")


def test_sd14_state_dict_matches_reference_names_and_shapes():
    expected = _read_tsv(SHARED_TSV if SHARED_TSV.is_file() else DATA / "followyourpose_unet_sd14.tsv")
    assert len(expected) == 868
    with torch.device("meta"):
        model = UNet3DConditionModel.from_config(SD14_CONFIG)
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert sorted(set(expected) - set(ours)) == []
    assert sorted(set(ours) - set(expected)) == []
    assert {k: v for k, v in ours.items() if expected[k] != v} == {}
    assert sum(v.numel() for v in model.state_dict().values()) == pytest.approx(998e6, rel=1e-3)
    # 2-D names were mapped to 3-D ones in the recorded config.
    assert model.config.down_block_types[0] == "CrossAttnDownBlock3D"
    assert model.config.mid_block_type == "UNetMidBlock3DCrossAttn"


def test_unsupported_config_names_the_field():
    # model code raises a plain ValueError (no HTTP status); the engine maps it where it loads a models folder
    with pytest.raises(ModelConfigError) as err:
        UNet3DConditionModel(**{**TINY, "use_linear_projection": True})
    assert err.value.field == "use_linear_projection" and not isinstance(err.value, Text2VideoError)
    assert isinstance(err.value, ValueError)
    with pytest.raises(ModelConfigError) as err:
        UNet3DConditionModel(**{**TINY, "down_block_types": ("AttnDownBlock2D",) + TINY["down_block_types"][1:]})
    assert "AttnDownBlock2D" in str(err.value)


def test_forward_shape_pose_and_timestep_matter(tiny_any):
    sample, text, pose = _inputs()
    with torch.no_grad():
        out = tiny_any(sample, 10, text, pose=pose).sample
        no_pose = tiny_any(sample, 10, text).sample
        later = tiny_any(sample, 900, text, pose=pose).sample
    assert out.shape == sample.shape
    assert torch.isfinite(out).all()
    # The adapter feature is added also with layers_per_block=1 (rule documented in blocks.adapter_layers).
    assert (out - no_pose).abs().max() > 1e-3
    assert (out - later).abs().max() > 1e-3


def test_adapter_layer_rule():
    assert adapter_layers(1) == [0]
    assert adapter_layers(2) == [1]  # after the second layer, as the reference
    assert adapter_layers(3) == [1]


def test_pose_features_once_equal_pose_each_step(tiny_any):
    tiny = tiny_any
    sample, text, pose = _inputs()
    with torch.no_grad():
        feats = tiny.encode_pose(pose)
        direct = tiny(sample, 999, text, pose=pose).sample
        cached = tiny(sample, 999, text, pose_features=feats).sample
    assert [tuple(f.shape) for f in feats] == [(1, 4, 32, 8, 8), (1, 4, 64, 4, 4), (1, 4, 64, 2, 2), (1, 4, 64, 1, 1)]
    torch.testing.assert_close(cached, direct, rtol=0, atol=0)


def test_guidance_batch_broadcast_equals_explicit_duplication(tiny):
    sample, text, pose = _inputs(batch=1)
    sample2 = torch.cat([sample, sample + 0.5])
    text2 = torch.cat([torch.zeros_like(text), text])
    with torch.no_grad():
        feats = tiny.encode_pose(pose)  # for B videos
        broadcast = tiny(sample2, torch.tensor([500, 500]), text2, pose_features=feats).sample
        explicit = tiny(sample2, torch.tensor([500, 500]), text2, pose=pose.repeat(2, 1, 1, 1, 1)).sample
    torch.testing.assert_close(broadcast, explicit, rtol=1e-5, atol=1e-5)


def _naive_sparse_causal(attn: Attention, x: torch.Tensor, frames: int) -> torch.Tensor:
    """Straight from the definition: frame i attends to [frame 0 ; frame i-1] (frame 0: itself twice)."""
    outs = []
    b = x.shape[0] // frames
    xs = x.view(b, frames, *x.shape[1:])
    heads = attn.heads
    for i in range(frames):
        q = attn.to_q(xs[:, i])
        ctx = torch.cat([xs[:, 0], xs[:, max(i - 1, 0)]], dim=1)
        k, v = attn.to_k(ctx), attn.to_v(ctx)
        qh = q.view(b, q.shape[1], heads, -1).transpose(1, 2)
        kh = k.view(b, k.shape[1], heads, -1).transpose(1, 2)
        vh = v.view(b, v.shape[1], heads, -1).transpose(1, 2)
        w = torch.softmax(qh @ kh.transpose(-1, -2) / qh.shape[-1] ** 0.5, dim=-1)
        o = (w @ vh).transpose(1, 2).reshape(b, q.shape[1], -1)
        outs.append(attn.to_out[0](o))
    return torch.stack(outs, dim=1).flatten(0, 1)


def test_sparse_causal_attention_definition_and_causality():
    torch.manual_seed(0)
    attn = Attention(16, heads=2, dim_head=8, processor=SparseCausalAttnProcessor()).eval()
    frames, tokens = 5, 6
    x = torch.randn(2 * frames, tokens, 16)
    with torch.no_grad():
        out = attn(x, num_frames=frames)
        torch.testing.assert_close(out, _naive_sparse_causal(attn, x, frames), rtol=1e-5, atol=1e-5)
        x2 = x.clone().view(2, frames, tokens, 16)
        x2[:, 3] += 1.0
        out2 = attn(x2.view_as(x), num_frames=frames).view(2, frames, tokens, 16)
    out = out.view(2, frames, tokens, 16)
    torch.testing.assert_close(out2[:, :3], out[:, :3], rtol=0, atol=0)  # frames before 3 unaffected
    assert (out2[:, 3] - out[:, 3]).abs().max() > 1e-3  # frame 3 itself changes
    assert (out2[:, 4] - out[:, 4]).abs().max() > 1e-3  # frame 4 attends to frame 3


def test_frame_anchor_lets_a_window_attend_to_the_global_first_frame():
    torch.manual_seed(0)
    anchor = FrameAnchor()
    attn = Attention(16, heads=2, dim_head=8, processor=SparseCausalAttnProcessor("layer", anchor)).eval()
    frames, tokens = 5, 6
    x = torch.randn(frames, tokens, 16)
    with torch.no_grad():
        full = attn(x, num_frames=frames)
        anchor.mode = "record"
        attn(x[:1], num_frames=1)  # the global first frame, once
        anchor.mode = "use"
        window = attn(x[2:5], num_frames=3)  # frames 2..4: window frames 1, 2 see [frame 0 ; previous]
    torch.testing.assert_close(window[1:], full[3:5], rtol=1e-5, atol=1e-5)
    anchor.clear()
    with pytest.raises(RuntimeError, match="record"):
        attn(x[2:5], num_frames=3)


def test_frame_group_norm_spans_all_frames_like_5d_groupnorm():
    torch.manual_seed(0)
    ref = torch.nn.GroupNorm(4, 16, eps=1e-5)
    torch.nn.init.normal_(ref.weight)
    torch.nn.init.normal_(ref.bias)
    ours = FrameGroupNorm(4, 16, eps=1e-5)
    ours.load_state_dict(ref.state_dict())
    x5 = torch.randn(2, 16, 3, 5, 5) * 3 + 1  # (b, c, f, h, w) as the reference holds it
    folded = x5.permute(0, 2, 1, 3, 4).reshape(6, 16, 5, 5)
    expected = ref(x5).permute(0, 2, 1, 3, 4).reshape(6, 16, 5, 5)
    torch.testing.assert_close(ours(folded, num_frames=3), expected, rtol=1e-5, atol=1e-5)
    bf = ours.to(torch.bfloat16)(folded.bfloat16(), num_frames=3).float()
    torch.testing.assert_close(bf, expected, rtol=0.02, atol=0.05)
    # A channels-last model's maps: same values, and the output stays channels-last (views, no copy).
    for dtype, tol in ((torch.float32, 1e-5), (torch.bfloat16, 0.05)):
        layer = FrameGroupNorm(4, 16, eps=1e-5)
        layer.load_state_dict(ref.state_dict())
        nhwc = folded.to(dtype).contiguous(memory_format=torch.channels_last)
        out = layer.to(dtype)(nhwc, num_frames=3)
        assert out.is_contiguous(memory_format=torch.channels_last)
        torch.testing.assert_close(out.float(), expected, rtol=tol, atol=tol)


def test_geglu_equals_gelu_gate_on_one_projection():
    """GEGLU runs its projection as two half products; the result is the released layer's ``x * gelu(gate)`` on
    the chunks of one ``proj`` output (same parameters)."""
    from text2video.diffusion.attention import GEGLU

    torch.manual_seed(0)
    layer = GEGLU(16, 24)
    x = torch.randn(2, 5, 16)
    hidden, gate = layer.proj(x).chunk(2, dim=-1)
    torch.testing.assert_close(layer(x), hidden * torch.nn.functional.gelu(gate), rtol=1e-6, atol=1e-6)


def test_single_frame_without_temporal_parts_equals_diffusers_unet2d():
    """Independent check of the whole graph: with the temporal layers at zero and one frame, the 3-D model must
    compute exactly what diffusers' own UNet2DConditionModel computes with the same 2-D weights."""
    from diffusers import UNet2DConditionModel

    torch.manual_seed(0)
    unet2d = UNet2DConditionModel(**TINY).eval()
    unet3d = UNet3DConditionModel.from_config(dict(unet2d.config)).eval()
    missing, unexpected = unet3d.load_state_dict(unet2d.state_dict(), strict=False)
    assert unexpected == []
    assert all(("_temp" in k) or k.startswith("skeleton_adapter.") for k in missing)
    with torch.no_grad():
        for name, p in unet3d.named_parameters():
            if "attn_temp.to_out.0" in name or "conv_temporal.up" in name:
                p.zero_()
        sample, text, _ = _inputs(batch=2, frames=1)
        out3 = unet3d(sample, 321, text).sample[:, :, 0]
        out2 = unet2d(sample[:, :, 0], 321, text).sample
    torch.testing.assert_close(out3, out2, rtol=1e-4, atol=1e-4)


def test_bf16_close_to_fp32(tiny):
    sample, text, pose = _inputs()
    bf = UNet3DConditionModel.from_config(tiny.config).eval()
    bf.load_state_dict(tiny.state_dict())
    bf.to(torch.bfloat16)
    with torch.no_grad():
        ref = tiny(sample, 10, text, pose=pose).sample
        got = bf(sample.bfloat16(), 10, text.bfloat16(), pose=pose.bfloat16()).sample
    assert got.dtype == torch.bfloat16
    err = (got.float() - ref).abs().max() / ref.abs().max()
    assert err < 0.05, f"bf16 relative error {err:.4f}"


def test_memory_savers_do_not_change_the_result(tiny):
    sample, text, pose = _inputs(batch=2)
    with torch.no_grad():
        ref = tiny(sample, 10, text, pose=pose).sample
        tiny.set_attention_slice(16)
        tiny.enable_forward_chunking(24)
        try:
            got = tiny(sample, 10, text, pose=pose).sample
        finally:
            tiny.set_attention_slice(None)
            tiny.disable_forward_chunking()
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)


def test_channels_last_model_gives_the_same_result(tiny):
    sample, text, pose = _inputs(batch=2)
    cl = UNet3DConditionModel.from_config(tiny.config).eval()
    cl.load_state_dict(tiny.state_dict())
    cl.to(memory_format=torch.channels_last)
    assert cl.conv_in.weight.is_contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        torch.testing.assert_close(cl(sample, 10, text, pose=pose).sample, tiny(sample, 10, text, pose=pose).sample,
                                   rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", ["sample_4d", "pose_size", "pose_frames", "text_batch", "feature_batch"])
def test_bad_inputs_name_the_field(tiny, case):
    sample, text, pose = _inputs(batch=2)
    kwargs = dict(sample=sample, timestep=1, encoder_hidden_states=text, pose=pose)
    field = {"sample_4d": "sample", "pose_size": "pose", "pose_frames": "pose",
             "text_batch": "encoder_hidden_states", "feature_batch": "pose_features"}[case]
    if case == "sample_4d":
        kwargs["sample"] = sample[:, :, 0]
    elif case == "pose_size":
        kwargs["pose"] = pose[..., :40]
    elif case == "pose_frames":
        kwargs["pose"] = pose[:, :3]
    elif case == "text_batch":
        kwargs["encoder_hidden_states"] = text[:1]
    else:  # features for 3 videos cannot be spread over a batch of 2
        kwargs["pose"] = None
        kwargs["pose_features"] = tiny.encode_pose(pose[:1].repeat(3, 1, 1, 1, 1))
    with torch.no_grad(), pytest.raises(InvalidInput) as err:
        tiny(**kwargs)
    assert err.value.field == field
    assert err.value.hint


def test_save_pretrained_round_trip(tiny_any, tmp_path):
    tiny = tiny_any
    tiny.save_pretrained(tmp_path / "unet")
    loaded = UNet3DConditionModel.from_pretrained(tmp_path / "unet").eval()
    sample, text, pose = _inputs()
    with torch.no_grad():
        torch.testing.assert_close(loaded(sample, 5, text, pose=pose).sample, tiny(sample, 5, text, pose=pose).sample,
                                   rtol=1e-5, atol=1e-6)
    assert loaded.config.layers_per_block == tiny.config.layers_per_block
