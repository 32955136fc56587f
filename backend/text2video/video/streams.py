"""Stream frames of a (long) generated video straight into the output writers, as they come.

A runner yields the decoded video a chunk of frames at a time; each chunk goes, as uint8 RGB, to ``result.mp4``,
``result.gif`` (every k-th frame when the video is long) and ``side_by_side.mp4`` at once, and is dropped. So the
decoded video never exists in RAM as a whole: memory is one chunk plus what the encoders buffer.

The writers of :mod:`text2video.video` consume iterables; :class:`FrameFeed` runs one of them in a thread and hands
it frames through a small bounded queue, so several files are written from one pass. Files appear under their
final names only when complete (the writers' atomic rename); on any error or cancel every writer aborts and
removes its temporary file.
"""

from __future__ import annotations

import math
import queue
import threading
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional

import numpy as np

_END = object()
_ABORT = object()


class _Aborted(Exception):
    """Raised inside a writer's frame iterator to make it drop its temporary file."""


class FrameFeed:
    """Runs ``write(frames_iterable)`` in a thread; :meth:`put` frames, then :meth:`close` (or :meth:`abort`).

    An error in the writer thread is re-raised by the next :meth:`put` or by :meth:`close`."""

    def __init__(self, name: str, write: Callable[[Iterable[np.ndarray]], Any], maxsize: int = 16):
        self.name = name
        self._queue: "queue.Queue[Any]" = queue.Queue(maxsize=maxsize)
        self._error: Optional[BaseException] = None
        self._result: Any = None
        self._thread = threading.Thread(target=self._run, args=(write,), name=f"write-{name}", daemon=True)
        self._thread.start()

    def _frames(self) -> Iterator[np.ndarray]:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if item is _ABORT:
                raise _Aborted(self.name)
            yield item

    def _run(self, write: Callable[[Iterable[np.ndarray]], Any]) -> None:
        try:
            self._result = write(self._frames())
        except BaseException as exc:  # handed to the producer thread
            self._error = exc
            # Drain so a producer blocked on a full queue wakes up and sees the error.
            while True:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break

    def _raise_if_failed(self) -> None:
        if self._error is not None and not isinstance(self._error, _Aborted):
            raise self._error

    def put(self, frame: np.ndarray) -> None:
        while True:
            self._raise_if_failed()
            if not self._thread.is_alive():
                raise RuntimeError(f"the {self.name} writer stopped early")
            try:
                self._queue.put(frame, timeout=0.5)
                return
            except queue.Full:
                continue

    def close(self) -> Any:
        """Finish the file (the writer renames it into place); returns what the writer returned."""
        self._put_control(_END)
        self._thread.join()
        self._raise_if_failed()
        return self._result

    def abort(self) -> None:
        """Stop the writer; it removes its temporary file. Never raises."""
        self._put_control(_ABORT)
        self._thread.join(timeout=30)

    def _put_control(self, item: Any) -> None:
        while self._thread.is_alive():
            try:
                self._queue.put(item, timeout=0.5)
                return
            except queue.Full:
                continue


def gif_stride(frames: int, max_frames: int) -> int:
    """Keep every k-th frame in the GIF preview so it has at most ``max_frames`` frames (k >= 1)."""
    if max_frames <= 0 or frames <= max_frames:
        return 1
    return math.ceil(frames / max_frames)


def write_streams(chunks: Iterable[np.ndarray], skeleton: np.ndarray, out_dir: Path, fps: float, *,
                  total: int, gif_max_frames: int = 96, metadata: Optional[dict] = None,
                  on_chunk: Optional[Callable[[int, int], None]] = None) -> dict[str, Path]:
    """Stream ``chunks`` ((F_chunk, H, W, 3) uint8, ``total`` frames in all) into ``result.mp4``, ``result.gif``
    and ``side_by_side.mp4`` (skeleton on the left) in ``out_dir``.

    ``on_chunk(done_frames, total_frames)`` is called after every chunk (progress, and the place to raise
    :class:`~text2video.exceptions.Canceled`). Returns ``{name: path}`` of the finished files; on any error no
    file of the three is left behind."""
    from . import write_gif, write_mp4, write_side_by_side

    if len(skeleton) < total:
        raise ValueError(f"{len(skeleton)} skeleton frames for {total} generated frames")
    meta = dict(metadata or {})
    step = gif_stride(total, gif_max_frames)
    out_dir = Path(out_dir)
    paths = {"result.mp4": out_dir / "result.mp4", "result.gif": out_dir / "result.gif",
             "side_by_side.mp4": out_dir / "side_by_side.mp4"}
    feeds: list[FrameFeed] = []
    side_left: "queue.Queue[np.ndarray]" = queue.Queue()
    try:
        feeds.append(FrameFeed("result.mp4", lambda it: write_mp4(it, paths["result.mp4"], fps, metadata=meta)))
        feeds.append(FrameFeed("result.gif", lambda it: write_gif(it, paths["result.gif"], fps / step)))

        def skeleton_frames() -> Iterator[np.ndarray]:
            # Left panel in step with the right: the frames of the chunks handed out so far.
            while True:
                frame = side_left.get()
                if frame is None:
                    return
                yield frame

        feeds.append(FrameFeed("side_by_side.mp4", lambda it: write_side_by_side(
            skeleton_frames(), it, paths["side_by_side.mp4"], fps, metadata=meta)))
        mp4, gif, side = feeds
        index = 0
        for chunk in chunks:
            for frame in chunk:
                if index >= total:
                    raise ValueError(f"the model gave more than the {total} frames asked for")
                mp4.put(frame)
                if index % step == 0:
                    gif.put(frame)
                side_left.put(skeleton[index])
                side.put(frame)
                index += 1
            del chunk
            if on_chunk is not None:
                on_chunk(index, total)
        if index != total:
            raise ValueError(f"the model gave {index} frames, not the {total} asked for")
        side_left.put(None)
        for feed in feeds:
            feed.close()
    except BaseException:
        side_left.put(None)  # a side-by-side writer waiting for its left frame wakes up and sees the abort
        for feed in feeds:
            feed.abort()
        for path in paths.values():  # a writer that had already finished renamed its file: remove it too
            path.unlink(missing_ok=True)
        raise
    return paths


__all__ = ["FrameFeed", "write_streams", "gif_stride"]
