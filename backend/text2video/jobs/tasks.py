"""The one Celery task, ``text2video.run_job(job_id)``, and the plain function it calls.

:func:`execute_job` is the whole life of one job on a worker: claim it (conditional UPDATE queued -> running, so
a duplicate message is skipped), keep its heartbeat fresh, run ``Engine.generate`` with progress written to the
row and a cheap cancel check, then store the outcome. It never raises for a job's own failure: the job row says
what went wrong, and the worker goes on to the next job.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any, Callable

from celery import Celery

from ..exceptions import Canceled, InvalidInput, OutOfMemory, Text2VideoError
from ..messages import Message
from ..progress import Progress
from ..request import GenerationRequest, request_from_params
from ..settings import Settings
from ..storage import PREVIEW_FILE
from .queue import TASK_NAME
from .status import JobStage
from .store import JobStore
from .tables import Job

log = logging.getLogger(__name__)



class _CancelCheck:
    """``should_cancel`` for the engine: reads ``cancel_requested`` from the store at most every ``interval`` s
    (the engine asks every denoising step), and stops a job past the time limit or no longer owned."""

    def __init__(self, store: JobStore, job_id: str, timeout_s: float, interval: float = 0.5):
        self.store, self.job_id, self.timeout_s, self.interval = store, job_id, timeout_s, interval
        self.started = time.monotonic()
        self._last = 0.0
        self._cached = False
        self.timed_out = False

    def __call__(self) -> bool:
        now = time.monotonic()
        if now - self.started > self.timeout_s:
            self.timed_out = True
            return True
        if not self._cached and now - self._last >= self.interval:
            self._last = now
            try:
                self._cached = self.store.is_cancel_requested(self.job_id)
            except Exception as exc:  # noqa: BLE001 - a busy database must not kill the job; ask again later
                log.warning("cancel check for job %s failed: %s", self.job_id, exc)
        return self._cached


class _ProgressWriter:
    """``on_progress`` for the engine: writes to the row on every stage change, new info or new step count, else
    at most every ``interval`` s (a status poll a few times a second is plenty, and SQLite has one writer at a time).

    The job's ``step``/``total_steps`` are the denoising counters ("step 12 of 50" in the UI): only the generating
    stage writes them. The pose stage's frame counter once showed as "step 4 of 4" in the generating stage."""

    def __init__(self, store: JobStore, job_id: str, worker: str, interval: float = 0.25):
        self.store, self.job_id, self.worker, self.interval = store, job_id, worker, interval
        self._last = 0.0
        self._written: tuple = ()

    def __call__(self, p: Progress) -> None:
        now = time.monotonic()
        info = _progress_info(p.info or {})
        # the final "encoding" updates (no counter) leave "50 of 50" visible
        counted = {"step": p.step, "total_steps": p.total} if p.stage == JobStage.GENERATING and p.total else {}
        news = (p.stage, info, counted.get("total_steps")) != self._written
        last_step = bool(counted) and p.step >= p.total
        if not news and not last_step and now - self._last < self.interval:
            return
        self._written, self._last = (p.stage, info, counted.get("total_steps")), now
        try:
            self.store.update_progress(self.job_id, self.worker, stage=p.stage, progress=p.fraction,
                                       eta_seconds=p.eta_s, **counted, **info)
        except Exception as exc:  # noqa: BLE001 - progress is best effort; the outcome write is not
            log.warning("progress update for job %s failed: %s", self.job_id, exc)


def _progress_info(info: dict[str, Any]) -> dict[str, Any]:
    keep = {}
    for key in ("english_prompt", "language", "pose_summary", "input_kind", "fps", "device", "memory_preset",
                "demo", "warnings"):
        if info.get(key) is not None:
            keep[key] = info[key]
    return keep


class _Heartbeat(threading.Thread):
    """Refreshes the running job's ``heartbeat_at`` while the engine works (a stalled step must not look dead)."""

    def __init__(self, store: JobStore, job_id: str, worker: str, interval: float):
        super().__init__(name=f"heartbeat-{job_id[:8]}", daemon=True)
        self.store, self.job_id, self.worker, self.interval = store, job_id, worker, interval
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.wait(self.interval):
            try:
                self.store.heartbeat(self.job_id, self.worker)
            except Exception as exc:  # noqa: BLE001
                log.warning("heartbeat for job %s failed: %s", self.job_id, exc)

    def stop(self) -> None:
        self.stop_event.set()


