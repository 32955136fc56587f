"""The job store: one row per job, the single source of truth shared by API processes and workers.

Every state change that can race (a worker claiming a job, a cancel arriving while it starts, a reaper recovering a
dead worker's job) is ONE conditional ``UPDATE ... WHERE status = ...``: the database decides who wins, so a job runs
exactly once even when its message is delivered twice. Creating a job under the per-key limit counts and inserts
in one transaction under a per-key lock (:meth:`JobStore.create`). The transaction that finishes a job also makes
its deliveries (webhook, push: :mod:`text2video.jobs.outbox`) due.

The store returns detached :class:`~text2video.jobs.tables.Job` rows (plain snapshots) and knows no URLs: the job
JSON is built from :mod:`text2video.jobs.fields`, its links by the API.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.orm import Session

from ..exceptions import Conflict, NotFound
from ..messages import Message, items_of
from . import outbox
from .database import Database
from .status import JobStage, JobStatus
from .tables import Job, utcnow
from .workers import describe_exit

ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)
FINISHED = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED)


class QueueFull(Exception):
    """:meth:`JobStore.create` refused a job: its key already has ``limit`` jobs queued or running."""

    def __init__(self, limit: int):
        super().__init__(f"{limit} jobs queued or running")
        self.limit = limit


class JobStore(Database):
    """All reads and writes of job rows (their deliveries: :class:`~text2video.jobs.outbox.Outbox`)."""

    # --- API side ---------------------------------------------------------------------------------------------
    def create(self, params: dict, inputs: dict[str, str] | None, prompt: str, negative_prompt: str | None = None,
               api_key_id: str | None = None, callback_url: str | None = None, video_url: str | None = None,
               job_id: str | None = None, push_url: str | None = None, max_active: int = 0,
               model: str | None = None) -> Job:
        """A new queued job of ``model`` with its ``inputs`` ({slot: file name in the job folder});
        ``callback_url`` (webhook) and ``push_url`` (its MP4, if it succeeds) are owed at its end. With
        ``max_active`` > 0 the key's active jobs are counted in the same transaction, under a per-key lock,
        and over the limit nothing is stored (:class:`QueueFull`): parallel submissions cannot all pass one count."""
        now = utcnow()
        job = Job(id=job_id or uuid.uuid4().hex, status=JobStatus.QUEUED, params=dict(params or {}),
                  model=model, inputs=dict(inputs or {}), prompt=prompt, negative_prompt=negative_prompt,
                  api_key_id=api_key_id,
                  video_url=video_url, warnings=[], progress=0.0, step=0,
                  total_steps=int((params or {}).get("steps") or 0), attempts=0, cancel_requested=False,
                  demo=False, created_at=now, updated_at=now,
                  deliveries=outbox.new_deliveries({outbox.WEBHOOK: callback_url, outbox.PUSH: push_url}))
        with self.session() as s:
            if max_active > 0:
                _lock_key(s, api_key_id)
            s.add(job)
            s.flush()  # SQLite: this INSERT takes the database's write lock, held to commit (one creator at a time)
            if max_active > 0 and s.scalar(_active_count(api_key_id)) > max_active:
                raise QueueFull(max_active)  # rolls the INSERT back
        return job

    def get(self, job_id: str) -> Job | None:
        if not isinstance(job_id, str) or len(job_id) > 64:
            return None
        with self.session() as s:
            return s.get(Job, job_id)

    def list(self, page: int = 1, per_page: int = 20, status: JobStatus | str | None = None,
             api_key_id: str | None = None) -> tuple[list[Job], int]:
        """One page of jobs, newest first, and the total count matching the filter."""
        page, per_page = max(1, int(page)), max(1, min(int(per_page), 500))
        query = select(Job)
        count = select(func.count()).select_from(Job)
        if status is not None:
            query = query.where(Job.status == JobStatus(status))
            count = count.where(Job.status == JobStatus(status))
        if api_key_id is not None:
            query = query.where(Job.api_key_id == api_key_id)
            count = count.where(Job.api_key_id == api_key_id)
        with self.session() as s:
            total = s.scalar(count) or 0
            rows = s.scalars(query.order_by(Job.created_at.desc(), Job.id.desc())
                             .offset((page - 1) * per_page).limit(per_page)).all()
        return list(rows), int(total)

    def request_cancel(self, job_id: str) -> Job:
        """queued -> canceled at once; running -> ``cancel_requested`` (the worker stops at its next step).

        Raises NotFound, or Conflict when the job has already finished."""
        now = utcnow()
        with self.session() as s:
            done = s.execute(update(Job).where(Job.id == job_id, Job.status == JobStatus.QUEUED).values(
                status=JobStatus.CANCELED, cancel_requested=True, finished_at=now, updated_at=now, stage=None,
                eta_seconds=None, error_code="canceled", error_message="Canceled by request before it started."
            )).rowcount
            if done:
                outbox.release(s, job_id, JobStatus.CANCELED, now)
            else:
                s.execute(update(Job).where(Job.id == job_id, Job.status == JobStatus.RUNNING).values(
                    cancel_requested=True, updated_at=now))
            job = s.get(Job, job_id)
        if job is None:
            raise NotFound(f"job {job_id!r} does not exist", field="id", value=job_id,
                           hint="List jobs with GET /api/v1/jobs.")
        if job.status != JobStatus.CANCELED and JobStatus(job.status).finished:
            raise Conflict(f"job {job_id} has already {job.status.value}; it cannot be canceled", field="id",
                           value=job_id, hint="Only queued or running jobs can be canceled.")
        return job

    def delete(self, job_id: str) -> bool:
        """Remove the row (files: ``text2video.storage.delete_job_files``). A running job is canceled first by
        the caller; deleting it here anyway makes its worker's final UPDATE a no-op."""
        with self.session() as s:
            job = s.get(Job, job_id)
            if job is None:
                return False
            s.delete(job)
        return True

    def count_active(self, api_key_id: str | None) -> int:
        """Queued + running jobs of one API key (None = the unauthenticated user)."""
        with self.session() as s:
            return int(s.scalar(_active_count(api_key_id)) or 0)

    def queue_depth(self) -> int:
        with self.session() as s:
            return int(s.scalar(select(func.count()).select_from(Job).where(Job.status == JobStatus.QUEUED)) or 0)

    def count_by_status(self) -> dict[str, int]:
        with self.session() as s:
            rows = s.execute(select(Job.status, func.count()).group_by(Job.status)).all()
        counts = {st.value: 0 for st in JobStatus}
        counts.update({JobStatus(st).value: int(n) for st, n in rows})
        return counts

    def queued_ids(self) -> list[str]:
        return [job_id for job_id, _ in self.queued_models()]

    def queued_models(self) -> list[tuple[str, str | None]]:
        """(id, model) of every queued job, oldest first (each goes back to its family's queue)."""
        with self.session() as s:
            return [tuple(row) for row in s.execute(select(Job.id, Job.model).where(Job.status == JobStatus.QUEUED)
                                                     .order_by(Job.created_at))]

    # --- worker side ------------------------------------------------------------------------------------------
    def claim(self, job_id: str, worker: str, pid: int, device: str | None = None) -> Job | None:
        """queued -> running for exactly one caller; None when the job is gone, canceled or already claimed."""
        now = utcnow()
        with self.session() as s:
            claimed = s.execute(update(Job).where(Job.id == job_id, Job.status == JobStatus.QUEUED).values(
                status=JobStatus.RUNNING, worker=worker, worker_pid=pid, attempts=Job.attempts + 1,
                started_at=now, heartbeat_at=now, updated_at=now, progress=0.0, step=0, eta_seconds=None,
                stage=None, device=device, error_code=None, error_message=None)).rowcount
            return s.get(Job, job_id) if claimed else None

    def heartbeat(self, job_id: str, worker: str) -> bool:
        """Refresh a running job's heartbeat; False when the job is no longer ours (canceled, reaped, deleted)."""
        now = utcnow()
        with self.session() as s:
            return bool(s.execute(update(Job).where(Job.id == job_id, Job.status == JobStatus.RUNNING,
                                                    Job.worker == worker)
                                  .values(heartbeat_at=now)).rowcount)

    def update_progress(self, job_id: str, worker: str, *, stage: JobStage | str | None = None,
                        progress: float | None = None, step: int | None = None, total_steps: int | None = None,
                        eta_seconds: float | None = None, **info: Any) -> bool:
        """Progress of a running job (only its current worker may write). ``info``: english_prompt, language,
        pose_summary, input_kind, fps, device, memory_preset, demo, warnings (merged). Its files are not stored:
        they are what its folder holds (``text2video.storage.existing_files``)."""
        now = utcnow()
        values: dict[str, Any] = {"heartbeat_at": now, "updated_at": now, "eta_seconds": eta_seconds}
        if stage is not None:
            values["stage"] = JobStage(stage)
        if progress is not None:
            values["progress"] = max(0.0, min(1.0, float(progress)))
        if step is not None:
            values["step"] = int(step)
        if total_steps is not None:
            values["total_steps"] = int(total_steps)
        values.update(_info_values(info))
        with self.session() as s:
            self._merge_lists(s, job_id, values)
            return bool(s.execute(update(Job).where(Job.id == job_id, Job.status == JobStatus.RUNNING,
                                                    Job.worker == worker).values(**values)).rowcount)

    @staticmethod
    def _merge_lists(s: Session, job_id: str, values: dict) -> None:
        # warnings of earlier attempts stay: the list is merged, not replaced
        if "warnings" in values:
            current = s.scalar(select(Job.warnings).where(Job.id == job_id)) or []
            values["warnings"] = _merge_names(current, values["warnings"])
        if "texts" in values:
            values["texts"] = {**(s.scalar(select(Job.texts).where(Job.id == job_id)) or {}), **values["texts"]}

    def is_cancel_requested(self, job_id: str) -> bool:
        """True when the user canceled, or the job was deleted/reaped from under the worker (stop working)."""
        with self.session() as s:
            row = s.execute(select(Job.cancel_requested, Job.status).where(Job.id == job_id)).first()
        return row is None or bool(row[0]) or row[1] != JobStatus.RUNNING

    def mark_succeeded(self, job_id: str, worker: str, **info: Any) -> bool:
        now = utcnow()
        values = {"status": JobStatus.SUCCEEDED, "progress": 1.0, "eta_seconds": 0.0, "finished_at": now,
                  "updated_at": now, "error_code": None, "error_message": None, "stage": None}
        if self._was_retried(job_id):  # its notes say "...; retrying": say how that ended
            info["warnings"] = [*(info.get("warnings") or []), Message("job.recovered")]
        values.update(_info_values(info))
        return self._finish(job_id, worker, values)

    def _was_retried(self, job_id: str) -> bool:
        with self.session() as s:
            texts = s.scalar(select(Job.texts).where(Job.id == job_id)) or {}
        return any(item.get("code") == "job.retrying" for items in texts.values() for item in items or ())

    def mark_failed(self, job_id: str, code: str, message: str, worker: str | None = None, **info: Any) -> bool:
        """Fail a running job (its worker), or any unfinished job when ``worker`` is None (reaper, admin)."""
        now = utcnow()
        values = {"status": JobStatus.FAILED, "finished_at": now, "updated_at": now, "eta_seconds": None,
                  "error_code": code, "error_message": message}
        values.update(_info_values(info))
        texts = {**values.get("texts", {}), **_coded_texts(message)}
        if texts:
            values["texts"] = texts
        return self._finish(job_id, worker, values, from_status=ACTIVE if worker is None else (JobStatus.RUNNING,))

    def mark_canceled(self, job_id: str, worker: str | None = None, message: str = "Canceled by request.") -> bool:
        now = utcnow()
        values = {"status": JobStatus.CANCELED, "finished_at": now, "updated_at": now, "eta_seconds": None,
                  "error_code": "canceled", "error_message": message, "cancel_requested": True}
        return self._finish(job_id, worker, values, from_status=ACTIVE if worker is None else (JobStatus.RUNNING,))

    def _finish(self, job_id: str, worker: str | None, values: dict, from_status=(JobStatus.RUNNING,)) -> bool:
        with self.session() as s:
            self._merge_lists(s, job_id, values)
        cond = [Job.id == job_id, Job.status.in_(from_status)]
        if worker is not None:
            cond.append(Job.worker == worker)
        with self.session() as s:
            done = bool(s.execute(update(Job).where(*cond).values(**values)).rowcount)
            if done:
                outbox.release(s, job_id, values["status"], values["finished_at"])
            return done

    def recover_lost(self, job_id: str, *, exit_code: int | None, max_retries: int, worker: str | None = None,
                     worker_pid: int | None = None, reason: str | None = None, count_attempt: bool = True
                     ) -> str | None:
        """A running job whose worker died: back to ``queued`` while attempts <= max_retries, else ``failed``
        ("worker lost (exit code N, possibly out of memory)"). A cancel requested meanwhile wins.

        Returns "requeued" (the caller must enqueue it again), "failed", "canceled", or None when the job was not
        running on that worker any more (someone else recovered it first). ``count_attempt=False`` for a planned
        stop (Ctrl+C): the interrupted attempt does not count towards the retry cap.
        """
        now = utcnow()
        cond = [Job.id == job_id, Job.status == JobStatus.RUNNING]
        if worker is not None:
            cond.append(Job.worker == worker)
        if worker_pid is not None:
            cond.append(Job.worker_pid == worker_pid)
        with self.session() as s:
            job = s.execute(select(Job).where(*cond)).scalar_one_or_none()
            if job is None:
                return None
            attempts = job.attempts if count_attempt else max(0, job.attempts - 1)
            reason = reason or describe_exit(exit_code)
            texts = {}
            if job.cancel_requested:
                values = {"status": JobStatus.CANCELED, "finished_at": now, "error_code": "canceled",
                          "error_message": "Canceled by request (its worker stopped).", "eta_seconds": None}
                outcome = "canceled"
            elif attempts <= max_retries:
                retrying = Message("job.retrying", attempt=job.attempts, reason=reason)
                values = {"status": JobStatus.QUEUED, "worker": None, "worker_pid": None, "heartbeat_at": None,
                          "stage": None, "progress": 0.0, "step": 0, "eta_seconds": None, "attempts": attempts,
                          "warnings": list(job.warnings or []) + [retrying]}
                texts = _coded_texts(retrying)
                outcome = "requeued"
            else:
                lost = Message("job.worker_lost" if job.attempts == 1 else "job.worker_lost_many", reason=reason,
                               attempts=job.attempts)
                values = {"status": JobStatus.FAILED, "finished_at": now, "eta_seconds": None,
                          "error_code": "worker_lost", "attempts": attempts, "error_message": lost}
                texts = _coded_texts(lost)
                outcome = "failed"
            if texts:
                values["texts"] = {**(job.texts or {}), **texts}
            values["updated_at"] = now
            done = s.execute(update(Job).where(*cond, Job.attempts == job.attempts).values(**values)).rowcount
            if done and outcome != "requeued":
                outbox.release(s, job_id, values["status"], now)
        return outcome if done else None

    def running_jobs(self, worker: str | None = None, worker_pid: int | None = None) -> list[Job]:
        query = select(Job).where(Job.status == JobStatus.RUNNING)
        if worker is not None:
            query = query.where(Job.worker == worker)
        if worker_pid is not None:
            query = query.where(Job.worker_pid == worker_pid)
        with self.session() as s:
            return list(s.scalars(query))

    def claimed_by(self, worker: str, worker_pid: int) -> bool:
        """Whether the process ``worker_pid`` of ``worker`` claimed any job (running or finished) in its life."""
        query = select(Job.id).where(Job.worker == worker, Job.worker_pid == worker_pid).limit(1)
        with self.session() as s:
            return s.execute(query).first() is not None

    def stale_running(self, older_than_s: float) -> list[Job]:
        """Running jobs whose heartbeat is older than ``older_than_s`` (their worker is presumably dead)."""
        limit = utcnow() - timedelta(seconds=older_than_s)
        query = select(Job).where(Job.status == JobStatus.RUNNING,
                                  or_(Job.heartbeat_at.is_(None), Job.heartbeat_at < limit))
        with self.session() as s:
            return list(s.scalars(query))

    def expired(self, older_than_days: float, limit: int = 500) -> list[Job]:
        """Finished jobs whose ``finished_at`` is older than the retention period (oldest first)."""
        before = utcnow() - timedelta(days=older_than_days)
        query = (select(Job).where(Job.status.in_(FINISHED), Job.finished_at < before, outbox.owes_nothing())
                 .order_by(Job.finished_at).limit(limit))
        with self.session() as s:
            return list(s.scalars(query))

    def set_fields(self, job_id: str, **values: Any) -> bool:
        """Low-level update for maintenance and tests (e.g. back-dating ``finished_at``)."""
        with self.session() as s:
            return bool(s.execute(update(Job).where(Job.id == job_id).values(**values)).rowcount)


