"""The job store: one row per job, the single source of truth shared by API processes and workers.

SQLite file in the data folder by default (WAL journal + busy timeout, so the API and the workers can write at the
same time); any SQLAlchemy URL (``postgresql+psycopg://...``) for several machines. Every state change that can
race (a worker claiming a job, a cancel arriving while it starts, a reaper recovering a dead worker's job) is ONE
conditional ``UPDATE ... WHERE status = ...``: the database decides who wins, so a job runs exactly once even when
its message is delivered twice.

Webhooks use the same table as an outbox: a job that finishes with a ``callback_url`` gets ``webhook_status =
"pending"`` in the same UPDATE, and the delivery thread (``text2video.webhooks``) picks it up from there, so no
notification is lost when a process restarts.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

from sqlalchemy import (JSON, Boolean, DateTime, Float, Integer, String, Text, TypeDecorator, create_engine, event,
                        func, or_, select, update)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.engine import Engine as SAEngine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.pool import NullPool

from ..exceptions import Conflict, NotFound, ServiceUnavailable
from .status import JobStage, JobStatus

# Bump when a column changes; create_tables() refuses to run against a database with another version instead of
# failing later with an obscure SQL error.
SCHEMA_VERSION = 1

ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)
FINISHED = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def isoformat(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the zone, PostgreSQL keeps it)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to the job store; use text2video.jobs.store.utcnow()")
        return value.astimezone(timezone.utc).replace(tzinfo=None) if value is not None and dialect.name == "sqlite" \
            else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _enum(cls):
    # Stored as plain strings (no PostgreSQL ENUM type to migrate); the values are the shared vocabulary.
    return SAEnum(cls, native_enum=False, values_callable=lambda e: [m.value for m in e], length=24,
                  validate_strings=True)


class Base(DeclarativeBase):
    pass


class Job(Base):
    __tablename__ = "t2v_jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: uuid.uuid4().hex)
    status: Mapped[JobStatus] = mapped_column(_enum(JobStatus), default=JobStatus.QUEUED, index=True)
    stage: Mapped[JobStage | None] = mapped_column(_enum(JobStage), nullable=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    step: Mapped[int] = mapped_column(Integer, default=0)
    total_steps: Mapped[int] = mapped_column(Integer, default=0)
    eta_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)

    prompt: Mapped[str] = mapped_column(Text)
    negative_prompt: Mapped[str | None] = mapped_column(Text, nullable=True)
    english_prompt: Mapped[str | None] = mapped_column(Text, nullable=True)
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    input_file: Mapped[str | None] = mapped_column(String(255), nullable=True)  # relative to the job folder
    video_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    input_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    pose_summary: Mapped[str | None] = mapped_column(Text, nullable=True)
    files: Mapped[list] = mapped_column(JSON, default=list)  # produced file names, in the job folder
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)

    api_key_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    callback_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # claims by a worker (retries after a lost worker)
    worker: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    worker_pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    memory_preset: Mapped[str | None] = mapped_column(String(16), nullable=True)
    device: Mapped[str | None] = mapped_column(String(32), nullable=True)
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    warnings: Mapped[list] = mapped_column(JSON, default=list)
    fps: Mapped[float | None] = mapped_column(Float, nullable=True)

    # webhook outbox (see module docstring): None | pending | delivering | delivered | failed
    webhook_status: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    webhook_attempts: Mapped[int] = mapped_column(Integer, default=0)
    webhook_next_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    webhook_error: Mapped[str | None] = mapped_column(Text, nullable=True)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.status.value} attempts={self.attempts}>"

    @property
    def finished(self) -> bool:
        return JobStatus(self.status).finished

    @property
    def error(self) -> dict[str, str] | None:
        if not self.error_code:
            return None
        return {"code": self.error_code, "message": self.error_message or ""}

    def to_dict(self, url_prefix: str = "/api/v1") -> dict[str, Any]:
        """The job JSON of the service contract. URLs are relative to the server (the API may rewrite them)."""
        self_url = f"{url_prefix}/jobs/{self.id}"
        status = JobStatus(self.status)
        links = {"self": self_url}
        if not status.finished:
            links["cancel"] = f"{self_url}/cancel"
        return {
            "id": self.id,
            "status": status.value,
            "stage": JobStage(self.stage).value if self.stage else None,
            "progress": round(float(self.progress or 0.0), 4),
            "step": self.step or 0,
            "total_steps": self.total_steps or 0,
            "eta_seconds": None if self.eta_seconds is None else round(float(self.eta_seconds), 1),
            "prompt": self.prompt,
            "english_prompt": self.english_prompt,
            "language": self.language,
            "negative_prompt": self.negative_prompt,
            "params": dict(self.params or {}),
            "input_kind": self.input_kind,
            "pose_summary": self.pose_summary,
            "fps": self.fps,
            "device": self.device,
            "memory_preset": self.memory_preset,
            "demo": bool(self.demo),
            "warnings": list(self.warnings or []),
            "created_at": isoformat(self.created_at),
            "started_at": isoformat(self.started_at),
            "finished_at": isoformat(self.finished_at),
            "error": self.error,
            "files": {name: f"{self_url}/files/{name}" for name in (self.files or [])},
            "links": links,
            "cancel_requested": bool(self.cancel_requested),
            "attempts": self.attempts or 0,
        }


class WorkerRecord(Base):
    """One row per worker name, refreshed by its heartbeat: `/health` reports the live ones without a broker
    round trip (the SQLite broker has no broadcast channel for `celery inspect ping`)."""

    __tablename__ = "t2v_workers"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255), default="")
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    device: Mapped[str | None] = mapped_column(String(32), nullable=True)
    models: Mapped[str | None] = mapped_column(Text, nullable=True)
    current_job: Mapped[str | None] = mapped_column(String(32), nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    stopped: Mapped[bool] = mapped_column(Boolean, default=False)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "hostname": self.hostname, "pid": self.pid, "device": self.device,
                "current_job": self.current_job, "started_at": isoformat(self.started_at),
                "heartbeat_at": isoformat(self.heartbeat_at)}


class SchemaInfo(Base):
    __tablename__ = "t2v_schema"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)


def make_engine(database_url: str) -> SAEngine:
    """SQLAlchemy engine; for SQLite: WAL + 30 s busy timeout on every connection."""
    if database_url.startswith("sqlite"):
        # NullPool: a fresh connection per session is cheap for SQLite and avoids sharing one across fork().
        engine = create_engine(database_url, poolclass=NullPool, connect_args={"timeout": 30,
                                                                               "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")  # readers never block the writer (API polls while worker writes)
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; a crash loses at most the last commit
            cur.close()

        return engine
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://"):]  # psycopg 3, not psycopg2
    return create_engine(database_url, pool_pre_ping=True, pool_size=10, max_overflow=20)


class JobStore:
    """All reads and writes of job rows. Thread-safe; returns detached :class:`Job` objects (plain snapshots)."""

    def __init__(self, database_url: str):
        self.database_url = database_url
        self.engine = make_engine(database_url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    # --- plumbing ---------------------------------------------------------------------------------------------
    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as s:
            with s.begin():
                yield s

    def create_tables(self) -> None:
        """Create missing tables and check the schema version (safe to call from every process at start)."""
        if self.database_url.startswith("sqlite:///"):
            from pathlib import Path
            Path(self.database_url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        try:
            Base.metadata.create_all(self.engine)
        except Exception as exc:  # noqa: BLE001 - a concurrent creator may have won; re-check below
            if not self._tables_exist():
                raise ServiceUnavailable(f"cannot create the job tables in {self.engine.url!r}: {exc}",
                                         hint="Check TEXT2VIDEO_DATABASE_URL and that the database is reachable.")
        with self.session() as s:
            info = s.get(SchemaInfo, 1)
            if info is None:
                s.add(SchemaInfo(id=1, version=SCHEMA_VERSION))
            elif info.version != SCHEMA_VERSION:
                raise ServiceUnavailable(
                    f"job database {self.engine.url!r} has schema version {info.version}, this code expects "
                    f"{SCHEMA_VERSION}",
                    hint="Point TEXT2VIDEO_DATABASE_URL at a new database, or delete the old one (jobs are lost).")

    def _tables_exist(self) -> bool:
        from sqlalchemy import inspect
        return inspect(self.engine).has_table(Job.__tablename__)

    def dispose(self) -> None:
        self.engine.dispose()

    # --- API side ---------------------------------------------------------------------------------------------
    def create(self, params: dict, input_file: str | None, prompt: str, negative_prompt: str | None = None,
               api_key_id: str | None = None, callback_url: str | None = None, video_url: str | None = None,
               job_id: str | None = None) -> Job:
        now = utcnow()
        job = Job(id=job_id or uuid.uuid4().hex, status=JobStatus.QUEUED, params=dict(params or {}),
                  input_file=input_file, prompt=prompt, negative_prompt=negative_prompt, api_key_id=api_key_id,
                  callback_url=callback_url, video_url=video_url, files=[], warnings=[], progress=0.0, step=0,
                  total_steps=int((params or {}).get("steps") or 0), attempts=0, cancel_requested=False,
                  demo=False, created_at=now, updated_at=now)
        with self.session() as s:
            s.add(job)
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
                eta_seconds=None, error_code="canceled", error_message="Canceled by request before it started.",
                webhook_status=_webhook_pending_expr(), webhook_next_at=now)).rowcount
            if not done:
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
        query = select(func.count()).select_from(Job).where(Job.status.in_(ACTIVE))
        query = query.where(Job.api_key_id.is_(None) if api_key_id is None else Job.api_key_id == api_key_id)
        with self.session() as s:
            return int(s.scalar(query) or 0)

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
        with self.session() as s:
            return list(s.scalars(select(Job.id).where(Job.status == JobStatus.QUEUED).order_by(Job.created_at)))

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
        pose_summary, input_kind, fps, device, memory_preset, demo, warnings, files (names, merged)."""
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
        # files appear one by one, and warnings of earlier attempts stay: both lists are merged, not replaced
        for name, column in (("files", Job.files), ("warnings", Job.warnings)):
            if name in values:
                current = s.scalar(select(column).where(Job.id == job_id)) or []
                values[name] = _merge_names(current, values[name])

    def is_cancel_requested(self, job_id: str) -> bool:
        """True when the user canceled, or the job was deleted/reaped from under the worker (stop working)."""
        with self.session() as s:
            row = s.execute(select(Job.cancel_requested, Job.status).where(Job.id == job_id)).first()
        return row is None or bool(row[0]) or row[1] != JobStatus.RUNNING

    def mark_succeeded(self, job_id: str, worker: str, **info: Any) -> bool:
        now = utcnow()
        values = {"status": JobStatus.SUCCEEDED, "progress": 1.0, "eta_seconds": 0.0, "finished_at": now,
                  "updated_at": now, "error_code": None, "error_message": None, "stage": None}
        values.update(_info_values(info))
        return self._finish(job_id, worker, values)

    def mark_failed(self, job_id: str, code: str, message: str, worker: str | None = None, **info: Any) -> bool:
        """Fail a running job (its worker), or any unfinished job when ``worker`` is None (reaper, admin)."""
        now = utcnow()
        values = {"status": JobStatus.FAILED, "finished_at": now, "updated_at": now, "eta_seconds": None,
                  "error_code": code, "error_message": message}
        values.update(_info_values(info))
        return self._finish(job_id, worker, values, from_status=ACTIVE if worker is None else (JobStatus.RUNNING,))

    def mark_canceled(self, job_id: str, worker: str | None = None, message: str = "Canceled by request.") -> bool:
        now = utcnow()
        values = {"status": JobStatus.CANCELED, "finished_at": now, "updated_at": now, "eta_seconds": None,
                  "error_code": "canceled", "error_message": message, "cancel_requested": True}
        return self._finish(job_id, worker, values, from_status=ACTIVE if worker is None else (JobStatus.RUNNING,))

    def _finish(self, job_id: str, worker: str | None, values: dict, from_status=(JobStatus.RUNNING,)) -> bool:
        values = dict(values, webhook_status=_webhook_pending_expr(), webhook_next_at=values["finished_at"])
        with self.session() as s:
            self._merge_lists(s, job_id, values)
        cond = [Job.id == job_id, Job.status.in_(from_status)]
        if worker is not None:
            cond.append(Job.worker == worker)
        with self.session() as s:
            return bool(s.execute(update(Job).where(*cond).values(**values)).rowcount)

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
            if job.cancel_requested:
                values = {"status": JobStatus.CANCELED, "finished_at": now, "error_code": "canceled",
                          "error_message": "Canceled by request (its worker stopped).", "eta_seconds": None,
                          "webhook_status": _webhook_pending_expr(), "webhook_next_at": now}
                outcome = "canceled"
            elif attempts <= max_retries:
                values = {"status": JobStatus.QUEUED, "worker": None, "worker_pid": None, "heartbeat_at": None,
                          "stage": None, "progress": 0.0, "step": 0, "eta_seconds": None, "attempts": attempts,
                          "warnings": list(job.warnings or []) + [
                              f"attempt {job.attempts}: {reason or describe_exit(exit_code)}; retrying"]}
                outcome = "requeued"
            else:
                values = {"status": JobStatus.FAILED, "finished_at": now, "eta_seconds": None,
                          "error_code": "worker_lost", "attempts": attempts,
                          "error_message": f"{reason or describe_exit(exit_code)} after {job.attempts} attempt"
                                           f"{'s' if job.attempts != 1 else ''}. If this repeats, use a smaller "
                                           f"memory preset (--memory low), fewer frames or a smaller size.",
                          "webhook_status": _webhook_pending_expr(), "webhook_next_at": now}
                outcome = "failed"
            values["updated_at"] = now
            done = s.execute(update(Job).where(*cond, Job.attempts == job.attempts).values(**values)).rowcount
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
        query = (select(Job).where(Job.status.in_(FINISHED), Job.finished_at < before,
                                   or_(Job.webhook_status.is_(None), Job.webhook_status.in_(("delivered", "failed"))))
                 .order_by(Job.finished_at).limit(limit))
        with self.session() as s:
            return list(s.scalars(query))

    def set_fields(self, job_id: str, **values: Any) -> bool:
        """Low-level update for maintenance and tests (e.g. back-dating ``finished_at``)."""
        with self.session() as s:
            return bool(s.execute(update(Job).where(Job.id == job_id).values(**values)).rowcount)

    # --- webhook outbox ---------------------------------------------------------------------------------------
    def due_webhooks(self, limit: int = 20) -> list[Job]:
        now = utcnow()
        query = (select(Job).where(Job.webhook_status.in_(("pending", "delivering")), Job.webhook_next_at <= now)
                 .order_by(Job.webhook_next_at).limit(limit))
        with self.session() as s:
            return list(s.scalars(query))

    def lease_webhook(self, job_id: str, attempts: int, lease_s: float) -> bool:
        """Take one delivery attempt (several API processes may run dispatchers): conditional on the attempt count
        seen, and pushes ``webhook_next_at`` out by ``lease_s`` so a crashed dispatcher's attempt is retried later."""
        now = utcnow()
        with self.session() as s:
            return bool(s.execute(update(Job).where(Job.id == job_id, Job.webhook_attempts == attempts,
                                                    Job.webhook_status.in_(("pending", "delivering")))
                                  .values(webhook_status="delivering", webhook_attempts=attempts + 1,
                                          webhook_next_at=now + timedelta(seconds=lease_s))).rowcount)

    def webhook_result(self, job_id: str, status: str, *, next_at: datetime | None = None,
                       error: str | None = None) -> None:
        with self.session() as s:
            s.execute(update(Job).where(Job.id == job_id).values(webhook_status=status, webhook_next_at=next_at,
                                                                 webhook_error=error))

    # --- workers ----------------------------------------------------------------------------------------------
    def worker_heartbeat(self, name: str, *, hostname: str = "", pid: int | None = None, device: str | None = None,
                         models: str | None = None, current_job: str | None = None, stopped: bool = False) -> None:
        now = utcnow()
        with self.session() as s:
            rec = s.get(WorkerRecord, name)
            if rec is None:
                s.add(WorkerRecord(name=name, hostname=hostname, pid=pid, device=device, models=models,
                                   current_job=current_job, started_at=now, heartbeat_at=now, stopped=stopped))
            else:
                rec.hostname, rec.pid, rec.current_job, rec.heartbeat_at, rec.stopped = (hostname, pid, current_job,
                                                                                          now, stopped)
                rec.device = device or rec.device
                rec.models = models or rec.models

    def live_workers(self, within_s: float = 30.0) -> list[WorkerRecord]:
        limit = utcnow() - timedelta(seconds=within_s)
        with self.session() as s:
            return list(s.scalars(select(WorkerRecord).where(WorkerRecord.heartbeat_at >= limit,
                                                             WorkerRecord.stopped.is_(False))
                                  .order_by(WorkerRecord.name)))


