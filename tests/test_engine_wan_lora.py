"""Engine jobs on the demo Wan VACE with Wan LoRAs: a LoRA changes the video and the next job equals a fresh
engine's; a step-distillation LoRA runs at the steps and guidance it was made for unless the request sets them
(the warnings say so); LoRAs of another family or model size are refused before any work, naming the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.lora_files import models_with_loras, write_demo_wan_lora, write_lora, write_wan_lora
from text2video.engine import Engine, GenerationRequest
from text2video.exceptions import InvalidInput
from text2video.progress import JobStage
from text2video.video import read_frames

pytestmark = pytest.mark.usefixtures("one_torch_thread")
DISTILL = "wan21_lightx2v_demo"  # a LightX2V step-distillation LoRA by its name: 4 steps, guidance 1


@pytest.fixture(scope="module")
def models(demo_models, tmp_path_factory) -> Path:
    root = models_with_loras(demo_models, tmp_path_factory.mktemp("wan-lora-models") / "models")
    write_demo_wan_lora(root / "loras" / "style.safetensors", "kohya", seed=4)
    write_demo_wan_lora(root / "loras" / f"{DISTILL}.safetensors", "original", seed=6, scale=0.05)
    write_lora(root / "loras" / "ink.safetensors", "kohya")  # a Follow-Your-Pose (SD-1.x) LoRA
    # a LoRA of the 14B (5120 wide), as its header says; one block, thin feed-forward: a small file
    write_wan_lora(root / "loras" / "big-14b.safetensors", "diffusers", blocks=1, width=5120, ffn=8, rank=1)
    return root


@pytest.fixture(scope="module")
def engine(models):
    return Engine(models, device="cpu", dtype="fp32")


def wan_job(video: Path, **kw) -> GenerationRequest:
    args = dict(video=video, prompt="a robot dancing", model="wan-vace-1.3b", frames=5, width=64, height=64,
                seed=3, input_type="skeleton", steps=2)
    args.update(kw)
    return GenerationRequest(**args)


def frames_of(result) -> np.ndarray:
    return np.stack(read_frames(result.files["result.mp4"]))


def distilled_notes(result) -> list[str]:
    return [w for w in result.warnings if any(i.get("code") == "lora.distilled_defaults"
                                              for i in getattr(w, "items", ()))]


def steps_reported(engine, request, out):
    totals = set()

    def on_progress(p):
        if p.stage == JobStage.GENERATING and p.total:
            totals.add(p.total)

    return engine.generate(request, out, on_progress=on_progress), totals


def test_a_lora_changes_the_video_and_the_next_job_is_as_on_a_fresh_engine(engine, models, skeleton_video, tmp_path):
    plain = frames_of(engine.generate(wan_job(skeleton_video), tmp_path / "plain"))
    styled = frames_of(engine.generate(wan_job(skeleton_video, loras=["style:0.9"]), tmp_path / "styled"))
    after = frames_of(engine.generate(wan_job(skeleton_video), tmp_path / "after"))
    fresh = frames_of(Engine(models, device="cpu", dtype="fp32").generate(wan_job(skeleton_video),
                                                                          tmp_path / "fresh"))
    assert not np.array_equal(styled, plain)
    assert np.array_equal(after, fresh) and np.array_equal(after, plain)


def test_a_distillation_lora_sets_the_steps_and_guidance_the_request_left_out(engine, skeleton_video, tmp_path):
    request = wan_job(skeleton_video, steps=None, loras=[DISTILL])
    result, totals = steps_reported(engine, request, tmp_path / "a")
    assert totals == {4} and result.steps == 4 and request.guidance_scale == 1.0
    [note] = distilled_notes(result)
    assert DISTILL in note and "steps 4, guidance_scale 1" in note and "lightx2v" in note


def test_steps_the_request_sets_are_kept(engine, skeleton_video, tmp_path):
    request = wan_job(skeleton_video, steps=2, guidance_scale=3.0, loras=[DISTILL])
    result, totals = steps_reported(engine, request, tmp_path / "b")
    assert totals == {2} and request.guidance_scale == 3.0
    assert not distilled_notes(result)
    request = wan_job(skeleton_video, steps=2, loras=[DISTILL])  # guidance left out: the LoRA's
    result, totals = steps_reported(engine, request, tmp_path / "c")
    assert totals == {2} and request.guidance_scale == 1.0
    [note] = distilled_notes(result)
    assert note.items[0]["params"]["values"] == "guidance_scale 1"


@pytest.mark.parametrize("model, lora, says", [
    ("wan-vace-1.3b", "ink", "ink.safetensors is a Follow-Your-Pose LoRA; wan-vace-1.3b takes Wan2.1 VACE LoRAs"),
    ("follow-your-pose", "style", "style.safetensors is a Wan2.1 VACE LoRA; follow-your-pose takes Follow-Your-Pose"),
    ("wan-vace-1.3b", "big-14b", "big-14b.safetensors was made for wan-vace-14b (its layers are 5120 wide); "
                                 "wan-vace-1.3b's are 1536"),
])
def test_a_lora_of_another_family_or_size_is_refused_before_any_work(engine, skeleton_video, tmp_path, model,
                                                                      lora, says):
    request = wan_job(skeleton_video, model=model, loras=[lora])
    if model == "follow-your-pose":
        request.frames, request.stride = 2, 1
    with pytest.raises(InvalidInput) as info:
        engine.generate(request, tmp_path / "out")
    assert info.value.field == "loras" and says in str(info.value)
    assert not (tmp_path / "out").exists()


def test_a_job_row_from_the_api_runs_at_the_lora_steps_in_the_worker_too(engine, skeleton_video, tmp_path):
    # what the API stored: its defaults filled in (steps 4, guidance 1 from the LoRA) and which it filled
    from text2video.request import request_from_params

    row = {"prompt": "a robot dancing", "model": "wan-vace-1.3b", "frames": 5, "width": 64, "height": 64,
           "seed": 3, "input_type": "skeleton", "steps": 4, "guidance_scale": 1.0,
           "loras": [{"name": DISTILL, "weight": 1.0}], "defaulted": ["steps", "guidance_scale"]}
    request = request_from_params(skeleton_video, row, engine.settings)
    result, totals = steps_reported(engine, request, tmp_path / "row")
    assert totals == {4} and request.guidance_scale == 1.0 and distilled_notes(result)
    old_row = {k: v for k, v in row.items() if k != "defaulted"}  # a row from before: its values stand as given
    result, _ = steps_reported(engine, request_from_params(skeleton_video, {**old_row, "steps": 2}, engine.settings),
                               tmp_path / "old")
    assert result.steps == 2 and not distilled_notes(result)
