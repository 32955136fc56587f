"""Wan VACE through the Engine on demo weights: long videos in windows, the live preview, First Block Cache,
and --compile reaching the transformer (never run here: inductor takes minutes)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from PIL import Image

from text2video.engine import Engine
from text2video.exceptions import Canceled
from text2video.jobs.status import JobStage
from text2video.request import GenerationRequest
from text2video.video import read_frames

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def engine(demo_models):
    return Engine(demo_models, device="cpu", dtype="fp32")


@pytest.fixture(scope="module")
def long_video(tmp_path_factory):
    from tests.media import make_video

    # 16 fps: Wan samples the pose video at 16 fps, so every frame is used
    return make_video(tmp_path_factory.mktemp("wan-long") / "dance.mp4", 200, width=64, height=64,
                      fps=Fraction(16))


def wan(video, **kw) -> GenerationRequest:
    args = dict(video=video, prompt="a girl dancing on a mountain", model="wan-vace-1.3b", steps=1, width=64,
                height=64, seed=3, input_type="skeleton", translate=False)
    return GenerationRequest(**{**args, **kw})


def test_a_200_frame_job_is_made_in_windows_with_every_frame(engine, long_video, tmp_path):
    seen = []
    result = engine.generate(wan(long_video, frames=200, steps=2), tmp_path, on_progress=seen.append)
    assert result.frames == 200 and len(read_frames(tmp_path / "result.mp4")) == 200
    steps = [(e.step, e.total) for e in seen if e.stage == JobStage.GENERATING and e.step]
    assert steps == [(k, 6) for k in range(1, 7)]  # 2 steps x 3 windows (81, 81 and 73 frames)
    stages = [e.stage for e in seen]
    first_encoding = stages.index(JobStage.ENCODING)
    assert JobStage.GENERATING not in stages[first_encoding:]  # windows stream out, progress never goes back
    drift = engine.runner("wan-vace-1.3b").last_drift
    assert len(drift.before) == 3 and "colour drift over 3 windows" in drift.summary()


def test_cancel_stops_between_windows(engine, long_video, tmp_path):
    seen = []

    def should_cancel() -> bool:  # pressed once the first window's last step is reported
        return any(e.stage == JobStage.GENERATING and e.step >= 1 for e in seen)

    with pytest.raises(Canceled):
        engine.generate(wan(long_video, frames=100, window=41, window_overlap=9), tmp_path / "c",
                        on_progress=seen.append, should_cancel=should_cancel)
    assert [e.step for e in seen if e.stage == JobStage.GENERATING and e.step] == [1]
    assert not (tmp_path / "c" / "result.mp4").exists()


def test_a_short_window_with_the_default_overlap_still_plans(engine, long_video, tmp_path):
    # window 9 with the default overlap (17) left out: the runner carries 9 - 4 = 5 frames
    result = engine.generate(wan(long_video, frames=20, window=9), tmp_path)
    assert result.frames == 20 and len(read_frames(tmp_path / "result.mp4")) == 20


@pytest.fixture
def every_step_previews(engine, monkeypatch):
    monkeypatch.setattr(engine.settings, "preview_every_steps", 1)
    monkeypatch.setattr(engine.settings, "preview_min_interval_s", 0.0)


def test_live_preview_of_one_clip(engine, long_video, tmp_path, every_step_previews):
    preview, shots = tmp_path / "preview.gif", {}
    photo = tmp_path / "me.png"
    Image.new("RGB", (30, 40), (200, 30, 30)).save(photo)

    def on_progress(event) -> None:
        if event.stage == JobStage.GENERATING and event.step and preview.exists():
            shots[event.step] = preview.read_bytes()
            assert event.info["files"]["preview.gif"] == str(preview)

    engine.generate(wan(long_video, frames=9, steps=3, reference_image=photo), tmp_path / "out",
                    on_progress=on_progress, preview=preview)
    assert sorted(shots) == [1, 2, 3] and shots[1] != shots[2]  # written after steps 1 and 2
    with Image.open(preview) as gif:  # 9 frames (3 latent frames; the photo's latent frame dropped)
        assert gif.n_frames == 9 and gif.size[0] == gif.size[1]


def test_live_preview_shows_the_current_window(engine, long_video, tmp_path, every_step_previews):
    preview, counts = tmp_path / "preview.gif", []

    def on_progress(event) -> None:
        if event.stage == JobStage.GENERATING and event.step and preview.exists():
            with Image.open(preview) as gif:
                counts.append((event.step, gif.n_frames))

    # windows (0, 21) and (13, 30): 21 then 17 frames
    engine.generate(wan(long_video, frames=30, steps=2, window=21, window_overlap=5), tmp_path / "out",
                    on_progress=on_progress, preview=preview)
    assert counts == [(1, 21), (2, 21), (3, 17), (4, 17)]


def _frames(engine, video, out, **kw):
    result = engine.generate(wan(video, frames=9, steps=4, **kw), out)
    return result, read_frames(out / "result.mp4")


def test_first_block_cache_skips_blocks_and_is_gone_after_the_job(engine, demo_models, long_video, tmp_path):
    cached, with_cache = _frames(engine, long_video, tmp_path / "on", cache_threshold=0.5)
    note = next(w for w in cached.warnings if "first block cache" in str(w))
    share = int(str(note).split("threshold 0.5): ")[1].split("%")[0])
    assert share > 0 and with_cache.shape == (9, 64, 64, 3)
    plain, without = _frames(engine, long_video, tmp_path / "off")
    assert not any("first block cache" in str(w) for w in plain.warnings)
    fresh = Engine(demo_models, device="cpu", dtype="fp32")
    _, from_fresh = _frames(fresh, long_video, tmp_path / "fresh")
    assert np.array_equal(without, from_fresh)  # the cache left nothing behind
    assert not np.array_equal(with_cache, without)


def test_compile_setting_reaches_the_transformers_blocks(demo_models):
    """Regional compile wraps each repeated block (torch.compile on nn.Module.compile) without running it."""
    import torch

    from text2video.families.wan_vace import FAMILY
    from text2video.families.wan_vace.demo import build_demo
    from text2video.families.wan_vace.runner import WanVaceRunner
    from text2video.models.demo import ensure_demo_part
    from text2video.settings import Settings

    variant = FAMILY.variants[0]
    ensure_demo_part(demo_models, variant.folder, build_demo)  # as the engine does on a demo folder's first job
    root = demo_models
    settings = Settings.load({"compile": "default", "data_dir": str(demo_models.parent / "compile-data")},
                             environ={})
    runner = WanVaceRunner(root, variant, device="cpu", dtype=torch.float32, settings=settings)
    runner.load()
    transformer = runner.pipe.transformer
    blocks = [*transformer.blocks, *transformer.vace_blocks]
    if runner.compile_failure:
        pytest.skip(f"inductor cannot run here: {runner.compile_failure}")
    assert runner.compiled == "default"
    assert all(b._compiled_call_impl is not None for b in blocks)  # each block goes through torch.compile
    assert transformer._compiled_call_impl is None  # regional: the model around them stays eager
    eager = WanVaceRunner(root, variant, device="cpu", dtype=torch.float32)
    eager.load()
    assert all(b._compiled_call_impl is None for b in eager.pipe.transformer.blocks)


def test_first_block_cache_across_windows_of_different_lengths(engine, long_video, tmp_path):
    # windows (0, 21) and (13, 30): the cache must not compare the second window's residual with the first's
    result = engine.generate(wan(long_video, frames=30, steps=3, window=21, window_overlap=5, cache_threshold=0.5),
                             tmp_path)
    assert result.frames == 30 and len(read_frames(tmp_path / "result.mp4")) == 30
    assert any("first block cache" in str(w) for w in result.warnings)
