"""The connection to the job database, shared by the job store, the outbox and the worker registry; its schema
version and the in-place upgrades from older versions.

SQLite file in the data folder by default (WAL journal + busy timeout, so the API and the workers can write at the
same time); any SQLAlchemy URL (``postgresql+psycopg://...``) for several machines.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import Connection, create_engine, event, inspect, select, text, update
from sqlalchemy.engine import Engine as SAEngine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from ..exceptions import ServiceUnavailable
from ..settings import sqlite_file
from .tables import SCHEMA_VERSION, Base, Job, SchemaInfo


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


class Database:
    """One engine and its sessions. Thread-safe; every session is one transaction."""

    def __init__(self, database_url: str):
        self.database_url = database_url
        self.engine = make_engine(database_url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as s:
            with s.begin():
                yield s

    def create_tables(self) -> None:
        """Create missing tables and check the schema version (safe to call from every process at start)."""
        db_file = sqlite_file(self.database_url)
        if db_file is not None:
            db_file.parent.mkdir(parents=True, exist_ok=True)
        try:
            Base.metadata.create_all(self.engine)
        except Exception as exc:  # noqa: BLE001 - a concurrent creator may have won; re-check below
            if not self._tables_exist():
                raise ServiceUnavailable(f"cannot create the job tables in {self.engine.url!r}: {exc}",
                                         hint="Check TEXT2VIDEO_DATABASE_URL and that the database is reachable.")
        self._add_new_columns()
        with self.session() as s:
            if s.get(SchemaInfo, 1) is None:
                s.add(SchemaInfo(id=1, version=SCHEMA_VERSION))
        self._upgrade()
        with self.session() as s:
            info = s.get(SchemaInfo, 1)
            if info.version != SCHEMA_VERSION:
                raise ServiceUnavailable(
                    f"job database {self.engine.url!r} has schema version {info.version}, this code expects "
                    f"{SCHEMA_VERSION}",
                    hint="Point TEXT2VIDEO_DATABASE_URL at a new database, or delete the old one (jobs are lost).")

    def _add_new_columns(self) -> None:
        """A nullable column added to Job since the table was made is added in place (jobs kept, no version bump)."""
        have = {c["name"] for c in inspect(self.engine).get_columns(Job.__tablename__)}
        for column in Job.__table__.columns:
            if column.name in have or not column.nullable:
                continue
            ddl = (f"ALTER TABLE {Job.__tablename__} ADD COLUMN {column.name} "
                   f"{column.type.compile(self.engine.dialect)}")
            try:
                with self.engine.begin() as conn:
                    conn.execute(text(ddl))
            except Exception:  # noqa: BLE001 - another process added it first
                if column.name not in {c["name"] for c in inspect(self.engine).get_columns(Job.__tablename__)}:
                    raise

    def _upgrade(self) -> None:
        """Bring an older database to this version in place, one step per transaction (jobs are kept)."""
        while True:
            with self.engine.begin() as conn:
                version = conn.scalar(select(SchemaInfo.version).where(SchemaInfo.id == 1))
                step = UPGRADES.get(version)
                if step is None:
                    return
                # every process calls this at start: the conditional UPDATE lets exactly one of them run the step
                if conn.execute(update(SchemaInfo).where(SchemaInfo.id == 1, SchemaInfo.version == version)
                                .values(version=version + 1)).rowcount:
                    step(conn)

    def _tables_exist(self) -> bool:
        return inspect(self.engine).has_table(Job.__tablename__)

    def dispose(self) -> None:
        self.engine.dispose()


def _deliveries_from_job_columns(conn: Connection) -> None:
    """1 -> 2: the webhook state moves from job columns into t2v_deliveries rows (just made by create_all)."""
    conn.execute(text(
        "INSERT INTO t2v_deliveries (job_id, kind, url, status, attempts, next_at, error) "
        "SELECT id, 'webhook', callback_url, COALESCE(webhook_status, 'scheduled'), webhook_attempts, "
        "webhook_next_at, webhook_error FROM t2v_jobs WHERE callback_url IS NOT NULL"))
    conn.execute(text("DROP INDEX IF EXISTS ix_t2v_jobs_webhook_status"))  # SQLite drops no indexed column
    for column in ("callback_url", "webhook_status", "webhook_attempts", "webhook_next_at", "webhook_error"):
        conn.execute(text(f"ALTER TABLE t2v_jobs DROP COLUMN {column}"))


def _inputs_from_input_file(conn: Connection) -> None:
    """2 -> 3: a job's input files by slot (``inputs``, added by _add_new_columns) and its ``model`` replace
    ``input_file``; every older job was a Follow-Your-Pose job."""
    table = Job.__table__
    rows = conn.execute(text("SELECT id, input_file FROM t2v_jobs")).all()
    for job_id, input_file in rows:  # through the JSON type: each dialect stores it its own way
        conn.execute(update(table).where(table.c.id == job_id).values(
            model="follow-your-pose", inputs={"video": input_file} if input_file else {}))
    conn.execute(text("ALTER TABLE t2v_jobs DROP COLUMN input_file"))


UPGRADES = {1: _deliveries_from_job_columns, 2: _inputs_from_input_file}  # stored version -> step to the next

__all__ = ["Database", "make_engine"]
