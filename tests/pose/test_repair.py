"""Gap interpolation, long-gap hold/drop, One-Euro smoothing on synthetic keypoint tracks."""

from __future__ import annotations

import numpy as np

from text2video.pose.repair import (DETECTED, MISSING, REPAIRED, RepairOptions, fill_gaps, one_euro, repair_track,
                                    runs)


def test_runs():
    assert runs(np.array([0, 1, 1, 0, 1, 0, 0, 1], bool)) == [(1, 2), (4, 4), (7, 7)]
    assert runs(np.zeros(4, bool)) == []


def test_short_gap_is_interpolated_linearly():
    t = np.arange(20, dtype=float)
    xy = np.stack([10 + 3 * t, 50 - 2 * t], axis=1)
    known = np.ones(20, bool)
    known[5:9] = False  # 4 frames
    xy_in = xy.copy()
    xy_in[5:9] = [999, -999]  # whatever the model said there must not leak through
    out, status = fill_gaps(xy_in, known, max_gap=10, hold=2)
    np.testing.assert_allclose(out, xy, atol=1e-9)
    assert (status[5:9] == REPAIRED).all() and (status[:5] == DETECTED).all() and (status[9:] == DETECTED).all()


def test_long_gap_is_held_briefly_then_dropped_never_invented():
    xy = np.tile([[100.0, 200.0]], (40, 1))
    xy[20:] = [300.0, 50.0]
    known = np.ones(40, bool)
    known[10:30] = False  # 20 frames > max_gap
    out, status = fill_gaps(xy, known, max_gap=10, hold=2)
    np.testing.assert_allclose(out[10:12], [[100, 200]] * 2)  # held forwards
    np.testing.assert_allclose(out[28:30], [[300, 50]] * 2)  # held backwards
    assert np.isnan(out[12:28]).all()
    assert (status[12:28] == MISSING).all() and (status[[10, 11, 28, 29]] == REPAIRED).all()


def test_gaps_at_the_edges_are_held_not_interpolated():
    xy = np.arange(24, dtype=float).reshape(12, 2)
    known = np.ones(12, bool)
    known[:3] = False
    known[-4:] = False
    out, status = fill_gaps(xy, known, max_gap=10, hold=2)
    assert np.isnan(out[0]).all() and (status[0] == MISSING)
    np.testing.assert_allclose(out[1:3], [xy[3]] * 2)
    np.testing.assert_allclose(out[8:10], [xy[7]] * 2)
    assert np.isnan(out[10:]).all()


def test_never_seen_keypoint_stays_missing():
    out, status = fill_gaps(np.zeros((5, 2)), np.zeros(5, bool), max_gap=10, hold=2)
    assert np.isnan(out).all() and (status == MISSING).all()


def test_one_euro_removes_jitter_without_lag_on_motion():
    rng = np.random.default_rng(0)
    fps, n = 6.0, 120
    t = np.arange(n) / fps
    truth = np.stack([200 + 30 * np.sin(2 * np.pi * 0.3 * t), 300 + 0 * t], axis=1)
    noisy = truth + rng.normal(0, 3.0, truth.shape)
    scores = np.ones((n, 1))
    out, status = repair_track(noisy[:, None], scores, fps=fps, scale=512.0)
    err_in = np.abs(noisy - truth).mean()
    err_out = np.abs(out[:, 0] - truth).mean()
    assert err_out < 0.75 * err_in, (err_in, err_out)
    # Zero-lag: on a steady ramp the smoothed track is not behind the input.
    ramp = np.stack([np.arange(n) * 20.0, np.zeros(n)], axis=1)
    out, _ = repair_track(ramp[:, None], scores, fps=fps, scale=512.0)
    np.testing.assert_allclose(out[5:-5, 0, 0], ramp[5:-5, 0], atol=1.0)
    # A causal filter alone does lag: that is why we run it both ways.
    causal = one_euro(ramp / 512.0, 1 / fps, min_cutoff=1.5, beta=1.0, d_cutoff=1.0) * 512.0
    assert (ramp[5:, 0] - causal[5:, 0]).mean() > 5.0


def test_repair_track_thresholds_scores_and_keeps_statuses():
    n = 30
    xy = np.tile(np.linspace(0, 100, 17)[None, :, None], (n, 1, 2)).astype(float)
    scores = np.full((n, 17), 0.9)
    scores[10:13, 9] = 0.1  # left wrist unsure for 3 frames -> interpolated
    scores[5:25, 16] = 0.05  # right ankle lost for 20 frames -> held 2 + missing
    scores[20, :] = 0.0  # nobody in frame 20 -> filled from neighbours
    opts = RepairOptions(score_threshold=0.3, max_gap=10, hold=2, smooth=False)
    out, status = repair_track(xy, scores, fps=6, scale=512, options=opts)
    assert (status[10:13, 9] == REPAIRED).all()
    assert (status[20, :16] == REPAIRED).all()
    assert (status[7:23, 16] == MISSING).all() and np.isnan(out[7:23, 16]).all()
    assert (status[[5, 6, 23, 24], 16] == REPAIRED).all()
    assert (status[0] == DETECTED).all()
    np.testing.assert_allclose(out[20, :16], xy[20, :16])  # constant track: filled exactly
