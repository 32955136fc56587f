"""Long videos on the tiny demo models: windowed denoising, first-frame anchoring, single-window equivalence,
streaming output of a 200-frame generation, and the engine's long-video contract (progress, fps, limits)."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from text2video.diffusion.attention import SparseCausalAttnProcessor
from text2video.diffusion.streaming import decode_to_writers
from text2video.diffusion.windows import frame_windows
from text2video.exceptions import InvalidInput
from text2video.video import probe_video, write_mp4

from tests.media import skeleton_frames

SIZE = 64


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def poses(frames: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(frames, 3, SIZE, SIZE, generator=g) > 0.9).float()


def run(pipe, frames: int, seed: int = 0, **kw):
    args = dict(video_length=frames, height=SIZE, width=SIZE, num_inference_steps=2, guidance_scale=7.5,
                generator=torch.Generator().manual_seed(seed), output_type="latent")
    args.update(kw)
    return pipe("a dancer in a red dress", pose=poses(frames), **args).frames


def test_video_in_one_window_is_bit_identical_to_the_plain_path(pipe):
    plain = run(pipe, 6, window_size=None)
    assert pipe.last_call_stats["windows"] == 1
    for kw in (dict(), dict(window_size=6, window_overlap=2), dict(window_size=24, anchor_first_frame=False)):
        same = run(pipe, 6, **kw)
        assert pipe.last_call_stats["windows"] == 1 and pipe.last_call_stats["unet"] == 2
        assert torch.equal(same, plain), kw
    # ... and the windowed path is really another computation (the equality above is not vacuous).
    assert not torch.equal(run(pipe, 6, window_size=4, window_overlap=2), plain)


class AnchorSpy:
    """Wraps SparseCausalAttnProcessor.first_frame_kv (the real method still runs) and records, per UNet pass,
    for every sparse-causal layer: the anchor mode, the first-frame keys it returned, and the window's own frame-0
    keys."""

    def __init__(self, pipe, monkeypatch):
        self.passes: list[dict[str, tuple]] = []
        self.frames: list[int] = []
        self.stored_bytes: list[tuple[int, int]] = []
        real = SparseCausalAttnProcessor.first_frame_kv
        spy = self

        def first_frame_kv(proc, key, value):
            k0, v0 = real(proc, key, value)
            mode = proc.anchor.mode if proc.anchor is not None else None
            if mode == "record":  # the stored frame-0 K/V own their memory (not views of the window's K/V)
                for t in proc.anchor.store[proc.name]:
                    spy.stored_bytes.append((t.untyped_storage().nbytes(), t.numel() * t.element_size()))
            spy.passes[-1][proc.name] = (mode, k0.clone(), v0.clone(), key[:, :1].clone(), value[:, :1].clone())
            return k0, v0

        monkeypatch.setattr(SparseCausalAttnProcessor, "first_frame_kv", first_frame_kv)
        self.handle = pipe.unet.register_forward_pre_hook(self._new_pass)

    def _new_pass(self, module, args):
        self.passes.append({})
        self.frames.append(args[0].shape[2])

    def remove(self):
        self.handle.remove()


def test_windows_after_the_first_attend_to_the_global_first_frame(pipe, monkeypatch):
    frames, window, overlap, steps = 10, 4, 1, 2
    windows = frame_windows(frames, window, overlap)
    assert len(windows) == 3
    spy = AnchorSpy(pipe, monkeypatch)
    try:
        anchored = run(pipe, frames, window_size=window, window_overlap=overlap, num_inference_steps=steps)
    finally:
        spy.remove()
    assert len(spy.passes) == steps * len(windows) and spy.frames == [window] * len(spy.passes)
    assert spy.stored_bytes and all(storage == own for storage, own in spy.stored_bytes)
    layers = sorted(spy.passes[0])
    assert len(layers) >= 4 and all(name for name in layers)  # every sparse-causal layer, each with its name
    for step in range(steps):
        first = spy.passes[step * len(windows)]
        for name in layers:
            mode, k0, v0, own_k, own_v = first[name]
            # The first window holds global frame 0: it records and attends to its own frame 0.
            assert mode == "record" and torch.equal(k0, own_k) and torch.equal(v0, own_v)
        for w in range(1, len(windows)):
            later = spy.passes[step * len(windows) + w]
            for name in layers:
                mode, k0, v0, own_k, own_v = later[name]
                # Other windows attend to the global frame 0 of THIS step (recorded above), not their own.
                assert mode == "use"
                assert torch.equal(k0, first[name][1]) and torch.equal(v0, first[name][2])
                assert not torch.equal(k0, own_k) and not torch.equal(v0, own_v)
    if steps > 1:  # keys/values are recorded afresh at every step (they change with the latents)
        assert not torch.equal(spy.passes[0][layers[0]][1], spy.passes[len(windows)][layers[0]][1])
    assert all(p.anchor is None for p in _sparse_processors(pipe))  # unplugged after the call

    # Switched off: every window attends to its own first frame, and the result differs.
    spy = AnchorSpy(pipe, monkeypatch)
    try:
        free = run(pipe, frames, window_size=window, window_overlap=overlap, num_inference_steps=steps,
                   anchor_first_frame=False)
    finally:
        spy.remove()
    for record in spy.passes:
        for mode, k0, v0, own_k, own_v in record.values():
            assert mode is None and torch.equal(k0, own_k) and torch.equal(v0, own_v)
    assert not torch.equal(anchored[:, :, windows[0][1]:], free[:, :, windows[0][1]:])


def _sparse_processors(pipe):
    return [m.processor for m in pipe.unet.modules() if isinstance(getattr(m, "processor", None),
                                                                  SparseCausalAttnProcessor)]


def test_pose_features_once_per_generation_and_progress_per_window(pipe):
    seen = []
    run(pipe, 30, window_size=12, window_overlap=4, num_inference_steps=3,
        callback=lambda step, total: seen.append((step, total)))
    windows = frame_windows(30, 12, 4)
    stats = pipe.last_call_stats
    assert stats["windows"] == len(windows) == 4 and stats["unet"] == 3 * len(windows)
    # Pose features: computed once (in chunks of one window), sliced per window at every step.
    assert stats["encode_pose"] == 3  # ceil(30 / 12) chunks, not x steps
    total = 3 * len(windows)
    assert seen == [(i, total) for i in range(1, total + 1)]


def test_bad_window_arguments(pipe):
    with pytest.raises(InvalidInput) as info:
        run(pipe, 10, window_size=4, window_overlap=4)
    assert info.value.field == "window_overlap" and "smaller than the window" in str(info.value)


def _decoded_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_200_frames_generate_and_stream_into_the_writers(pipe, tmp_path):
    frames = 200
    started = time.monotonic()
    latents = run(pipe, frames, num_inference_steps=1, guidance_scale=1.0)  # default window 24 / overlap 8
    generate_s = time.monotonic() - started
    assert latents.shape == (1, 4, frames, SIZE // 8, SIZE // 8) and torch.isfinite(latents).all()
    assert pipe.last_call_stats["windows"] == len(frame_windows(frames, 24, 8)) == 12

    skeleton = (poses(frames).permute(0, 2, 3, 1).numpy() * 255).astype(np.uint8)
    chunks = []
    tracemalloc.start()
    try:
        files = decode_to_writers(pipe, latents, skeleton, tmp_path, 6.0, decode_chunk=8, gif_max_frames=50,
                                  metadata={"comment": "6 fps = source 30 fps / stride 5"},
                                  on_chunk=lambda done, total: chunks.append((done, total)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"200 frames: generate {generate_s:.1f} s, decode+encode peak python/numpy allocations {peak / 1e6:.2f} MB")
    # Decoded frames are never all in memory: the peak numpy allocation is far below the whole uint8 video.
    whole = frames * SIZE * SIZE * 3
    assert peak < whole / 2, (peak, whole)
    assert chunks[-1] == (frames, frames) and len(chunks) == 25
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.gif", "result.mp4", "side_by_side.mp4"]
    info = probe_video(files["result.mp4"])
    assert abs(info.fps - 6.0) < 1e-6 and (info.width, info.height) == (SIZE, SIZE)
    assert _decoded_frames(files["result.mp4"]) == frames
    assert _decoded_frames(files["side_by_side.mp4"]) == frames
    assert probe_video(files["side_by_side.mp4"]).width == 2 * SIZE
    assert _decoded_frames(files["result.gif"]) == 50  # every 4th frame of 200
    with av.open(str(files["result.mp4"])) as container:
        assert container.metadata.get("comment") == "6 fps = source 30 fps / stride 5"


def test_a_failing_writer_leaves_no_file(pipe, tmp_path):
    latents = torch.zeros(1, 4, 5, SIZE // 8, SIZE // 8)
    skeleton = np.zeros((5, SIZE, SIZE, 3), np.uint8)

    def cancel(done, total):
        if done >= 4:
            raise RuntimeError("canceled mid-way")

    with pytest.raises(RuntimeError, match="mid-way"):
        decode_to_writers(pipe, latents, skeleton, tmp_path, 8.0, decode_chunk=2, on_chunk=cancel)
    assert list(tmp_path.iterdir()) == []  # no final file and no temporary one


# ------------------------------------------------------------------------------------------------ engine
@pytest.fixture(scope="module")
def long_skeleton_video(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("long-input") / "skeleton.mp4"
    write_mp4(skeleton_frames(40, 64, 64), path, 30)
    return path


def test_engine_long_video_progress_fps_and_streamed_files(demo_models, long_skeleton_video, tmp_path):
    from text2video.engine import Engine, GenerationRequest
    from text2video.jobs.status import JobStage
    from text2video.settings import Settings

    settings = Settings.load({"gif_max_frames": 8, "max_output_frames": 30})
    engine = Engine(demo_models, device="cpu", dtype="fp32", settings=settings)
    events = []
    request = GenerationRequest(video=long_skeleton_video, prompt="a robot dancing", steps=2, frames=20, stride=2,
                                width=64, height=64, seed=3, guidance_scale=7.5, input_type="skeleton", window=8,
                                window_overlap=2)
    result = engine.generate(request, tmp_path, on_progress=events.append)
    windows = len(frame_windows(20, 8, 2))
    gen = [e for e in events if e.stage == JobStage.GENERATING and e.step > 0]
    # Progress counts UNet passes (steps x windows) and announces that total from the start; the ETA is a
    # measured remaining time that reaches 0.
    assert [e.step for e in gen] == list(range(1, 2 * windows + 1))
    assert {e.total for e in events if e.stage == JobStage.GENERATING and e.total} == {2 * windows}
    assert all(e.eta_s is not None and e.eta_s >= 0 for e in gen) and gen[-1].eta_s == 0
    assert [e.fraction for e in events] == sorted(e.fraction for e in events)
    assert result.fps == 15.0 and events[-1].info["source_fps"] == 30.0 and events[-1].info["stride"] == 2
    for name in ("result.mp4", "side_by_side.mp4", "skeleton.mp4"):
        with av.open(str(tmp_path / name)) as container:
            assert container.metadata.get("comment") == "15 fps = source 30 fps / stride 2"
            assert _decoded_frames(tmp_path / name) == 20
    assert _decoded_frames(tmp_path / "result.gif") == 7  # every 3rd of 20 frames (gif_max_frames 8)
    assert any("result.gif is a preview" in w for w in result.warnings)

    # Beyond settings.max_output_frames: a clear error naming what to change, before any work.
    with pytest.raises(InvalidInput) as info:
        engine.generate(GenerationRequest(video=long_skeleton_video, prompt="x", frames=31, width=64, height=64),
                        tmp_path / "over")
    text = str(info.value) + " " + info.value.hint
    assert info.value.field == "frames" and "30" in text and "stride" in text and "max_output_frames" in text
    assert not (tmp_path / "over").exists() or list((tmp_path / "over").iterdir()) == []
