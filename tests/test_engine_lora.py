"""Engine jobs with style LoRAs: each format changes the video, the base model is not reloaded, and the same job
without the LoRA afterwards is identical to one on a fresh engine."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from tests.lora_files import models_with_loras, write_lora
from text2video.engine import Engine, GenerationRequest
from text2video.exceptions import InvalidInput

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def models(demo_models, tmp_path_factory) -> Path:
    root = models_with_loras(demo_models, tmp_path_factory.mktemp("lora-models") / "models")
    write_lora(root / "loras" / "ink.safetensors", "kohya")
    write_lora(root / "loras" / "wash.safetensors", "peft", seed=3)
    write_lora(root / "loras" / "bad-shape.safetensors", "peft",
               {("unet", "mid_block.attentions.0.transformer_blocks.0.attn1.to_q"): (64, 48)})
    return root


def job(video: Path, **kw) -> GenerationRequest:
    args = dict(video=video, prompt="a man dancing", steps=2, frames=2, stride=1, width=64, height=64, seed=3,
                input_type="skeleton")
    args.update(kw)
    return GenerationRequest(**args)


def run(engine: Engine, request: GenerationRequest, out: Path, monkeypatch) -> torch.Tensor:
    """The generated latents of one job (compared before H.264 encoding, as in test_engine.py)."""
    generated = []
    pipe_cls = type(engine.runner().pipeline)
    call = pipe_cls.__call__

    def recording_call(self, *args, **kwargs):
        result = call(self, *args, **kwargs)
        generated.append(result.frames.clone())
        return result

    with monkeypatch.context() as m:
        m.setattr(pipe_cls, "__call__", recording_call)
        engine.generate(request, out)
    return generated[0]


def test_each_format_changes_the_video_and_afterwards_it_is_as_on_a_fresh_engine(models, skeleton_video,
                                                                                 tmp_path, monkeypatch):
    engine = Engine(models, device="cpu", dtype="fp32")
    plain = run(engine, job(skeleton_video), tmp_path / "plain", monkeypatch)
    pipe = engine.runner().pipeline
    ink = run(engine, job(skeleton_video, loras=("ink:0.8",)), tmp_path / "ink", monkeypatch)
    wash = run(engine, job(skeleton_video, loras=({"name": "wash", "weight": 1.0},)), tmp_path / "wash",
               monkeypatch)
    both = run(engine, job(skeleton_video, loras=("ink", "wash:-0.5")), tmp_path / "both", monkeypatch)
    after = run(engine, job(skeleton_video), tmp_path / "after", monkeypatch)
    assert engine.runner().pipeline is pipe  # the base model was not reloaded
    assert not torch.equal(ink, plain) and not torch.equal(wash, plain) and not torch.equal(both, ink)
    fresh = run(Engine(models, device="cpu", dtype="fp32"), job(skeleton_video), tmp_path / "fresh", monkeypatch)
    assert torch.equal(after, fresh) and torch.equal(after, plain)


def test_bad_choices_fail_before_any_work(models, skeleton_video, tmp_path):
    engine = Engine(models, device="cpu", dtype="fp32")
    with pytest.raises(InvalidInput, match=r"installed: bad-shape, ink, wash"):
        engine.generate(job(skeleton_video, loras=("sketch",)), tmp_path / "a")
    with pytest.raises(InvalidInput, match="outside -2..2"):
        engine.generate(job(skeleton_video, loras=("ink:3",)), tmp_path / "b")
    assert not engine.runner().loaded and not (tmp_path / "a").exists()


def test_a_file_that_does_not_fit_fails_the_job_and_leaves_the_model_as_it_was(models, skeleton_video, tmp_path):
    engine = Engine(models, device="cpu", dtype="fp32")
    pipe = engine.runner().pipeline
    before = {k: v.clone() for k, v in pipe.unet.state_dict().items()}
    with pytest.raises(InvalidInput, match="bad-shape.safetensors cannot be used"):
        engine.generate(job(skeleton_video, loras=("ink", "bad-shape")), tmp_path / "out")
    assert all(torch.equal(v, before[k]) for k, v in pipe.unet.state_dict().items())
    assert not any((tmp_path / "out").glob("result.*"))


def test_request_keeps_the_choices_in_its_dict(skeleton_video):
    request = job(skeleton_video, loras=("ink:0.5",)).validate()
    assert dataclasses.asdict(request)["loras"] == [{"name": "ink", "weight": 0.5}]