def build_request(job: Job, settings: Settings) -> GenerationRequest:
    """The engine's request for ``job``: its stored params, the settings' defaults for any the row lacks."""
    video, image = job.input_path("video"), job.input_path("reference_image")
    if not video:
        raise InvalidInput(f"job {job.id} has no input video", field="video",
                           hint="Submit the job again with a video file or video_url.")
    folder = settings.jobs_dir / job.id
    params = {**(job.params or {}), "prompt": job.prompt, "negative_prompt": job.negative_prompt,
              "model": job.model}
    return request_from_params(folder / video, params, settings, reference_image=folder / image if image else None)


def _is_cuda_oom(exc: BaseException) -> bool:
    return isinstance(exc, OutOfMemory) or type(exc).__name__ == "OutOfMemoryError" or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower())


def _free_gpu_memory() -> None:
    import gc
    gc.collect()
    try:
        import torch
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except Exception:  # noqa: BLE001 - freeing memory is best effort
        pass


def execute_job(job_id: str, *, settings: Settings, store: JobStore, get_engine: Callable[[], Any],
                worker: str, pid: int | None = None) -> str:
    """Run job ``job_id`` on this worker; returns the outcome: skipped | succeeded | failed | canceled."""
    pid = os.getpid() if pid is None else pid
    job = store.claim(job_id, worker, pid, device=None)
    if job is None:
        current = store.get(job_id)
        log.info("job %s not claimed (%s): skipping this message", job_id,
                 "deleted" if current is None else current.status.value)
        return "skipped"
    log.info("job %s: running (attempt %d) on %s", job_id, job.attempts, worker)
    heartbeat = _Heartbeat(store, job_id, worker, settings.heartbeat_interval_s)
    heartbeat.start()
    cancel = _CancelCheck(store, job_id, settings.job_timeout_s)
    try:
        request = build_request(job, settings)
        engine = get_engine()
        out_dir = settings.jobs_dir / job_id
        result = engine.generate(request, out_dir, on_progress=_ProgressWriter(store, job_id, worker),
                                 should_cancel=cancel, preview=out_dir / PREVIEW_FILE)
        params = dict(job.params or {}, seed=result.seed, frames=result.frames, width=result.width,
                      height=result.height)
        store.mark_succeeded(job_id, worker, english_prompt=result.english_prompt, language=result.language,
                             fps=result.fps, input_kind=result.input_kind, pose_summary=result.pose_summary,
                             device=result.device or None, memory_preset=result.memory_preset or None,
                             demo=bool(result.demo), warnings=list(result.warnings or []), params=params)
        log.info("job %s: succeeded", job_id)
        return "succeeded"
    except Canceled:
        if cancel.timed_out:
            store.mark_failed(job_id, "timeout", Message("job.timeout", seconds=f"{settings.job_timeout_s:.0f}"),
                              worker=worker)
            return "failed"
        store.mark_canceled(job_id, worker)
        log.info("job %s: canceled", job_id)
        return "canceled"
    except Exception as exc:  # noqa: BLE001 - every failure is stored on the job; the worker keeps serving
        if _is_cuda_oom(exc):
            _free_gpu_memory()
            detail = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
            store.mark_failed(job_id, OutOfMemory.code, Message("job.out_of_memory", detail=detail), worker=worker)
            log.warning("job %s: out of memory: %s", job_id, detail)
        elif isinstance(exc, Text2VideoError):
            store.mark_failed(job_id, exc.code, exc.text(), worker=worker)
            log.info("job %s: failed: %s", job_id, exc)
        else:
            log.exception("job %s: unexpected error", job_id)
            store.mark_failed(job_id, "internal_error", Message("job.internal_error", error=f"{type(exc).__name__}: "
                              f"{exc}"), worker=worker)
        return "failed"
    finally:
        heartbeat.stop()


def register_tasks(app: Celery, run: Callable[[str], str]) -> None:
    """Register ``text2video.run_job`` on ``app``; ``run(job_id)`` does the work (see ``jobs.worker``)."""

    @app.task(name=TASK_NAME, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
    def run_job(job_id: str) -> str:
        return run(job_id)


__all__ = ["execute_job", "register_tasks", "build_request"]
