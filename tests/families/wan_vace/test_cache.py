"""First Block Cache on a tiny WanVACETransformer3DModel: calls skipped with a threshold, all computed without, the
VACE hints counted twice by diffusers on skipped calls, and the correction."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from tests.families.wan_vace.tiny_wan import TEXT_DIM, prompt_embeds, tiny_pipeline, tiny_transformer
from text2video.families.wan_vace.cache import BlockCounter, first_block_cache, measure_cache

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _inputs() -> dict:
    g = torch.Generator().manual_seed(1)
    return dict(hidden_states=torch.randn(1, 16, 2, 4, 4, generator=g), timestep=torch.tensor([500]),
                encoder_hidden_states=torch.randn(1, 6, TEXT_DIM, generator=g),
                control_hidden_states=torch.randn(1, 96, 2, 4, 4, generator=g), return_dict=False)


@pytest.fixture
def transformer():
    model = tiny_transformer(num_layers=4)
    for block in model.vace_blocks:  # VACE's zero-initialised hint projections: give them weights (as trained)
        if block.proj_out is not None:
            torch.nn.init.normal_(block.proj_out.weight, std=0.5)
    return model


def _same_input_twice(transformer, threshold, correct_hints):
    with torch.no_grad():
        reference = transformer(**_inputs())[0]
        with first_block_cache(transformer, threshold, correct_hints=correct_hints), BlockCounter(transformer) as n:
            with transformer.cache_context("cond"):
                computed, cached = transformer(**_inputs())[0], transformer(**_inputs())[0]
    return reference, computed, cached, n


def test_diffusers_counts_the_vace_hints_twice_on_a_skipped_call(transformer):
    # the same input twice: the second call is skipped (residual change 0), and should give the same output
    reference, computed, cached, counts = _same_input_twice(transformer, 0.05, correct_hints=False)
    assert counts.calls == 2 and counts.full_passes == 1
    assert torch.equal(computed, reference)
    error = (cached - reference).abs().max().item()
    assert error > 0.1 * reference.abs().mean().item(), f"skipped call off by {error:.4f}: hints counted twice?"


def test_hint_correction_makes_a_skipped_call_exact(transformer):
    reference, computed, cached, counts = _same_input_twice(transformer, 0.05, correct_hints=True)
    assert counts.full_passes == 1 and counts.skipped_share == pytest.approx(0.5 * 3 / 4)  # blocks 1-3 of call 2
    torch.testing.assert_close(cached, reference, atol=1e-5, rtol=1e-5)


def test_cache_skips_calls_in_a_pipeline_run_and_off_computes_all():
    pipe = tiny_pipeline(num_layers=4)
    embeds, negative = prompt_embeds()
    size, frames = 32, 5

    def run():
        return pipe(video=[Image.new("RGB", (size, size))] * frames,
                    mask=[Image.new("L", (size, size), 255)] * frames, prompt_embeds=embeds,
                    negative_prompt_embeds=negative, height=size, width=size, num_frames=frames,
                    num_inference_steps=8, guidance_scale=5.0, generator=torch.Generator().manual_seed(0),
                    output_type="latent").frames

    fresh = run()
    off = measure_cache(run, pipe.transformer, None)
    on = measure_cache(run, pipe.transformer, 10.0)  # far above any change: every call after the first skips
    again = measure_cache(run, pipe.transformer, None)
    assert off.calls == on.calls == again.calls == 16  # 8 steps x (cond + uncond)
    assert off.full_passes == again.full_passes == 16 and off.skipped_share == again.skipped_share == 0
    assert on.full_passes == 2, on.line()  # the first call of each cache context ("cond", "uncond")
    assert on.skipped_share == pytest.approx(14 * 3 / (16 * 4)), on.line()
    assert "full transformer passes" in on.line() and "off" in off.line()
    assert not pipe.transformer.is_cache_enabled  # removed after the measurement: the next job runs uncached
    assert torch.equal(run(), fresh)  # ... and gives the bits a fresh engine gives
