"""The compiled UNet path (``pipe.enable_compile``) on the tiny demo models.

The wiring tests compile with dynamo's ``eager`` backend: the same graph capture, guards and recompiles as
inductor, without generating C++ (inductor compiles the demo UNet in minutes on 2 cores; that test is marked
``inductor`` and deselected by default: ``pytest -m inductor``, 165 s cold, 15 s with a warm
TORCHINDUCTOR_CACHE_DIR). Tracing costs about 7 s per shape for the demo UNet on one thread, so the shape test runs
the demo pipeline with a two-block UNet (about 2.5 s per shape) and the fallbacks are checked without tracing.
"""

from __future__ import annotations

import logging

import pytest
import torch

from text2video.diffusion.compilation import CompiledUNet

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SHAPE_A = dict(video_length=2, height=64, width=64)
SHAPE_B = dict(video_length=3, height=64, width=128)


def latents(pipe, shape, steps=1):
    pose = (torch.rand(shape["video_length"], 3, shape["height"], shape["width"],
                       generator=torch.Generator().manual_seed(0)) > 0.9).float()
    return pipe("a man dancing", pose=pose, num_inference_steps=steps, guidance_scale=7.5, output_type="latent",
                generator=torch.Generator().manual_seed(3), **shape).frames


@pytest.fixture
def eager_after(pipe):
    """The pipeline is eager again after the test (the fixture pipeline is shared by the module)."""
    yield pipe
    pipe.disable_compile()


@pytest.fixture
def two_block_pipe(pipe):
    """The demo pipeline with a UNet of two blocks of one layer (same widths and attention): a third of the
    demo UNet's tracing cost, the same graph features (sparse-causal, text and temporal attention, pose adapter)."""
    from text2video.diffusion import FollowYourPosePipeline
    from text2video.diffusion.unet3d import UNet3DConditionModel

    torch.manual_seed(0)
    config = dict(pipe.unet.config, block_out_channels=[32, 64], layers_per_block=1,
                  down_block_types=["CrossAttnDownBlock2D", "DownBlock2D"],
                  up_block_types=["UpBlock2D", "CrossAttnUpBlock2D"])
    unet = UNet3DConditionModel.from_config(config).eval()
    small = FollowYourPosePipeline(vae=pipe.vae, text_encoder=pipe.text_encoder, tokenizer=pipe.tokenizer,
                                   unet=unet, scheduler=pipe.scheduler)
    small.set_progress_bar_config(disable=True)
    return small


def test_compiled_gives_the_eager_video_and_compiles_each_shape_once(two_block_pipe):
    pipe = two_block_pipe
    eager_a, eager_b = latents(pipe, SHAPE_A, steps=2), latents(pipe, SHAPE_B)
    compiled = pipe.enable_compile(backend="eager")
    torch.testing.assert_close(latents(pipe, SHAPE_A, steps=2), eager_a, rtol=1e-5, atol=1e-5)
    assert compiled.failure is None and compiled.first_call_s > 0 and compiled.recompiles == []
    # frames and size change, then change back, twice: one compile per shape, never a third
    torch.testing.assert_close(latents(pipe, SHAPE_B), eager_b, rtol=1e-5, atol=1e-5)
    latents(pipe, SHAPE_A)
    latents(pipe, SHAPE_B)
    assert len(compiled.recompiles) == 1
    assert "size mismatch" in compiled.recompiles[0]  # the logged reason names what changed


def test_unknown_backend_runs_eager_with_one_warning(eager_after, caplog):
    pipe = eager_after
    eager = latents(pipe, SHAPE_A)
    with caplog.at_level(logging.WARNING, logger="text2video.diffusion.compilation"):
        compiled = pipe.enable_compile(backend="no-such-backend")
        assert torch.equal(latents(pipe, SHAPE_A), eager)
        latents(pipe, SHAPE_A)
    assert "no-such-backend" in compiled.failure
    assert len([r for r in caplog.records if "runs eager" in r.getMessage()]) == 1


def test_no_cpp_compiler_runs_eager_with_one_warning(pipe, caplog):
    import torch._inductor.config as inductor_config

    # torch's own config patch: monkeypatch's undo of a config attribute hides it from later tests
    with inductor_config.patch({"cpp.cxx": (None, "/nonexistent/g++")}), \
            caplog.at_level(logging.WARNING, logger="text2video.diffusion.compilation"):
        compiled = CompiledUNet(pipe.unet, "default")
    assert "no C++ compiler" in compiled.failure
    assert [r.levelname for r in caplog.records] == ["WARNING"]


def test_a_compiler_error_at_the_first_call_falls_back_once(caplog):
    calls = []

    def broken_backend(graph, example_inputs):
        calls.append(1)
        raise RuntimeError("cc1plus: internal compiler error")

    layer = torch.nn.Linear(4, 3)
    layer.device = torch.device("cpu")  # what CompiledUNet reads from a diffusers model
    x = torch.randn(2, 4)
    with caplog.at_level(logging.WARNING, logger="text2video.diffusion.compilation"):
        compiled = CompiledUNet(layer, backend=broken_backend)
        assert torch.equal(compiled(x), layer(x))
        assert torch.equal(compiled(x), layer(x))
    assert calls == [1] and "internal compiler error" in compiled.failure
    assert len(caplog.records) == 1


@pytest.mark.inductor
def test_inductor_gives_the_eager_video(eager_after):
    pipe = eager_after
    eager = latents(pipe, SHAPE_A, steps=2)
    compiled = pipe.enable_compile("default")
    torch.testing.assert_close(latents(pipe, SHAPE_A, steps=2), eager, rtol=1e-4, atol=1e-4)
    assert compiled.failure is None
