"""FollowYourPosePipeline on the tiny demo models (real loading path, real UNet3D, CPU, 64x64, 2-3 frames)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from text2video.diffusion.pipeline import FollowYourPosePipeline
from text2video.models.inventory import inventory
from text2video.exceptions import Canceled, DeviceError, InvalidInput, ModelsMissing

SIZE = 64
FRAMES = 2


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def pose():
    # Seeded skeleton-like frames: black with a few bright strokes, (F, 3, H, W) in [0, 1].
    g = torch.Generator().manual_seed(0)
    frames = (torch.rand(FRAMES + 1, 3, SIZE, SIZE, generator=g) > 0.9).float()
    return frames


def run(pipe, pose, seed=0, **kw):
    args = dict(video_length=FRAMES, height=SIZE, width=SIZE, num_inference_steps=2, guidance_scale=7.5,
                generator=torch.Generator().manual_seed(seed))
    args.update(kw)
    return pipe("a man dancing on the beach", pose=pose, **args)


class Counter:
    """Counts calls of a module's forward (and the batch sizes it saw) through a forward hook."""

    def __init__(self, module):
        self.calls = 0
        self.batches = []
        self.kwargs = []
        self.handle = module.register_forward_hook(self.hook, with_kwargs=True)

    def hook(self, module, args, kwargs, output):
        self.calls += 1
        sample = args[0] if args else next(iter(kwargs.values()))
        self.batches.append(sample.shape[0])
        self.kwargs.append(set(kwargs))

    def remove(self):
        self.handle.remove()


def test_same_seed_same_frames_other_seed_differs(pipe, pose):
    a = run(pipe, pose, seed=1).frames
    b = run(pipe, pose, seed=1).frames
    c = run(pipe, pose, seed=2).frames
    assert a.shape == (1, FRAMES, SIZE, SIZE, 3) and a.dtype == np.float32
    assert 0.0 <= a.min() and a.max() <= 1.0
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-3


def test_guidance_batches_and_work_done_once(pipe, pose, monkeypatch):
    unet = Counter(pipe.unet)
    text = Counter(pipe.text_encoder)
    pose_calls = []
    original = pipe.unet.encode_pose
    monkeypatch.setattr(pipe.unet, "encode_pose", lambda p: pose_calls.append(p.shape) or original(p))
    try:
        with_cfg = run(pipe, pose, num_inference_steps=3, guidance_scale=7.5).frames
        # Guidance: one batch of 2 (negative + prompt) per step; prompt and pose encoded once per generation.
        assert unet.batches == [2, 2, 2]
        assert text.calls == 2  # the prompt and the (empty) negative prompt, once each, not per step
        assert pose_calls == [(1, FRAMES, 3, SIZE, SIZE)]
        assert all("pose_features" in kw and "pose" not in kw for kw in unet.kwargs)
        unet.batches.clear()
        text.calls = 0
        pose_calls.clear()
        without = run(pipe, pose, num_inference_steps=3, guidance_scale=1.0).frames
        assert unet.batches == [1, 1, 1]  # guidance 1.0: no unconditional branch at all
        assert text.calls == 1
        assert len(pose_calls) == 1
        assert np.abs(with_cfg - without).max() > 1e-3
    finally:
        unet.remove()
        text.remove()


def test_negative_prompt_changes_the_result(pipe, pose):
    plain = run(pipe, pose, seed=3).frames
    negative = run(pipe, pose, seed=3, negative_prompt="blurry, low quality").frames
    assert np.abs(plain - negative).max() > 1e-3


