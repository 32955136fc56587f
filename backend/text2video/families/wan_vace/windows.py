"""Long videos with Wan VACE: windows of the model's length chained by kept frames, streamed one window at a time.

diffusers' ``WanVACEPipeline`` makes one clip of 4k+1 frames per call and has no long-video loop. A longer video
is made window after window (VACE's "temporal extension"): each next window's ``video`` starts with the last
frames the previous window generated, masked black (kept as conditioning), followed by the pose frames of the new
part, masked white (generated); every window gets the same reference image. Motion and identity carry across
because the model continues from real frames of the video.

Parameters mean what Follow-Your-Pose's do (``window``, ``window_overlap`` in ``request.py``): ``window`` is the
frames of one model pass, ``window_overlap`` the frames neighbouring windows share (here: the frames carried from
one window into the next). Wan defaults: window 81 (the length Wan2.1 was trained and is sampled at; it must be
4k+1) and overlap 17 = 4*4+1: the carried frames then fill whole latent frames (the VAE keeps frame 0 alone and
packs every next 4 frames into one latent frame, and the pipeline downsamples the mask per latent frame), so no
latent frame mixes kept and generated frames; each window adds 81 - 17 = 64 new frames (4 s at 16 fps), a cost of
81 / 64 = 1.27x one pass per 64 frames. Other overlaps work (VACE takes any mask) with that boundary inside a
latent frame.

The last window: it makes the frames still missing, but its length must be 4k+1 too, so it reaches back into the
previous window (carries up to 3 more kept frames than ``window_overlap``) instead of making frames past the end:
the video has exactly the frames asked for. A video of at most one window is one plain pipeline call, whose
length is the model's own rule (4k+1, the family's frame rule).

The overlap is cut, not blended: the window's first frames are regenerated copies of kept frames (through the VAE
and the denoiser, so slightly softer), the earlier window's frames are the originals and are already written. A
crossfade would only mix a frame with its own softer copy, and would hold frames back from the encoder; so
:func:`stitch` keeps the earlier window's frames and drops the copies, and the new frames continue the kept ones
by construction (they were generated from them).

Colour drift: users report colour creeping from window to window (VACE #44, Wan2GP #2132). Each later window is
matched (:func:`match_colour`, per-channel mean/std in RGB) to the kept frames it was conditioned on, measured on
its regenerated copies of those frames: both show the same content, so any difference is drift; the statistics of
the whole window would also "correct" real changes of content (a dancer turning, a bright shirt coming into view).
The kept frames are themselves corrected, so each window is chained back to the first window's colours. The
correction is bounded (1.5x contrast, 48 levels) and made only when the copies really reproduce the kept frames
(pixel correlation >= 0.7): otherwise the difference is content, and matching it would feed back window after
window. :class:`DriftMeter` reports the figure (mean/std of each window against the first, before and after).

Memory: :func:`generate_windows` is a generator; between windows it keeps only the carried frames, so peak memory
does not grow with the number of windows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional, Sequence

import numpy as np

from ...exceptions import InvalidInput

from . import DEFAULT_OVERLAP, DEFAULT_WINDOW  # declared once, with the family
TEMPORAL_STEP = 4  # the VAE's temporal compression: a clip has 4k+1 frames
_MIN_STD = 1.0  # a flat channel (std below 1/255 of the range) is shifted only, never stretched
# how far one window's colours are moved at most (see match_colour): 1.5x contrast, 48 of 255 levels
MAX_GAIN = 1.5
MAX_SHIFT = 48.0
# how alike the window's copies of the kept frames must be to them for their colour difference to count as drift
# (see correct_drift): a drifted reproduction correlates > 0.9, an unrelated picture ~0
MIN_COPY_CORRELATION = 0.7


@dataclass(frozen=True)
class Window:
    """Frames ``start..stop-1`` of the video made by one pipeline call; the first ``carried`` of them are kept
    frames of the previous window (black mask), the rest are generated from the pose (white mask)."""

    start: int
    stop: int
    carried: int

    @property
    def length(self) -> int:
        return self.stop - self.start

    @property
    def new_start(self) -> int:
        """The first frame this window adds to the video."""
        return self.start + self.carried


def is_clip_length(frames: int) -> bool:
    """Whether ``frames`` is a length one Wan call can make (4k+1)."""
    return frames >= 1 and frames % TEMPORAL_STEP == 1


def _clip_at_least(frames: int) -> int:
    """The smallest 4k+1 >= frames."""
    return frames + (1 - frames) % TEMPORAL_STEP


def check_window_args(window: int, overlap: int) -> None:
    """InvalidInput naming the field when the window or the overlap cannot make a schedule."""
    if not isinstance(window, int) or isinstance(window, bool) or not is_clip_length(window) or window < 5:
        raise InvalidInput(f"window must be 4k+1 frames (5, 9, ... 81) for Wan, got {window!r}", field="window",
                           value=window, hint=f"Use {DEFAULT_WINDOW}, the length Wan2.1 was trained on.")
    if (not isinstance(overlap, int) or isinstance(overlap, bool) or overlap < 0
            or overlap > window - TEMPORAL_STEP):
        raise InvalidInput(f"window_overlap must be between 0 and {window - TEMPORAL_STEP} (the window less 4, so "
                           f"each window adds frames) for window {window}, got {overlap!r}", field="window_overlap",
                           value=overlap, hint=f"Use 4k+1 frames, e.g. {min(DEFAULT_OVERLAP, window // 4 * 4 - 3)}.")


def plan_windows(total_frames: int, window: int = DEFAULT_WINDOW, overlap: int = DEFAULT_OVERLAP) -> list[Window]:
    """The windows covering frames ``0..total_frames-1``: the first starts at 0 with nothing carried, every next
    one carries ``overlap`` frames (the last one up to 3 more, to stay 4k+1 and end exactly at ``total_frames``).
    Each window's length is 4k+1 and at most ``window``; together they add every frame exactly once."""
    check_window_args(window, overlap)
    if not isinstance(total_frames, int) or isinstance(total_frames, bool) or total_frames < 1:
        raise InvalidInput(f"frames must be a positive integer, got {total_frames!r}", field="frames",
                           value=total_frames, hint=f"Use e.g. {DEFAULT_WINDOW}.")
    if total_frames <= window:
        if not is_clip_length(total_frames):
            below = total_frames - (total_frames - 1) % TEMPORAL_STEP
            closest = below + TEMPORAL_STEP if total_frames - below >= 2 or below < 5 else below
            raise InvalidInput(f"frames must be 4k+1 for one Wan window ({window} frames or fewer), got "
                               f"{total_frames}", field="frames", value=total_frames,
                               hint=f"Use {closest} frames, or more than {window} (made in windows).")
        return [Window(0, total_frames, 0)]
    windows = [Window(0, window, 0)]
    while windows[-1].stop < total_frames:
        stop = windows[-1].stop
        missing = total_frames - stop
        if missing > window - overlap:  # a full window
            windows.append(Window(stop - overlap, stop - overlap + window, overlap))
        else:  # the last one: reach back so its length is 4k+1 and it ends at the last frame
            length = _clip_at_least(missing + overlap)
            windows.append(Window(total_frames - length, total_frames, length - missing))
    return windows