def _active_count(api_key_id: str | None):
    """SELECT count(*) of the queued + running jobs of one API key (None = the unauthenticated user)."""
    query = select(func.count()).select_from(Job).where(Job.status.in_(ACTIVE))
    return query.where(Job.api_key_id.is_(None) if api_key_id is None else Job.api_key_id == api_key_id)


def _lock_key(s: Session, api_key_id: str | None) -> None:
    """Serialize job creation per API key until the transaction ends. PostgreSQL (READ COMMITTED) would let two
    transactions count the same rows: a transaction-scoped advisory lock on the key orders them. SQLite needs none:
    it has one writer at a time, and the INSERT that follows takes that lock."""
    if s.get_bind().dialect.name == "postgresql":
        digest = hashlib.sha256(f"text2video-queue:{api_key_id or ''}".encode()).digest()
        s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": int.from_bytes(digest[:8], "big", signed=True)})


_INFO_FIELDS = {"english_prompt", "language", "pose_summary", "input_kind", "fps", "device", "memory_preset", "demo",
                "warnings", "params"}


def _info_values(info: dict[str, Any]) -> dict[str, Any]:
    unknown = set(info) - _INFO_FIELDS
    if unknown:
        raise TypeError(f"unknown job fields {sorted(unknown)}; allowed: {sorted(_INFO_FIELDS)}")
    values = {k: v for k, v in info.items() if v is not None}
    if "warnings" in values:
        values["warnings"] = list(values["warnings"])
    texts = _coded_texts(values.get("pose_summary"), *values.get("warnings", ()))
    if texts:
        values["texts"] = texts
    return values


def _coded_texts(*texts: Any) -> dict[str, list]:
    """{English text: its code + params} for the texts that are :class:`Message` (the ``texts`` column)."""
    return {text: items_of(text) for text in texts if items_of(text)}


def _merge_names(current: list, new: list) -> list:
    return list(dict.fromkeys([*(current or []), *new]))


__all__ = ["JobStore", "QueueFull", "ACTIVE", "FINISHED"]