def test_schedulers(pipe, pose):
    from diffusers import DDIMScheduler, DPMSolverMultistepScheduler

    assert isinstance(pipe.scheduler, DDIMScheduler)
    # DDIM built from SD-1.4's scheduler config, as the reference does.
    assert pipe.scheduler.config.steps_offset == 1 and pipe.scheduler.config.set_alpha_to_one is False
    assert pipe.scheduler.config.beta_schedule == "scaled_linear"
    ddim = run(pipe, pose, seed=5).frames
    try:
        pipe.set_scheduler("dpm++")
        assert isinstance(pipe.scheduler, DPMSolverMultistepScheduler)
        assert pipe.scheduler.config.algorithm_type == "dpmsolver++"
        dpm = run(pipe, pose, seed=5).frames
        assert np.isfinite(dpm).all() and np.abs(dpm - ddim).max() > 1e-4
    finally:
        pipe.set_scheduler("ddim")
    np.testing.assert_array_equal(run(pipe, pose, seed=5).frames, ddim)
    with pytest.raises(InvalidInput, match="euler"):
        pipe.set_scheduler("euler")


@pytest.mark.parametrize("how", ["return_false", "raise"])
def test_cancel_from_callback_stops_within_one_step(pipe, pose, how):
    unet = Counter(pipe.unet)
    seen = []

    def callback(step, total):
        seen.append((step, total))
        if step == 2:
            if how == "raise":
                raise Canceled("stop")
            return False
        return None

    try:
        with pytest.raises(Canceled):
            run(pipe, pose, num_inference_steps=5, callback=callback)
    finally:
        unet.remove()
    assert seen == [(1, 5), (2, 5)]
    assert unet.calls == 2  # no UNet call after the step that asked to stop


