"""Wan long-video windows: the plan, the pipeline's video/mask inputs, the cut of the overlap, colour matching and
the streaming loop (memory flat in the number of windows)."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from text2video.exceptions import InvalidInput
from text2video.families.wan_vace.windows import (DEFAULT_OVERLAP, DEFAULT_WINDOW, DriftMeter, Window,
                                                  colour_stats, correct_drift, generate_windows, is_clip_length,
                                                  match_colour, plan_windows, stats_difference, stitch,
                                                  window_inputs)


def _covers_exactly(windows: list[Window], total: int) -> bool:
    """Every frame is added by exactly one window, in order, and each window carries frames of the one before."""
    added = [f for w in windows for f in range(w.new_start, w.stop)]
    return added == list(range(total))


@pytest.mark.parametrize("total", [81, 82, 100, 145, 146, 147, 148, 149, 200, 1000, 1001])
def test_plan_windows_adds_every_frame_once_in_4k_plus_1_windows(total):
    windows = plan_windows(total, DEFAULT_WINDOW, DEFAULT_OVERLAP)
    assert _covers_exactly(windows, total), windows
    assert all(is_clip_length(w.length) and w.length <= DEFAULT_WINDOW for w in windows), windows
    assert windows[0] == Window(0, min(total, DEFAULT_WINDOW), 0)
    for previous, window in zip(windows, windows[1:]):
        assert previous.start <= window.start < previous.stop  # carried frames come from the window before
        assert DEFAULT_OVERLAP <= window.carried <= DEFAULT_OVERLAP + 3


def test_plan_windows_exhaustive_small_settings():
    for window in (5, 9, 17, 33):
        for overlap in range(0, window - 3):
            for total in range(window + 1, 4 * window):
                windows = plan_windows(total, window, overlap)
                assert _covers_exactly(windows, total), (window, overlap, total, windows)
                assert all(is_clip_length(w.length) and w.length <= window for w in windows)
                assert all(w.carried >= overlap for w in windows[1:])


def test_plan_windows_200_frames():
    # 81 + 64 new + 55 new: the last window reaches one frame further back to be 73 = 4*18+1 frames long
    assert plan_windows(200) == [Window(0, 81, 0), Window(64, 145, 17), Window(127, 200, 18)]


def test_one_window_follows_the_models_rule():
    assert plan_windows(81) == [Window(0, 81, 0)]
    assert plan_windows(17) == [Window(0, 17, 0)]
    for asked, closest in ((80, 81), (79, 81), (78, 77), (3, 5), (2, 5)):
        with pytest.raises(InvalidInput) as err:
            plan_windows(asked)
        assert err.value.field == "frames" and f"Use {closest} frames" in str(err.value), str(err.value)


@pytest.mark.parametrize("window, overlap, field", [(80, 17, "window"), (1, 0, "window"), (81, 78, "window_overlap"),
                                                    (81, -1, "window_overlap"), (True, 0, "window")])
def test_bad_window_args_name_the_field(window, overlap, field):
    with pytest.raises(InvalidInput) as err:
        plan_windows(300, window, overlap)
    assert err.value.field == field


def test_window_inputs_as_the_pipeline_wants_them():
    poses = np.full((40, 32, 48, 3), 7, dtype=np.uint8)
    carried = [np.full((32, 48, 3), 200, dtype=np.uint8)] * 5
    window = Window(12, 29, 5)
    video, mask = window_inputs(poses, carried, window)
    assert len(video) == len(mask) == 17
    assert all(v.mode == "RGB" and v.size == (48, 32) for v in video)
    assert all(m.mode == "L" and m.size == (48, 32) for m in mask)
    assert [int(np.asarray(m).max()) for m in mask] == [0] * 5 + [255] * 12
    assert [int(np.asarray(v)[0, 0, 0]) for v in video] == [200] * 5 + [7] * 12
    with pytest.raises(ValueError, match="carries 5 frames"):
        window_inputs(poses, carried[:4], window)


def test_stitch_drops_the_regenerated_copies():
    frames = np.arange(17)[:, None, None, None] * np.ones((1, 2, 2, 3), dtype=np.uint8)
    kept = stitch(frames, Window(10, 27, 5))
    assert kept[:, 0, 0, 0].tolist() == list(range(5, 17))
    with pytest.raises(ValueError, match="should give 17"):
        stitch(frames[:16], Window(10, 27, 5))


def _scene(frames: int, height: int = 24, width: int = 32, seed: int = 0) -> np.ndarray:
    """A textured scene, the same every frame (so any colour difference between windows is drift)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(40, 216, size=(height, width, 3)).astype(np.uint8)
    return np.repeat(base[None], frames, axis=0)