def window_inputs(pose_frames: Sequence[np.ndarray], carried_frames: Sequence[np.ndarray], window: Window
                  ) -> tuple[list, list]:
    """The pipeline's ``video`` and ``mask`` for one window: lists of PIL images of the same size, the carried
    generated frames (mask black: keep) followed by the window's pose frames (mask white: generate). ``mask`` is
    greyscale ("L"); the pipeline maps it to [0, 1] per pixel (``preprocess_conditions``).

    ``pose_frames``: the whole video's pose frames (F, H, W, 3) uint8; ``carried_frames``: ``window.carried``
    frames (H, W, 3) uint8 RGB."""
    from PIL import Image

    if len(carried_frames) != window.carried:
        raise ValueError(f"window {window} carries {window.carried} frames, {len(carried_frames)} were given")
    poses = pose_frames[window.new_start:window.stop]
    if len(poses) != window.stop - window.new_start:
        raise ValueError(f"window {window} needs pose frames up to {window.stop}, the video has {len(pose_frames)}")
    video = [Image.fromarray(np.asarray(f, dtype=np.uint8), "RGB") for f in (*carried_frames, *poses)]
    size = video[0].size
    if any(img.size != size for img in video):
        raise ValueError(f"window {window}: carried and pose frames differ in size ({sorted({i.size for i in video})})")
    black, white = Image.new("L", size, 0), Image.new("L", size, 255)
    return video, [black] * window.carried + [white] * (window.length - window.carried)


def stitch(window_frames: np.ndarray, window: Window) -> np.ndarray:
    """The frames of one window's output that go into the video: the regenerated copies of the carried frames are
    dropped (the earlier window's originals are already in the video), the new frames are kept."""
    if len(window_frames) != window.length:
        raise ValueError(f"window {window} should give {window.length} frames, the pipeline gave {len(window_frames)}")
    return window_frames[window.carried:]


