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
The kept frames are themselves corrected, so each window is chained back to the first window's colours.
:class:`DriftMeter` reports the figure (mean/std of each window against the first, before and after).

Memory: :func:`generate_windows` is a generator; between windows it keeps only the carried frames, so peak memory
does not grow with the number of windows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator, Optional, Sequence

import numpy as np

from ...exceptions import InvalidInput

DEFAULT_WINDOW = 81
DEFAULT_OVERLAP = 17
TEMPORAL_STEP = 4  # the VAE's temporal compression: a clip has 4k+1 frames
_MIN_STD = 1.0  # a flat channel (std below 1/255 of the range) is shifted only, never stretched


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
            closest = _clip_at_least(total_frames) if total_frames < 5 else total_frames - (total_frames - 1) % 4
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


def match_colour(frames: np.ndarray, reference: ColourStats, source: Optional[ColourStats] = None) -> np.ndarray:
    """``frames`` (uint8 RGB) with each channel moved from ``source`` statistics (default: the frames' own) to
    ``reference``'s: (x - mean_s) / std_s * std_r + mean_r, rounded and clipped to 0..255."""
    source = source or colour_stats(frames)
    mean_s, std_s = np.array(source.mean), np.maximum(np.array(source.std), _MIN_STD)
    mean_r, std_r = np.array(reference.mean), np.array(reference.std)
    scale = np.where(np.array(source.std) < _MIN_STD, 1.0, std_r / std_s)
    out = (np.asarray(frames, dtype=np.float32) - mean_s.astype(np.float32)) * scale.astype(np.float32)
    out += mean_r.astype(np.float32)
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

    def record(self, raw: np.ndarray, corrected: np.ndarray) -> None:
        self.before.append(colour_stats(raw))
        self.after.append(colour_stats(corrected))

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
                f"{worst['std_after']:.2f}")


RunWindow = Callable[[list, list, Window], np.ndarray]


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
        fixed = new
        if correct_colour and window.carried:
            # the window's copies of the kept frames vs the kept frames themselves: same content, so any
            # difference is drift (see the module's docstring)
            fixed = match_colour(new, colour_stats(np.stack(carried)), colour_stats(raw[:window.carried]))
        if drift is not None:
            drift.record(new, fixed)
        following = windows[k + 1].carried if k + 1 < len(windows) else 0
        # the next window starts inside this one (never before it), so this window's frames are enough
        frames_here = [*carried, *fixed] if len(fixed) < following else list(fixed)
        kept = [f.copy() for f in frames_here[len(frames_here) - following:]] if following else []
        del raw, new, video, mask, frames_here
        yield fixed


__all__ = ["DEFAULT_WINDOW", "DEFAULT_OVERLAP", "TEMPORAL_STEP", "Window", "ColourStats", "DriftMeter",
           "is_clip_length", "check_window_args", "plan_windows", "window_inputs", "stitch", "colour_stats",
           "match_colour", "stats_difference", "generate_windows"]
