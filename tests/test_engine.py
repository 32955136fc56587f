"""Engine end to end on the tiny demo models: prompt -> pose -> diffusion -> files, progress, cancel, errors."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from text2video.devices import cpu_bf16, resolve_device, resolve_dtype
from text2video.engine import Engine, GenerationRequest
from text2video.exceptions import Canceled, DeviceError, InvalidInput, ModelsMissing
from text2video.jobs.status import JobStage
from text2video.settings import Settings
from text2video.video import probe_video, read_frames, write_mp4

OUTPUTS = {"skeleton.mp4", "result.mp4", "result.gif", "side_by_side.mp4"}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def raw_frames(n: int, width: int = 96, height: int = 96) -> list[np.ndarray]:
    """A bright 'person' moving in a dim room (not skeleton colours: detected as a raw video)."""
    rng = np.random.default_rng(0)
    frames = []
    for i in range(n):
        img = np.full((height, width, 3), 60, np.uint8) + rng.integers(0, 20, (height, width, 3), dtype=np.uint8)
        x = 30 + i
        cv2.circle(img, (x + 8, 18), 6, (235, 225, 215), -1)
        cv2.rectangle(img, (x, 26), (x + 16, 60), (230, 230, 230), -1)
        cv2.rectangle(img, (x + 1, 60), (x + 6, 88), (220, 220, 220), -1)
        cv2.rectangle(img, (x + 10, 60), (x + 15, 88), (220, 220, 220), -1)
        frames.append(img)
    return frames


@pytest.fixture(scope="session")
def raw_video(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("engine-input") / "raw.mp4"
    write_mp4(raw_frames(8), path, 24)
    return path


@pytest.fixture(scope="module")
def engine(demo_models) -> Engine:
    return Engine(demo_models, device="cpu", dtype="fp32")


def request(video: Path, **kw) -> GenerationRequest:
    args = dict(video=video, prompt="a man dancing on the beach", steps=2, frames=3, stride=2, width=64, height=64,
                seed=7, guidance_scale=7.5)
    args.update(kw)
    return GenerationRequest(**args)


def files_in(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def test_generate_writes_every_file_and_they_decode(engine, skeleton_video, tmp_path):
    events = []
    result = engine.generate(request(skeleton_video, input_type="auto"), tmp_path, on_progress=events.append)
    assert files_in(tmp_path) == OUTPUTS  # and nothing else (no temporary files)
    assert set(result.files) == OUTPUTS
    assert result.frames == 3 and result.fps == pytest.approx(12.0)  # 24 fps source / stride 2
    assert (result.width, result.height, result.input_kind, result.seed) == (64, 64, "skeleton", 7)
    assert result.english_prompt == "a man dancing on the beach" and result.language == "en"
    assert result.demo and any("noise" in w for w in result.warnings)
    assert result.device == "cpu" and result.dtype == "fp32"
    for name in ("result.mp4", "skeleton.mp4"):
        info = probe_video(tmp_path / name)
        assert (info.width, info.height, info.codec) == (64, 64, "h264")
        assert info.fps == pytest.approx(12.0)
        assert len(read_frames(tmp_path / name)) == 3
    side = read_frames(tmp_path / "side_by_side.mp4")
    assert side.shape == (3, 64, 128, 3)
    from PIL import Image

    with Image.open(tmp_path / "result.gif") as gif:
        assert gif.n_frames == 3 and gif.size == (64, 64)
    # The skeleton written is the input resized/cropped to the output size, every 2nd frame.
    expected = read_frames(skeleton_video, stride=2, max_frames=3, size=(64, 64))
    written = read_frames(tmp_path / "skeleton.mp4")
    assert np.abs(written.astype(int) - expected.astype(int)).mean() < 6  # H.264 round trip

    # Progress: stages in order, fraction never goes back and ends at 1, one event per denoising step.
    stages = [e.stage for e in events]
    order = [JobStage.TRANSLATING, JobStage.EXTRACTING_POSE, JobStage.GENERATING, JobStage.ENCODING]
    assert [s for i, s in enumerate(stages) if i == 0 or stages[i - 1] != s] == order
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    steps = [(e.step, e.total) for e in events if e.stage == JobStage.GENERATING and e.step]
    assert steps == [(1, 2), (2, 2)]
    first_gen = next(e for e in events if e.stage == JobStage.GENERATING)
    assert first_gen.info["english_prompt"] == "a man dancing on the beach"
    assert "skeleton.mp4" in first_gen.info["files"]  # the preview exists before the video is generated


def test_same_seed_same_video_and_random_seed_reported(engine, skeleton_video, tmp_path):
    a = engine.generate(request(skeleton_video, input_type="skeleton", steps=1), tmp_path / "a")
    b = engine.generate(request(skeleton_video, input_type="skeleton", steps=1), tmp_path / "b")
    assert a.seed == b.seed == 7
    assert a.files["result.mp4"].read_bytes() == b.files["result.mp4"].read_bytes()
    c = engine.generate(request(skeleton_video, input_type="skeleton", seed=None, steps=1), tmp_path / "c")
    assert isinstance(c.seed, int) and 0 <= c.seed < 2**31
    assert engine.runner().loaded  # loaded once, reused by every call


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs at least 2 CPUs and Linux thread affinity")
def test_same_seed_same_bytes_on_any_thread_and_cpu(engine, skeleton_video, tmp_path):
    # Issue 13 item 5: the same seed gave different result.mp4 bytes (x264's CPU-specific code and automatic
    # thread count); generations on fresh threads, half of them pinned to one CPU, caught it 1 time in 5.
    def generate(name: str, cpus: set[int] | None) -> bytes:
        if cpus is not None:
            os.sched_setaffinity(0, cpus)  # this thread only (Linux affinity is per thread)
        return engine.generate(request(skeleton_video, input_type="skeleton", steps=1), tmp_path / name).files[
            "result.mp4"].read_bytes()

    expected = generate("main", None)
    one_cpu = {min(os.sched_getaffinity(0))}
    for i in range(8):  # one at a time (the engine's pipeline is shared), each on a new thread like a job's
        with ThreadPoolExecutor(max_workers=1) as fresh_thread:
            assert fresh_thread.submit(generate, f"t{i}", one_cpu if i % 2 == 0 else None).result() == expected, i


def test_cpu_engine_runs_the_unet_channels_last(engine):
    """On the CPU the UNet's maps are channels-last (faster oneDNN convolutions and group norms)."""
    convs = [m.weight for m in engine.runner().pipeline.unet.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(w.is_contiguous(memory_format=torch.channels_last) for w in convs)


def test_cancel_leaves_no_files(engine, skeleton_video, tmp_path):
    seen = []

    def should_cancel() -> bool:
        # The user presses cancel once the second denoising step has been reported.
        return any(e.stage == JobStage.GENERATING and e.step >= 2 for e in seen)

    with pytest.raises(Canceled):
        engine.generate(request(skeleton_video, steps=6), tmp_path, on_progress=seen.append,
                        should_cancel=should_cancel)
    assert files_in(tmp_path) == set()
    denoised = [e.step for e in seen if e.stage == JobStage.GENERATING and e.step]
    assert denoised == [1, 2]  # stopped right there, 4 steps early


@pytest.fixture
def every_step_previews(engine, monkeypatch):
    monkeypatch.setattr(engine.settings, "preview_every_steps", 1)
    monkeypatch.setattr(engine.settings, "preview_min_interval_s", 0.0)


def test_live_preview_appears_and_changes_step_by_step(engine, skeleton_video, tmp_path, every_step_previews):
    from PIL import Image

    preview = tmp_path / "preview.gif"
    shots = {}

    def on_progress(event) -> None:  # what a poller would see after each denoising step
        if event.stage == JobStage.GENERATING and event.step and preview.exists():
            shots[event.step] = preview.read_bytes()
            assert event.info["files"]["preview.gif"] == str(preview)

    result = engine.generate(request(skeleton_video, steps=4), tmp_path, on_progress=on_progress, preview=preview)
    assert sorted(shots) == [1, 2, 3, 4]  # written after steps 1-3 (step 4 is followed by the real video)
    assert len({shots[1], shots[2], shots[3]}) == 3 and shots[4] == shots[3]
    with Image.open(preview) as gif:  # the whole video (3 frames) at 1/4 of 64x64
        assert gif.n_frames == 3 and gif.size == (16, 16)
    assert files_in(tmp_path) == OUTPUTS | {"preview.gif"}  # no temporary file; the last preview stays
    assert set(result.files) == OUTPUTS  # not one of the result's files


def test_cancel_removes_the_live_preview(engine, skeleton_video, tmp_path, every_step_previews):
    preview = tmp_path / "preview.gif"
    seen = []
    with pytest.raises(Canceled):
        engine.generate(request(skeleton_video, steps=6), tmp_path, on_progress=seen.append, preview=preview,
                        should_cancel=lambda: any(e.step >= 3 and preview.exists() for e in seen))
    assert any("preview.gif" in e.info.get("files", {}) for e in seen)  # it existed while the job ran
    assert files_in(tmp_path) == set()


def test_too_few_frames_fails_before_any_work(engine, skeleton_video, tmp_path):
    seen = []
    with pytest.raises(InvalidInput) as info:
        engine.generate(request(skeleton_video, frames=50), tmp_path, on_progress=seen.append)
    # the job page marks the stage it stopped at: the video is read by the pose stage, not the prompt one
    assert seen and seen[-1].stage.value == "extracting_pose", [e.stage for e in seen]
    assert info.value.field == "frames" and "50" in str(info.value) and "6 frames" in str(info.value)
    assert [item["code"] for item in info.value.text().items] == ["error.too_few_frames_of", "hint.too_few_frames_of"]
    assert files_in(tmp_path) == set()


def test_frames_default_is_what_the_video_gives_and_windows(engine, skeleton_video, tmp_path):
    result = engine.generate(request(skeleton_video, frames=None, stride=4, steps=1, window=2, window_overlap=1),
                             tmp_path)
    assert result.frames == 3  # 12 frames / stride 4 (fewer than settings.frames)
    assert engine.runner().pipeline.last_call_stats["unet"] == 2  # windows 0-1 and 1-2, one step
    assert len(read_frames(tmp_path / "result.mp4")) == 3


def test_vietnamese_prompt_goes_through_the_prompt_stage(engine, skeleton_video, tmp_path):
    result = engine.generate(request(skeleton_video, prompt="Cô gái nhảy trên núi", steps=1, frames=2,
                                     negative_prompt="mờ"), tmp_path)
    assert result.language == "vi"
    assert result.english_prompt and result.english_prompt != "Cô gái nhảy trên núi"
    assert result.negative_prompt is not None


def test_raw_video_goes_through_the_pose_stage(engine, raw_video, tmp_path):
    result = engine.generate(request(raw_video, steps=1, frames=2, stride=3), tmp_path)
    assert result.input_kind == "video"
    assert files_in(tmp_path) == OUTPUTS | {"keypoints.json"}
    assert result.pose_summary
    assert len(read_frames(tmp_path / "skeleton.mp4")) == 2


@pytest.mark.parametrize("changes, field", [
    ({"width": 100}, "width"),
    ({"height": 0}, "height"),
    ({"steps": 0}, "steps"),
    ({"stride": 0}, "stride"),
    ({"frames": 0}, "frames"),
    ({"frames": 100000}, "frames"),
    ({"guidance_scale": -2.0}, "guidance_scale"),
    ({"scheduler": "euler"}, "scheduler"),
    ({"lang": "fr"}, "lang"),
    ({"input_type": "image"}, "input_type"),
    ({"prompt": "   "}, "prompt"),
    ({"video": Path("/nonexistent/video.mp4")}, "video"),
    ({"window": 1}, "window"),
    ({"window": 4, "window_overlap": 4}, "window_overlap"),
])
def test_request_validation(skeleton_video, changes, field):
    req = request(changes.pop("video", skeleton_video), **changes)
    with pytest.raises(InvalidInput) as info:
        req.validate(Settings())
    assert info.value.field == field and info.value.hint


def test_unreadable_video(engine, tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("this is not a video")
    out = tmp_path / "out"
    with pytest.raises(InvalidInput) as info:
        engine.generate(request(bad), out)
    assert info.value.field == "video"
    assert files_in(out) == set()


def test_models_missing_and_devices(tmp_path):
    with pytest.raises(ModelsMissing, match="manage.py download"):
        Engine(tmp_path, device="cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_dtype("auto", torch.device("cuda")) == torch.float16
    expected = torch.bfloat16 if cpu_bf16()[0] else torch.float32
    assert resolve_dtype("auto", torch.device("cpu")) == expected
    assert resolve_dtype("bf16", torch.device("cpu")) == torch.bfloat16
    with pytest.raises(DeviceError, match="fp16"):
        resolve_dtype("fp16", torch.device("cpu"))
    with pytest.raises(DeviceError):
        resolve_dtype("int8", torch.device("cpu"))
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match="CUDA is not available"):
            Engine("demo", device="cuda")


@pytest.mark.gpu
def test_engine_on_cuda_fp16(demo_models, skeleton_video, tmp_path):
    gpu = Engine(demo_models, device="cuda", dtype="auto")
    assert gpu.dtype == torch.float16
    result = gpu.generate(request(skeleton_video, steps=2), tmp_path)
    assert result.device.startswith("cuda") and result.dtype == "fp16" and result.memory_preset
    assert len(read_frames(tmp_path / "result.mp4")) == 3


def test_compile_setting_reaches_the_pipeline_and_the_first_job_says_what_it_cost(demo_models, skeleton_video,
                                                                                  tmp_path, monkeypatch):
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", "restored after the test")
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR")
    settings = Settings.load({"compile": "max-autotune", "data_dir": tmp_path / "data"})
    compiling = Engine(demo_models, device="cpu", dtype="fp32", settings=settings)
    assert compiling.runner().pipeline.compiled_unet.mode == "max-autotune"
    # the compile cache lives under the data folder, so it survives restarts (unless the user chose one)
    assert Path(compiling.runner().pipeline.compiled_unet.cache_dir) == (tmp_path / "data" / "compile-cache").resolve()
    compiling.runner().pipeline.enable_compile(backend="no-such-backend")  # as where compiling is unsupported
    first = compiling.generate(request(skeleton_video), tmp_path / "a")
    second = compiling.generate(request(skeleton_video), tmp_path / "b")
    assert compile_codes(first) == ["compile.eager_fallback"] and compile_codes(second) == []


def compile_codes(result) -> list[str]:
    return [item["code"] for w in result.warnings for item in getattr(w, "items", [])
            if str(item.get("code")).startswith("compile.")]


def test_unknown_compile_mode_names_the_setting(demo_models):
    with pytest.raises(InvalidInput) as info:
        Engine(demo_models, device="cpu", settings=Settings.load({"compile": "fastest"}))
    assert info.value.field == "compile" and "max-autotune" in info.value.hint