def test_match_colour_undoes_a_known_shift_and_scale():
    reference = _scene(6)
    # a window whose colours drifted: every channel scaled and shifted differently
    drifted = np.clip(reference.astype(np.float32) * [1.15, 0.9, 1.05] + [12, -9, 20], 0, 255).round().astype(np.uint8)
    before = stats_difference(colour_stats(drifted), colour_stats(reference))
    fixed = match_colour(drifted, colour_stats(reference))
    after = stats_difference(colour_stats(fixed), colour_stats(reference))
    assert before[0] > 10 and before[1] > 3, f"the synthetic drift is too small: before {before}"
    assert after[0] < 0.5 and after[1] < 0.5, f"drift |d mean|, |d std| before {before}, after {after}"
    pixel_error = np.abs(fixed.astype(int) - reference.astype(int)).mean()
    assert pixel_error < 1.0, f"mean pixel error after matching {pixel_error:.2f} (before " \
                              f"{np.abs(drifted.astype(int) - reference.astype(int)).mean():.2f})"


def test_match_colour_is_bounded_when_the_copies_are_far_off():
    reference = colour_stats(_scene(2))
    dim = np.full((2, 8, 8, 3), 10, dtype=np.uint8)
    dim[:, :4] = 14  # std 2: a reproduction that failed, not a drift
    out = match_colour(dim, reference)
    shift = colour_stats(out).mean[0] - colour_stats(dim).mean[0]
    assert shift == pytest.approx(48, abs=0.6) and colour_stats(out).std[0] <= 1.5 * 2 + 0.5


def test_match_colour_leaves_a_flat_channel_unstretched():
    flat = np.full((2, 4, 4, 3), 100, dtype=np.uint8)
    out = match_colour(flat, colour_stats(_scene(1)))
    assert len(np.unique(out[..., 0])) == 1  # shifted to the reference mean, no division by ~0


class DriftingModel:
    """Stands in for the pipeline: reproduces the kept frames and continues the scene, but every window comes out
    a little warmer and brighter than the frames it was given (the drift users report)."""

    def __init__(self, scene: np.ndarray):
        self.scene = scene
        self.calls: list[Window] = []

    def __call__(self, video, mask, window):
        self.calls.append(window)
        frames = self.scene[:window.length].astype(np.float32)
        if window.carried:  # continue from what was kept: same colours as the kept frames, then the drift
            kept = np.stack([np.asarray(v) for v in video[:window.carried]]).astype(np.float32)
            frames = frames / frames.mean((0, 1, 2)) * kept.mean((0, 1, 2))
        return np.clip(frames * [1.06, 1.0, 0.95] + [6, 2, -4], 0, 255).round().astype(np.uint8)


def test_generate_windows_streams_exact_frames_and_corrects_drift():
    total = 200
    poses = np.zeros((total, 24, 32, 3), dtype=np.uint8)
    windows = plan_windows(total, 33, 9)
    model, drift = DriftingModel(_scene(33)), DriftMeter()
    chunks = list(generate_windows(poses, windows, model, drift=drift))
    assert sum(len(c) for c in chunks) == total
    assert [len(c) for c in chunks] == [w.stop - w.new_start for w in windows]
    rows = drift.per_window()
    worst_before = max(r["mean_before"] for r in rows)
    worst_after = max(r["mean_after"] for r in rows)
    # each window drifts by one step from the (corrected) frames it carries; corrected, it is back on the first's
    assert worst_before > 10, drift.summary()
    assert worst_after < 1.0, drift.summary()
    assert "before" in drift.summary() and "after" in drift.summary()


