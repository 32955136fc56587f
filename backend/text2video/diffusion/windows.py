"""Context windows for long videos: which frames each UNet pass sees, and how overlapping predictions are fused.

A video longer than one window is denoised, at every step, as overlapping windows of ``window_size`` frames
(consecutive windows share at least ``overlap`` frames, spread evenly; the last window is aligned to the end of
the video so no window is short). The noise predictions of the windows are fused per frame with weights that fall off linearly towards a
window's edge inside the frames it shares with a neighbour and are 1 elsewhere; the weights of every frame are
normalised to sum to one, so a frame seen by one window takes that window's prediction unchanged and a frame seen
by two is a cross-fade (no seam). Pure functions, no torch state: cheap to test exhaustively.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from ..exceptions import InvalidInput

if TYPE_CHECKING:  # torch loads on first use: request validation reads the defaults below without it
    import torch

# Defaults, chosen as follows. Window 24: Follow-Your-Pose was trained and is sampled on clips of up to 24-32
# frames (longer clips leave the temporal attention's training range), and 24 frames at 512x512 fit the
# "medium" memory preset of a 12-16 GB GPU. Overlap 8 (a third): every frame in an overlap is cross-faded over
# 8 frames (about 1 s at 30 fps / stride 5 ... 8 fps), enough that motion and colour do not jump at a seam; the
# cost is 24 / (24 - 8) = 1.5x the UNet work of non-overlapping windows (AnimateAnyone uses 4 of 24 = 1.2x,
# but shows seams more easily; with the global frame-0 anchor the appearance is already shared across windows).
DEFAULT_WINDOW = 24
DEFAULT_OVERLAP = 8


def check_window_args(window_size: Optional[int], overlap: int) -> None:
    """InvalidInput naming the field when the window length or the overlap cannot make a schedule."""
    if window_size is None:
        return
    if not isinstance(window_size, int) or isinstance(window_size, bool) or window_size < 2:
        raise InvalidInput(f"window_size must be an integer >= 2, got {window_size!r}", field="window",
                           value=window_size, hint=f"Use e.g. {DEFAULT_WINDOW}, or None for one pass.")
    if not isinstance(overlap, int) or isinstance(overlap, bool) or not 0 <= overlap < window_size:
        raise InvalidInput(f"window_overlap must be >= 0 and smaller than the window ({window_size}), got "
                           f"{overlap!r}", field="window_overlap", value=overlap,
                           hint=f"Use e.g. {window_size // 3}.")


def frame_windows(video_length: int, window_size: Optional[int], overlap: int = DEFAULT_OVERLAP
                  ) -> list[tuple[int, int]]:
    """[(start, end)] half-open windows of ``window_size`` frames covering frames ``0..video_length-1``, the first
    at the start and the last aligned to the end; consecutive windows share at least ``overlap`` frames (evenly
    spread: the shares differ by at most one frame). One window when ``window_size`` is
    None or covers the video: that case runs exactly the non-windowed path."""
    if not isinstance(video_length, int) or video_length <= 0:
        raise InvalidInput(f"video_length must be a positive integer, got {video_length!r}", field="frames",
                           value=video_length, hint="Use e.g. 24.")
    if window_size is None or (isinstance(window_size, int) and window_size >= video_length):
        return [(0, video_length)]
    check_window_args(window_size, overlap)
    # As few windows as the overlap allows, spread evenly from the start to the end: every pair of neighbours
    # shares about the same number of frames (>= overlap), rather than a last window piled onto the one before.
    span = video_length - window_size
    gaps = -(-span // (window_size - overlap))  # ceil
    starts = [(i * span + gaps // 2) // gaps for i in range(gaps + 1)]
    return [(s, s + window_size) for s in starts]


def window_weights(windows: list[tuple[int, int]], video_length: int) -> list[torch.Tensor]:
    """Per-window weights (float32, one per frame of the window) that are strictly positive, fall off linearly
    towards a window's edge where it overlaps a neighbour (1 elsewhere), and sum to exactly one on every frame.

    In an overlap of ``o`` frames the outgoing window weighs ``o/(o+1) ... 1/(o+1)`` and the incoming one the
    complement, so both contribute to every shared frame (never 0) and the fade is symmetric."""
    import torch

    raw = []
    for k, (start, end) in enumerate(windows):
        idx = torch.arange(start, end, dtype=torch.float64)
        weight = torch.ones(end - start, dtype=torch.float64)
        if k > 0:  # fade in over the frames shared with the previous window
            o = windows[k - 1][1] - start
            weight = torch.minimum(weight, (idx - start + 1) / (o + 1))
        if k < len(windows) - 1:  # fade out over the frames shared with the next window
            o = end - windows[k + 1][0]
            weight = torch.minimum(weight, (end - idx) / (o + 1))
        raw.append(weight)
    total = torch.zeros(video_length, dtype=torch.float64)
    for (start, end), weight in zip(windows, raw):
        total[start:end] += weight
    if bool((total <= 0).any()):
        missing = int(torch.nonzero(total <= 0)[0])
        raise ValueError(f"windows {windows} leave frame {missing} of {video_length} uncovered")
    return [(weight / total[start:end]).float() for (start, end), weight in zip(windows, raw)]


def blend_weights(windows: list[tuple[int, int]], video_length: int, device: torch.device,
                  dtype: torch.dtype) -> list[torch.Tensor]:
    """:func:`window_weights` shaped (1, 1, frames, 1, 1) to multiply latents (batch, channels, frames, h, w)."""
    return [w.to(device=device, dtype=dtype).view(1, 1, -1, 1, 1) for w in window_weights(windows, video_length)]


def count_windows(video_length: int, window_size: Optional[int], overlap: int = DEFAULT_OVERLAP) -> int:
    """How many UNet passes one denoising step takes (for progress totals before the pipeline runs)."""
    return len(frame_windows(video_length, window_size, overlap))


__all__ = ["DEFAULT_WINDOW", "DEFAULT_OVERLAP", "check_window_args", "frame_windows", "window_weights",
           "blend_weights", "count_windows"]