def describe_exit(exit_code: int | None) -> str:
    """"worker lost (exit code -9 = SIGKILL, possibly out of memory)" - the message users see."""
    if exit_code is None:
        return "worker lost (exit code unknown, possibly out of memory or the machine stopped)"
    text = f"worker lost (exit code {exit_code}"
    if exit_code < 0:
        import signal
        try:
            text += f" = {signal.Signals(-exit_code).name}"
        except ValueError:
            pass
    return text + ", possibly out of memory)"


def _webhook_pending_expr():
    # In the same UPDATE that finishes the job: a job with a callback URL enters the webhook outbox.
    from sqlalchemy import case
    return case((Job.callback_url.is_not(None), "pending"), else_=None)


_INFO_FIELDS = {"english_prompt", "language", "pose_summary", "input_kind", "fps", "device", "memory_preset", "demo",
                "warnings", "files", "params"}


def _info_values(info: dict[str, Any]) -> dict[str, Any]:
    unknown = set(info) - _INFO_FIELDS
    if unknown:
        raise TypeError(f"unknown job fields {sorted(unknown)}; allowed: {sorted(_INFO_FIELDS)}")
    values = {k: v for k, v in info.items() if v is not None}
    if "files" in values:
        files = values["files"]
        values["files"] = sorted(files) if isinstance(files, (dict, set)) else list(files)
    if "warnings" in values:
        values["warnings"] = list(values["warnings"])
    return values


def _merge_names(current: list, new: list) -> list:
    return list(dict.fromkeys([*(current or []), *new]))


__all__ = ["JobStore", "Job", "WorkerRecord", "SCHEMA_VERSION", "describe_exit", "utcnow", "isoformat",
           "make_engine"]
