"""The job database's tables (SQLAlchemy ORM): jobs, their deliveries (the outbox), workers, schema version.

Column and table names are the stored format: renaming one needs a new :data:`SCHEMA_VERSION`. The JSON form of a
job is built from :mod:`text2video.jobs.fields`, not here.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, TypeDecorator
from sqlalchemy import Enum as SAEnum
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from .status import JobStage, JobStatus

# Bump when a column changes; create_tables() refuses to run against a database with another version instead of
# failing later with an obscure SQL error.
# 2: webhook state moved from job columns to t2v_deliveries; 3: `model` + `inputs` replace `input_file`
# (jobs.database upgrades)
SCHEMA_VERSION = 3


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
            raise ValueError("naive datetime given to the job store; use text2video.jobs.tables.utcnow()")
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
    model: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the model (family variant) asked for
    # the input files by slot, relative to the job folder: {"video": "input.mp4", "reference_image": "reference.png"}
    inputs: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    video_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    input_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    pose_summary: Mapped[str | None] = mapped_column(Text, nullable=True)
    # No longer written or read: a job's files are what its folder holds (storage.existing_files), since a list kept
    # here named files a failed or canceled run had removed. Kept because older databases have it NOT NULL.
    files: Mapped[list] = mapped_column(JSON, default=list)
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)

    api_key_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # claims by a worker (retries after a lost worker)
    worker: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    worker_pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    memory_preset: Mapped[str | None] = mapped_column(String(16), nullable=True)
    device: Mapped[str | None] = mapped_column(String(32), nullable=True)
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    warnings: Mapped[list] = mapped_column(JSON, default=list)
    # {English text: [{"code", "params"}]} for the texts above that have codes (pose summary, warnings, error)
    texts: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    fps: Mapped[float | None] = mapped_column(Float, nullable=True)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    # loaded with every job (one extra SELECT per query): the job JSON shows their state
    deliveries: Mapped[list["Delivery"]] = relationship(lazy="selectin", order_by="Delivery.kind",
                                                        cascade="all, delete-orphan")

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

    def input_path(self, slot: str) -> str | None:
        """The file name (in the job folder) of input ``slot``, or None."""
        return (self.inputs or {}).get(slot)

    def delivery(self, kind: str) -> "Delivery | None":
        return next((d for d in self.deliveries or () if d.kind == kind), None)


class Delivery(Base):
    """One notification a job owes (:mod:`text2video.jobs.outbox`): ``webhook`` (the job JSON to its
    ``callback_url``) or ``push`` (its MP4 to ``settings.send_url``). Made with the job; the transaction that
    finishes the job makes it due, so no notification is lost on a restart."""

    __tablename__ = "t2v_deliveries"

    job_id: Mapped[str] = mapped_column(String(32), ForeignKey("t2v_jobs.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    # scheduled (job not finished) | pending | delivering (leased) | delivered | failed (given up) | skipped
    status: Mapped[str] = mapped_column(String(16), default="scheduled", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)  # the last failed attempt's reason


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


__all__ = ["Base", "Job", "Delivery", "WorkerRecord", "SchemaInfo", "SCHEMA_VERSION", "utcnow", "isoformat"]