def test_output_types_and_uint8_pose(pipe, pose):
    pt = run(pipe, pose, seed=7, output_type="pt").frames
    assert tuple(pt.shape) == (1, FRAMES, 3, SIZE, SIZE)
    latent = run(pipe, pose, seed=7, output_type="latent").frames
    assert tuple(latent.shape) == (1, 4, FRAMES, SIZE // 8, SIZE // 8)
    # The same skeleton as decoded video frames (F, H, W, 3) uint8 gives the same video.
    as_uint8 = (pose.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
    np_frames = run(pipe, as_uint8, seed=7).frames
    np.testing.assert_allclose(np_frames[0], pt[0].permute(0, 2, 3, 1).numpy(), atol=1e-5)


def test_decode_in_chunks_slicing_and_tiling(pipe):
    latents = torch.randn(1, 4, 3, SIZE // 8, SIZE // 8, generator=torch.Generator().manual_seed(0))
    whole = pipe.decode_latents(latents, decode_chunk_size=8)
    chunked = pipe.decode_latents(latents, decode_chunk_size=1)
    assert tuple(whole.shape) == (1, 3, 3, SIZE, SIZE)
    torch.testing.assert_close(chunked, whole, atol=1e-5, rtol=1e-4)
    pipe.enable_vae_slicing()
    pipe.enable_vae_tiling()
    try:
        assert pipe.vae.use_slicing and pipe.vae.use_tiling
        saved = pipe.decode_latents(latents, decode_chunk_size=2)
        assert tuple(saved.shape) == tuple(whole.shape) and torch.isfinite(saved).all()
    finally:
        pipe.disable_vae_slicing()
        pipe.disable_vae_tiling()
    assert not pipe.vae.use_slicing and not pipe.vae.use_tiling


@pytest.mark.parametrize("kwargs, field, text", [
    ({"height": 65}, "height", "65"),
    ({"width": 0}, "width", "0"),
    ({"num_inference_steps": 0}, "steps", "0"),
    ({"guidance_scale": -1.0}, "guidance_scale", "-1"),
    ({"video_length": 5}, "frames", "5"),  # the pose has only 3 frames
    ({"height": 128}, "pose", "64x64"),  # pose frames not at the output size
    ({"decode_chunk_size": 0}, "decode_chunk_size", "0"),
    ({"output_type": "pil"}, "output_type", "pil"),
])
def test_check_inputs_names_field_value_and_fix(pipe, pose, kwargs, field, text):
    with pytest.raises(InvalidInput) as info:
        run(pipe, pose, **kwargs)
    assert info.value.field == field
    assert text in str(info.value)
    assert info.value.hint


def test_empty_prompt_and_bad_pose_shape(pipe, pose):
    with pytest.raises(InvalidInput) as info:
        pipe("  ", pose=pose, video_length=FRAMES, height=SIZE, width=SIZE)
    assert info.value.field == "prompt"
    with pytest.raises(InvalidInput) as info:
        pipe("a man", pose=pose[0], video_length=FRAMES, height=SIZE, width=SIZE)
    assert info.value.field == "pose"


def test_bf16_on_cpu(demo_models, pose):
    p = FollowYourPosePipeline.from_models_dir(demo_models, device="cpu", torch_dtype=torch.bfloat16)
    p.set_progress_bar_config(disable=True)
    assert p.unet.dtype == torch.bfloat16 and p.vae.dtype == torch.bfloat16
    assert p.text_encoder.dtype == torch.bfloat16
    out = run(p, pose, num_inference_steps=1).frames
    assert out.dtype == np.float32 and np.isfinite(out).all()


def _partial_copy(src: Path, dst: Path, skip: str) -> Path:
    """The demo folder as symlinks, without ``skip`` (a path relative to the folder)."""
    for path in src.rglob("*"):
        rel = path.relative_to(src)
        if path.is_dir() or str(rel) == skip or str(rel).startswith(skip + os.sep):
            continue
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(path)
    return dst


@pytest.mark.parametrize("skip", [
    "follow-your-pose/pose_encoder.pth",
    "follow-your-pose/followyourpose_checkpoint-1000",
    "stable-diffusion-v1-4/vae",
    "stable-diffusion-v1-4/tokenizer/merges.txt",
])
def test_incomplete_models_folder(demo_models, tmp_path, skip):
    root = _partial_copy(demo_models, tmp_path / "models", skip)
    assert inventory(root).missing["diffusion"]
    with pytest.raises(ModelsMissing) as info:
        FollowYourPosePipeline.from_models_dir(root)
    message = str(info.value)
    assert skip.split("/")[-1] in message
    assert "manage.py download" in message
    assert "\n" not in message


def test_missing_folder_and_damaged_checkpoint(demo_models, tmp_path):
    with pytest.raises(ModelsMissing, match="does not exist"):
        FollowYourPosePipeline.from_models_dir(tmp_path / "nowhere")
    root = _partial_copy(demo_models, tmp_path / "models", "follow-your-pose/followyourpose_checkpoint-1000")
    ckpt = root / "follow-your-pose/followyourpose_checkpoint-1000/pytorch_model.bin"
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelsMissing, match="pytorch_model.bin"):
        FollowYourPosePipeline.from_models_dir(root)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on machines without CUDA")
def test_cuda_without_cuda_is_an_error_not_a_fallback(demo_models):
    with pytest.raises(DeviceError) as info:
        FollowYourPosePipeline.from_models_dir(demo_models, device="cuda")
    assert "CUDA is not available" in str(info.value) and info.value.field == "device"


@pytest.mark.gpu
def test_cuda_fp16_and_model_cpu_offload(demo_models, pose):
    p = FollowYourPosePipeline.from_models_dir(demo_models, device="cuda", torch_dtype=torch.float16)
    p.set_progress_bar_config(disable=True)
    assert p.unet.device.type == "cuda" and p.unet.dtype == torch.float16
    on_gpu = run(p, pose, seed=11).frames
    p.enable_model_cpu_offload()
    offloaded = run(p, pose, seed=11).frames
    assert p.unet.device.type == "cpu"  # offloaded again after the call
    np.testing.assert_allclose(offloaded, on_gpu, atol=2e-2)


def test_long_video_in_overlapping_windows_sharing_frame_zero(pipe):
    from text2video.diffusion.attention import SparseCausalAttnProcessor

    g = torch.Generator().manual_seed(1)
    long_pose = (torch.rand(5, 3, SIZE, SIZE, generator=g) > 0.9).float()
    processors = [m.processor for m in pipe.unet.modules()
                  if isinstance(getattr(m, "processor", None), SparseCausalAttnProcessor)]
    seen = []
    progress = []
    handle = pipe.unet.register_forward_pre_hook(
        lambda module, args: seen.append((args[0].shape[2], processors[0].anchor.mode if processors[0].anchor
                                          else None)))
    try:
        windowed = run(pipe, long_pose, video_length=5, window_size=3, window_overlap=1,
                       callback=lambda step, total: progress.append((step, total))).frames
    finally:
        handle.remove()
    # 2 windows (frames 0-2 and 2-4) per step, 2 steps: the first records frame 0's keys/values, the next uses them.
    assert seen == [(3, "record"), (3, "use"), (3, "record"), (3, "use")]
    assert progress == [(1, 4), (2, 4), (3, 4), (4, 4)]  # progress (and cancel checks) per UNet pass
    assert all(p.anchor is None for p in processors)  # the anchor is unplugged after the call
    assert windowed.shape == (1, 5, SIZE, SIZE, 3) and np.isfinite(windowed).all()
    one_pass = run(pipe, long_pose, video_length=5, window_size=None).frames
    covering = run(pipe, long_pose, video_length=5, window_size=8).frames  # a window longer than the video
    np.testing.assert_array_equal(one_pass, covering)
    assert np.abs(windowed - one_pass).max() > 1e-4
    with pytest.raises(InvalidInput) as info:
        run(pipe, long_pose, video_length=5, window_size=3, window_overlap=3)
    assert info.value.field == "window_overlap"


def test_pose_features_in_chunks_equal_one_pass(pipe):
    g = torch.Generator().manual_seed(2)
    frames = (torch.rand(5, 3, SIZE, SIZE, generator=g) * 255).to(torch.uint8)  # uint8 stays uint8 until encoded
    whole = pipe.prepare_pose(frames, 5, torch.device("cpu"), torch.float32)
    chunked = pipe.prepare_pose(frames, 5, torch.device("cpu"), torch.float32, chunk_frames=2,
                                storage_device=torch.device("cpu"))
    assert len(whole) == len(chunked) == len(pipe.unet.down_blocks)
    for a, b in zip(whole, chunked):
        assert a.shape[:2] == (1, 5)
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def _real_models_dir() -> Path:
    from text2video.settings import Settings

    root = Path(Settings.load().models_dir)
    root = root if root.is_absolute() else Path(__file__).resolve().parents[2] / root
    if inventory(root).missing["diffusion"]:
        pytest.skip(f"real weights not in {root} (run `python manage.py download`)")
    return root


@pytest.mark.real_weights
def test_real_weights_load_and_denoise():
    """The released checkpoint loads into our UNet3D unchanged and one guided step gives a finite video."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.float16 if device == "cuda" else torch.float32
    p = FollowYourPosePipeline.from_models_dir(_real_models_dir(), device=device, torch_dtype=dtype)
    p.set_progress_bar_config(disable=True)
    assert sum(v.numel() for v in p.unet.state_dict().values()) > 990e6  # the SD-1.4-sized UNet3D
    pose = torch.zeros(2, 3, 256, 256)
    pose[:, 1, 60:200, 120:136] = 1.0  # a green limb
    out = p("an astronaut on the beach", pose=pose, video_length=2, height=256, width=256,
            num_inference_steps=1, generator=torch.Generator().manual_seed(0)).frames
    assert out.shape == (1, 2, 256, 256, 3) and np.isfinite(out).all()


def test_model_cpu_offload_hooks_give_the_same_video(demo_models, pose):
    """accelerate's model offload (here with the CPU as the 'accelerator', so it runs anywhere): the UNet is
    brought in for encode_pose too, which is not a forward() call."""
    p = FollowYourPosePipeline.from_models_dir(demo_models)
    p.set_progress_bar_config(disable=True)
    plain = run(p, pose, seed=4).frames
    p.enable_model_cpu_offload(device="cpu")
    assert hasattr(p.unet, "_hf_hook") and hasattr(p.vae, "_hf_hook")
    np.testing.assert_array_equal(run(p, pose, seed=4).frames, plain)


def test_prompt_stage_and_pipeline_share_one_clip_tokenizer(pipe, demo_models):
    """One tokenizer load per process: the prompt stage's 77-token report reads what the text encoder reads."""
    from text2video.prompt import PromptProcessor

    assert PromptProcessor(demo_models).clip_tokenizer is pipe.tokenizer
