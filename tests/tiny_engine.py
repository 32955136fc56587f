"""A stand-in engine for queue/worker tests: the real worker, broker and store around a generation that costs
nothing, so 50 jobs or a kill mid-job take seconds. (End-to-end runs with the real Engine on demo weights live in
test_worker_engine.py.)

It follows the Engine contract: progress per stage and step, ``should_cancel`` polled every step, files written
atomically. The prompt steers it (tests only): ``slow`` = 0.2 s per step, ``oom`` = a CUDA out-of-memory error (``realoom``: a real one, GPU only),
``noperson`` = a NoPersonFound error, ``slowencode`` = result.gif written by the real GIF writer at 0.3 s per frame. Every generate() appends ``<pid> <job id>`` to ``<data_dir>/runs.log``, and
every engine creation appends the pid to ``<data_dir>/engine-loads.log``: independent evidence of what ran where.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from text2video.engine import GenerationResult, Progress
from text2video.exceptions import Canceled, NoPersonFound
from text2video.jobs.status import JobStage
from text2video.storage import atomic_write_bytes, atomic_write_text
from text2video.video import write_gif


def _sleep_then(seconds: float, value):
    time.sleep(seconds)
    return value


def _append(path: Path, line: str) -> None:
    with open(path, "a") as fh:  # O_APPEND: one short line per write, safe across processes
        fh.write(line + "\n")


class TinyEngine:
    def __init__(self, settings):
        self.settings = settings
        _append(Path(settings.data_dir) / "engine-loads.log", str(os.getpid()))

    def generate(self, request, out_dir, *, on_progress=None, should_cancel=None, preview=None):
        out_dir = Path(out_dir)
        progress = on_progress or (lambda p: None)
        should_cancel = should_cancel or (lambda: False)
        _append(Path(self.settings.data_dir) / "runs.log", f"{os.getpid()} {out_dir.name}")
        prompt = request.prompt.lower()
        progress(Progress(JobStage.TRANSLATING, fraction=0.01, info={"english_prompt": request.prompt,
                                                                      "language": "en"}))
        if "noperson" in prompt:
            raise NoPersonFound("no person found in 9 of 10 frames", field="video",
                                hint="Use a video where one person is fully visible.")
        progress(Progress(JobStage.EXTRACTING_POSE, fraction=0.05, info={"pose_summary": "100 % of keypoints"}))
        atomic_write_bytes(out_dir / "skeleton.mp4", b"skeleton")
        progress(Progress(JobStage.EXTRACTING_POSE, fraction=0.1, info={"files": ["skeleton.mp4"]}))
        if "realoom" in prompt:  # GPU machines: a real CUDA allocation failure (32 TiB)
            import torch
            torch.empty(1 << 45, dtype=torch.uint8, device="cuda")
        if "oom" in prompt:
            import torch
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        delay = 0.2 if "slow" in prompt else 0.0
        for step in range(1, request.steps + 1):
            if should_cancel():
                raise Canceled("canceled")
            time.sleep(delay)
            progress(Progress(JobStage.GENERATING, step=step, total=request.steps,
                              fraction=0.1 + 0.8 * step / request.steps,
                              eta_s=delay * (request.steps - step)))
        progress(Progress(JobStage.ENCODING, fraction=0.95))
        files = {}
        if "slowencode" in prompt:  # a window in which to kill the worker while its encoder's temporary file exists
            files["result.gif"] = write_gif((_sleep_then(0.3, np.zeros((16, 16, 3), np.uint8)) for _ in range(10)),
                                            out_dir / "result.gif", 6.0)
        for name in ("result.mp4", "result.gif", "side_by_side.mp4"):
            files.setdefault(name, atomic_write_bytes(out_dir / name, name.encode()))
        files["keypoints.json"] = atomic_write_text(out_dir / "keypoints.json", "{}")
        files["skeleton.mp4"] = out_dir / "skeleton.mp4"
        return GenerationResult(files=files, english_prompt=request.prompt, language="en",
                                seed=request.seed if request.seed is not None else 1234, frames=2, fps=6.0,
                                width=request.width, height=request.height, input_kind="video",
                                pose_summary="100 % of keypoints", device="cpu", dtype="fp32",
                                memory_preset="high", demo=True, warnings=["tiny test engine"])


def create_engine(settings):
    return TinyEngine(settings)
