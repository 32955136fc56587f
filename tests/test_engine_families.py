"""The engine runs whichever family the request's model names: the made-up second family (tests/made_up_family.py,
Follow-Your-Pose's runner under other rules) goes through the same shared stages and output files."""

from __future__ import annotations

import pytest
from PIL import Image

from tests.made_up_family import registered
from text2video.engine import Engine
from text2video.exceptions import InvalidInput
from text2video.request import GenerationRequest
from text2video.video import read_frames


@pytest.fixture(scope="module")
def engine(demo_models):
    with registered():
        yield Engine(demo_models, device="cpu", dtype="fp32")


def made_up(video, **kw) -> GenerationRequest:
    args = dict(video=video, prompt="Cô gái nhảy trên núi", model="made-up-1b", steps=1, stride=1, width=64,
                height=64, seed=3, input_type="skeleton")
    return GenerationRequest(**{**args, **kw})


def test_a_second_family_runs_with_its_own_rules(engine, skeleton_video, tmp_path):
    photo = tmp_path / "me.png"
    Image.new("RGB", (32, 48), (10, 200, 10)).save(photo)
    result = engine.generate(made_up(skeleton_video, frames=5, reference_image=photo), tmp_path / "a")
    assert result.model == "made-up-1b" and result.frames == 5
    assert len(read_frames(tmp_path / "a" / "result.mp4")) == 5
    # its translate default is off: the model reads the Vietnamese text as written
    assert result.english_prompt == "Cô gái nhảy trên núi" and result.language == "vi"
    assert engine.runner("made-up-1b") is not engine.runner("follow-your-pose")
    assert set(engine.models) >= {"follow-your-pose", "made-up-1b", "made-up-9b"}  # a demo folder has them all


def test_its_default_frames_follow_its_frame_rule(engine, skeleton_video, tmp_path):
    # default 81 frames, capped by the video's 12, brought down to 4k+1: 9
    assert engine.generate(made_up(skeleton_video), tmp_path / "b").frames == 9


def test_its_refusals_hold_in_the_engine_too(engine, skeleton_video, tmp_path):
    with pytest.raises(InvalidInput) as info:
        engine.generate(made_up(skeleton_video, frames=6), tmp_path / "c")
    assert info.value.field == "frames" and "the closest is 5" in str(info.value)
    photo = tmp_path / "me.png"
    Image.new("RGB", (8, 8)).save(photo)
    with pytest.raises(InvalidInput) as info:
        engine.generate(made_up(skeleton_video, model="follow-your-pose", reference_image=photo), tmp_path / "d")
    assert info.value.field == "reference_image" and "made-up-1b" in str(info.value)
    assert not (tmp_path / "c").exists() and not (tmp_path / "d").exists()


def test_a_model_config_its_code_cannot_build_is_a_models_problem_at_the_service_edge(demo_models, skeleton_video,
                                                                                        tmp_path):
    import json
    import shutil

    from text2video.exceptions import ModelsMissing

    broken = tmp_path / "models"
    shutil.copytree(demo_models, broken)
    config = broken / "stable-diffusion-v1-4" / "unet" / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "use_linear_projection": True}))
    engine = Engine(broken, device="cpu", dtype="fp32")
    with pytest.raises(ModelsMissing) as info:  # the UNet raised a plain ValueError; the engine says what it means
        engine.generate(made_up(skeleton_video, model="follow-your-pose", frames=2), tmp_path / "out")
    assert "use_linear_projection" in str(info.value) and info.value.http_status == 503


def test_auto_dtype_on_cuda_is_each_models_own(demo_models):
    # T5-family text encoders overflow in fp16: Wan VACE (UMT5) gets bf16 on CUDA, Follow-Your-Pose keeps fp16
    import torch

    from text2video.families import FAMILIES

    engine = Engine(demo_models, device="cpu", dtype="auto")
    engine.device = torch.device("cuda")  # what auto then means there (no GPU is needed to resolve it)
    assert engine.dtype_for(FAMILIES["wan-vace"]) == torch.bfloat16
    assert engine.dtype_for(FAMILIES["follow-your-pose"]) == torch.float16
    fixed = Engine(demo_models, device="cpu", dtype="fp32")
    fixed.device = torch.device("cuda")
    assert fixed.dtype_for(FAMILIES["wan-vace"]) == torch.float32  # a dtype the operator set is kept