@dataclass(frozen=True)
class ColourStats:
    """Per-channel (R, G, B) mean and standard deviation of some frames, in 0..255 units."""

    mean: tuple[float, float, float]
    std: tuple[float, float, float]


def colour_stats(frames: np.ndarray) -> ColourStats:
    """Statistics of frames (F, H, W, 3) or one frame (H, W, 3), uint8 or float in 0..255."""
    pixels = np.asarray(frames, dtype=np.float64).reshape(-1, 3)
    if pixels.size == 0:
        raise ValueError("colour_stats needs at least one pixel")
    return ColourStats(tuple(pixels.mean(0).tolist()), tuple(pixels.std(0).tolist()))


def match_colour(frames: np.ndarray, reference: ColourStats, source: Optional[ColourStats] = None, *,
                 max_gain: float = MAX_GAIN, max_shift: float = MAX_SHIFT) -> np.ndarray:
    """``frames`` (uint8 RGB) with each channel moved from ``source`` statistics (default: the frames' own) to
    ``reference``'s: (x - mean_s) * std_r / std_s + mean_r, rounded and clipped to 0..255.

    The gain std_r / std_s is kept within 1/max_gain..max_gain and the mean's shift within +-max_shift levels:
    drift creeps by a few percent a window, so a window whose copies of the kept frames are far off (the model
    did not reproduce them: new content, not drift) is corrected only that far instead of being blown up."""
    source = source or colour_stats(frames)
    mean_s, std_s = np.array(source.mean), np.array(source.std)
    mean_r, std_r = np.array(reference.mean), np.array(reference.std)
    gain = np.where(std_s < _MIN_STD, 1.0, std_r / np.maximum(std_s, _MIN_STD))
    gain = np.clip(gain, 1 / max_gain, max_gain).astype(np.float32)
    target = (mean_s + np.clip(mean_r - mean_s, -max_shift, max_shift)).astype(np.float32)
    out = (np.asarray(frames, dtype=np.float32) - mean_s.astype(np.float32)) * gain + target
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def stats_difference(a: ColourStats, b: ColourStats) -> tuple[float, float]:
    """(largest |mean difference|, largest |std difference|) over the channels, in 0..255 units."""
    return (max(abs(x - y) for x, y in zip(a.mean, b.mean)), max(abs(x - y) for x, y in zip(a.std, b.std)))


@dataclass
class DriftMeter:
    """Colour statistics of every window before and after its correction (six numbers each: flat in memory), and
    the drift figure: each window's mean/std against the first window's."""

    before: list[ColourStats] = field(default_factory=list)
    after: list[ColourStats] = field(default_factory=list)
    copy_matches: list[Optional[float]] = field(default_factory=list)  # copy_correlation; None: not measured

    def record(self, raw: np.ndarray, corrected: np.ndarray, copy_match: Optional[float] = None) -> None:
        self.before.append(colour_stats(raw))
        self.after.append(colour_stats(corrected))
        self.copy_matches.append(copy_match)

    @property
    def unmatched(self) -> int:
        """Windows after the first left as they were: their copies of the kept frames were not reproductions."""
        return sum(1 for c in self.copy_matches[1:] if c is None or c < MIN_COPY_CORRELATION)

    def per_window(self) -> list[dict]:
        """[{window, mean_before, std_before, mean_after, std_after}] for the windows after the first."""
        rows = []
        for k in range(1, len(self.before)):
            (mb, sb), (ma, sa) = (stats_difference(self.before[k], self.before[0]),
                                  stats_difference(self.after[k], self.after[0]))
            rows.append({"window": k, "mean_before": mb, "std_before": sb, "mean_after": ma, "std_after": sa})
        return rows

    def summary(self) -> str:
        """One line for the job log and the bench: the worst window before and after, in 0..255 units."""
        rows = self.per_window()
        if not rows:
            return "colour drift: one window, nothing to match"
        worst = {key: max(r[key] for r in rows) for key in ("mean_before", "std_before", "mean_after", "std_after")}
        return (f"colour drift over {len(rows) + 1} windows vs the first (max |d mean| / |d std|, 0-255): before "
                f"{worst['mean_before']:.2f} / {worst['std_before']:.2f}, after {worst['mean_after']:.2f} / "
                f"{worst['std_after']:.2f}; {self.unmatched} window(s) not matched (kept frames not reproduced)")