def test_without_correction_the_drift_compounds():
    windows = plan_windows(200, 33, 9)
    drift = DriftMeter()
    chunks = list(generate_windows(np.zeros((200, 24, 32, 3), np.uint8), windows, DriftingModel(_scene(33)),
                                   correct_colour=False, drift=drift))
    assert sum(len(c) for c in chunks) == 200
    means = [r["mean_before"] for r in drift.per_window()]
    assert means == [r["mean_after"] for r in drift.per_window()]  # nothing was changed
    assert means[-1] > 3 * means[0], f"drift per window vs the first: {[round(m, 1) for m in means]}"


def test_generate_windows_is_lazy():
    poses = np.zeros((100, 8, 8, 3), dtype=np.uint8)
    model = DriftingModel(_scene(17, 8, 8))
    stream = generate_windows(poses, plan_windows(100, 17, 5), model)
    next(stream)
    assert len(model.calls) == 1  # nothing runs ahead of the consumer


def _peak_bytes(total: int) -> int:
    poses = np.zeros((1, 48, 64, 3), dtype=np.uint8)
    poses = np.broadcast_to(poses, (total, 48, 64, 3))  # no memory of its own: the loop's is what is measured
    model = DriftingModel(_scene(33, 48, 64))
    tracemalloc.start()
    try:
        for chunk in generate_windows(poses, plan_windows(total, 33, 9), model):
            del chunk  # as the encoder does: written and dropped
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_peak_memory_is_flat_in_the_number_of_windows():
    few, many = _peak_bytes(100), _peak_bytes(1000)  # 4 windows vs 41
    assert many < 1.3 * few, f"peak {few / 1e6:.2f} MB for 4 windows, {many / 1e6:.2f} MB for 41"


def test_windows_through_a_real_tiny_wan_pipeline(one_torch_thread):
    from PIL import Image

    from tests.families.wan_vace.tiny_wan import prompt_embeds, tiny_pipeline
    from text2video.families.wan_vace.windows import pipeline_window

    embeds, negative = prompt_embeds()
    total, size = 21, 32
    poses = np.zeros((total, size, size, 3), dtype=np.uint8)
    poses[:, 8:24, 12:20] = 255  # a white figure
    windows = plan_windows(total, 9, 5)
    assert len(windows) == 4
    run = pipeline_window(tiny_pipeline(), seed=3, reference_image=Image.new("RGB", (size, size), (200, 60, 60)),
                          prompt_embeds=embeds, negative_prompt_embeds=negative, height=size, width=size,
                          num_inference_steps=2, guidance_scale=1.0)
    drift = DriftMeter()
    chunks = list(generate_windows(poses, windows, run, drift=drift))
    assert sum(len(c) for c in chunks) == total
    assert all(c.dtype == np.uint8 and c.shape[1:] == (size, size, 3) for c in chunks)
    print(drift.summary())  # the demo-weights figure (random weights: says nothing of real drift)
    assert len(drift.per_window()) == 3
    # random weights do not reproduce the kept frames: no window is "corrected" into a runaway
    rows = drift.per_window()
    assert max(r["mean_after"] for r in rows) <= max(r["mean_before"] for r in rows) + 1e-9, drift.summary()


def test_no_correction_when_the_copies_are_not_reproductions():
    kept = _scene(3, seed=1)
    unrelated = _scene(3, seed=2)  # same colour statistics family, other content
    new = _scene(4, seed=3)
    out, correlation = correct_drift(new, unrelated, kept)
    assert abs(correlation) < 0.2 and out is new
    drifted = np.clip(kept.astype(np.float32) * 1.1 + 5, 0, 255).round().astype(np.uint8)
    out, correlation = correct_drift(new, drifted, kept)
    assert correlation > 0.99 and out is not new