def copy_correlation(copies: np.ndarray, kept: np.ndarray) -> float:
    """How well the window's copies reproduce the kept frames: the pixel correlation of each colour channel
    (1 = the same picture up to brightness and contrast, ~0 = unrelated), the lowest of the three; a flat channel
    counts as 1 (nothing to compare)."""
    a = np.asarray(copies, dtype=np.float64).reshape(-1, 3)
    b = np.asarray(kept, dtype=np.float64).reshape(-1, 3)
    a, b = a - a.mean(0), b - b.mean(0)
    norms = np.sqrt((a * a).sum(0) * (b * b).sum(0))
    flat = norms < (_MIN_STD ** 2) * len(a)
    return float(np.where(flat, 1.0, (a * b).sum(0) / np.where(flat, 1.0, norms)).min())


def correct_drift(new: np.ndarray, copies: np.ndarray, kept: np.ndarray) -> tuple[np.ndarray, float]:
    """``new`` frames moved by the colour change that turns the window's ``copies`` of the kept frames into the
    ``kept`` frames themselves, and :func:`copy_correlation` of the two. Matching presumes the copies show the
    kept frames' content: below :data:`MIN_COPY_CORRELATION` the model did not reproduce them (the difference is
    content, not drift) and ``new`` comes back unchanged; matching then would feed back window after window (a
    tiny random model showed it: +20 levels a window)."""
    correlation = copy_correlation(copies, kept)
    if correlation < MIN_COPY_CORRELATION:
        return new, correlation
    return match_colour(new, colour_stats(kept), colour_stats(copies)), correlation


RunWindow = Callable[[list, list, Window], np.ndarray]


def pipeline_window(pipe: Any, *, seed: int, reference_image: Any = None, **call_kwargs: Any) -> RunWindow:
    """A :data:`RunWindow` calling ``WanVACEPipeline`` for one window: the window's video and mask, the same
    reference image for every window, ``num_frames`` = the window's length, the noise seeded by ``seed`` plus the
    window's first frame (each window its own noise, the same for the same request); returns uint8 frames.
    ``call_kwargs``: the rest of the call (prompt or prompt_embeds, height, width, steps, guidance, callbacks)."""
    import torch

    def run(video: list, mask: list, window: Window) -> np.ndarray:
        out = pipe(video=video, mask=mask, reference_images=reference_image, num_frames=window.length,
                   generator=torch.Generator().manual_seed(seed + window.start), output_type="np", **call_kwargs)
        frames = np.asarray(out.frames[0])  # (F, H, W, 3) float in [0, 1]
        return np.clip(np.rint(frames * 255), 0, 255).astype(np.uint8)

    return run


def generate_windows(pose_frames: Sequence[np.ndarray], windows: list[Window], run_window: RunWindow, *,
                     correct_colour: bool = True, drift: Optional[DriftMeter] = None) -> Iterator[np.ndarray]:
    """Yields the video's frames window by window, (F_new, H, W, 3) uint8 each, in order.

    ``run_window(video, mask, window)`` makes one window (the runner calls the pipeline with the reference image
    and the prompt) and returns its (window.length, H, W, 3) uint8 frames. Between windows only the frames the
    next window carries are kept. ``drift`` (optional) records each window's colours before/after correction,
    measured on the whole new part of the window."""
    kept: list[np.ndarray] = []  # the frames the next window carries (already in the video, corrected)
    for k, window in enumerate(windows):
        carried = kept[len(kept) - window.carried:] if window.carried else []
        video, mask = window_inputs(pose_frames, carried, window)
        raw = np.asarray(run_window(video, mask, window))
        new = stitch(raw, window)
        fixed, copy_match = new, None
        if correct_colour and window.carried:
            fixed, copy_match = correct_drift(new, raw[:window.carried], np.stack(carried))
        if drift is not None:
            drift.record(new, fixed, copy_match)
        following = windows[k + 1].carried if k + 1 < len(windows) else 0
        # the next window starts inside this one (never before it), so this window's frames are enough
        frames_here = [*carried, *fixed] if len(fixed) < following else list(fixed)
        kept = [f.copy() for f in frames_here[len(frames_here) - following:]] if following else []
        del raw, new, video, mask, frames_here
        yield fixed


__all__ = ["DEFAULT_WINDOW", "DEFAULT_OVERLAP", "TEMPORAL_STEP", "MAX_GAIN", "MAX_SHIFT", "MIN_COPY_CORRELATION",
           "Window", "ColourStats", "DriftMeter", "is_clip_length", "check_window_args", "plan_windows",
           "window_inputs", "stitch", "colour_stats", "match_colour", "copy_correlation", "correct_drift",
           "stats_difference", "pipeline_window", "generate_windows"]
