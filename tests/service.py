"""Helpers for the service tests (imported by service_fixtures.py and the test modules).

Service fixtures (service_fixtures.py): settings in a temporary data folder, live worker and API server subprocesses.

- ``service_settings``: fresh Settings (own data dir, SQLite store and broker, fast heartbeats), no env leakage.
- ``live_worker`` (session): ONE real ``manage.py worker`` supervisor + Celery child on the tiny test engine
  (tests/tiny_engine.py), shared by the session; ``live_worker.create(...)`` stores + enqueues a job.
- ``start_worker`` / ``start_server`` (function): factories for tests that kill or restart processes.
Processes are stopped by pid (never by name) at the end.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from text2video.jobs.queue import enqueue, make_celery
from text2video.jobs.store import JobStore
from text2video.jobs.workers import WorkerRegistry
from text2video.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
TINY_ENGINE = "tests.tiny_engine:create_engine"

FAST = {"heartbeat_interval_s": 0.5, "heartbeat_timeout_s": 4.0, "reaper_interval_s": 1.0, "min_free_disk_mb": 1,
        "worker_stop_grace_s": 2.0, "retention_days": 7.0}


def make_settings(data_dir: Path, **overrides) -> Settings:
    """Settings for a test: only what is given here (the developer's TEXT2VIDEO_* variables are ignored)."""
    values = {"data_dir": data_dir, **FAST, **overrides}
    return Settings.load(values, environ={})


def process_env(settings: Settings, engine_factory: str | None = TINY_ENGINE) -> dict[str, str]:
    from text2video.jobs.worker import settings_env

    env = settings_env(settings)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "backend"), env.get("PYTHONPATH", "")])
    if engine_factory:
        env["TEXT2VIDEO_ENGINE_FACTORY"] = engine_factory
    env["PYTHONUNBUFFERED"] = "1"
    return env


def race_to_claim(store: JobStore, jobs: list[str], contenders: int) -> list[tuple[str, int]]:
    """``contenders`` threads, released together, each try to claim every job; returns (job id, winner) pairs."""
    import threading

    wins: list[tuple[str, int]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(contenders)

    def contender(n: int) -> None:
        barrier.wait()
        for job_id in jobs:
            if store.claim(job_id, f"w{n}", n) is not None:
                with lock:
                    wins.append((job_id, n))

    threads = [threading.Thread(target=contender, args=(n,)) for n in range(contenders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return wins


def kill_when_denoising(worker, job_id: str, attempt: int, timeout: float) -> int:
    """Wait until ``job_id`` runs its ``attempt``-th attempt and has reported a denoising step, then SIGKILL the
    process running it; returns that pid."""
    from text2video.jobs.status import JobStatus

    def running():
        job = worker.store.get(job_id)
        return job if job.status == JobStatus.RUNNING and job.attempts == attempt and job.step >= 1 else None

    job = wait_for(running, timeout, what=f"attempt {attempt} denoising")
    os.kill(job.worker_pid, signal.SIGKILL)
    return job.worker_pid


PG_ADMIN_URL = os.environ.get("TEXT2VIDEO_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def reachable(host: str, port: int) -> bool:
    """A TCP server answers on host:port (the optional PostgreSQL / Redis services)."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def wait_for(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


# t2v_jobs as the previous release (schema version 1) made it; {time} is the dialect's timestamp type
VERSION_1_SCHEMA = """
CREATE TABLE t2v_jobs (id VARCHAR(32) NOT NULL, status VARCHAR(24) NOT NULL, stage VARCHAR(24), progress FLOAT NOT NULL,
 step INTEGER NOT NULL, total_steps INTEGER NOT NULL, eta_seconds FLOAT, prompt TEXT NOT NULL, negative_prompt TEXT,
 english_prompt TEXT, language VARCHAR(8), params JSON NOT NULL, input_file VARCHAR(255), video_url TEXT,
 input_kind VARCHAR(16), pose_summary TEXT, files JSON NOT NULL, error_code VARCHAR(64), error_message TEXT,
 api_key_id VARCHAR(64), callback_url TEXT, cancel_requested BOOLEAN NOT NULL, attempts INTEGER NOT NULL,
 worker VARCHAR(255), worker_pid INTEGER, heartbeat_at {time}, memory_preset VARCHAR(16), device VARCHAR(32),
 demo BOOLEAN NOT NULL, warnings JSON NOT NULL, fps FLOAT, webhook_status VARCHAR(16), webhook_attempts INTEGER NOT NULL,
 webhook_next_at {time}, webhook_error TEXT, created_at {time} NOT NULL, started_at {time}, finished_at {time},
 updated_at {time} NOT NULL, PRIMARY KEY (id));
CREATE INDEX ix_t2v_jobs_webhook_status ON t2v_jobs (webhook_status);
CREATE INDEX ix_t2v_jobs_status ON t2v_jobs (status);
CREATE INDEX ix_t2v_jobs_worker ON t2v_jobs (worker);
CREATE INDEX ix_t2v_jobs_finished_at ON t2v_jobs (finished_at);
CREATE INDEX ix_t2v_jobs_api_key_id ON t2v_jobs (api_key_id);
CREATE INDEX ix_t2v_jobs_created_at ON t2v_jobs (created_at);
CREATE TABLE t2v_schema (id INTEGER NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (id));
INSERT INTO t2v_schema VALUES (1, 1)
"""


def check_upgrade_from_version_1(database_url: str) -> None:
    """A database the previous release made (webhook state in job columns) is upgraded in place by create_tables():
    its jobs and their webhook states are kept, the old columns are gone, new jobs work."""
    from sqlalchemy import create_engine, inspect, text

    from text2video.jobs.status import JobStatus
    from text2video.jobs.tables import SCHEMA_VERSION

    old = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    with old.begin() as conn:
        time_type = "DATETIME" if old.dialect.name == "sqlite" else "TIMESTAMP WITH TIME ZONE"
        for statement in VERSION_1_SCHEMA.format(time=time_type).split(";"):
            conn.execute(text(statement))
        for job_id, status, hook, hook_status in (("a" * 32, "succeeded", "https://e.org/h", "failed"),
                                                  ("b" * 32, "running", "https://e.org/h", None),
                                                  ("c" * 32, "failed", None, None)):
            conn.execute(text(
                "INSERT INTO t2v_jobs (id, status, progress, step, total_steps, prompt, params, files, "
                "cancel_requested, attempts, demo, warnings, created_at, updated_at, callback_url, webhook_status, "
                "webhook_attempts, webhook_error, input_file) VALUES (:id, :status, 0, 0, 2, 'p', '{}', '[]', false, "
                "1, false, '[]', '2026-01-01 00:00:00', '2026-01-01 00:00:00', :hook, :hook_status, 6, :error, "
                ":input)"),
                {"id": job_id, "status": status, "hook": hook, "hook_status": hook_status,
                 "error": "attempt 6: HTTP 500" if hook_status else None,
                 "input": "input.mp4" if hook else None})
    store = JobStore(database_url)
    store.create_tables()
    store.create_tables()  # the next start finds nothing to do
    try:
        done = store.get("a" * 32)
        assert done.status == JobStatus.SUCCEEDED and done.prompt == "p"
        assert (done.delivery("webhook").status, done.delivery("webhook").error) == ("failed", "attempt 6: HTTP 500")
        assert store.get("b" * 32).delivery("webhook").status == "scheduled" and store.get("c" * 32).deliveries == []
        # 2 -> 3: the input file became the video slot of `inputs`; every old job was a Follow-Your-Pose job
        assert (done.model, done.inputs, store.get("c" * 32).inputs) == ("follow-your-pose", {"video": "input.mp4"},
                                                                         {})
        job = store.create({}, {"video": "input.mp4"}, "p", None, callback_url="https://e.org/h")
        store.claim(job.id, "w", 1)
        assert store.mark_succeeded(job.id, "w") and store.get(job.id).delivery("webhook").status == "pending"
        with store.engine.connect() as conn:
            assert conn.scalar(text("SELECT version FROM t2v_schema")) == SCHEMA_VERSION
        columns = {c["name"] for c in inspect(store.engine).get_columns("t2v_jobs")}
        assert "callback_url" not in columns and not any(c.startswith("webhook_") for c in columns)
        assert "input_file" not in columns and {"model", "inputs"} <= columns
    finally:
        store.dispose()
        old.dispose()


@dataclass
class Harness:
    """A data folder with its store and Celery app, plus helpers to submit and follow jobs."""

    settings: Settings
    store: JobStore = field(init=False)

    def __post_init__(self):
        self.store = JobStore(self.settings.database_url)
        self.store.create_tables()
        self.celery_app = make_celery(self.settings)

    def create(self, prompt: str = "a dancer", steps: int = 2, enqueue_it: bool = True, **extra) -> str:
        from text2video.storage import save_upload

        params = {"steps": steps, "width": 64, "height": 64, "frames": 2, "seed": 1, **extra.pop("params", {})}
        job = self.store.create(params, None, prompt, extra.pop("negative_prompt", None), **extra)
        name = save_upload(self.settings, job.id, b"\x00fake video bytes", "clip.mp4")
        self.store.set_fields(job.id, inputs={"video": name})
        if enqueue_it:
            enqueue(self.celery_app, job.id)
        return job.id

    def wait_status(self, job_id: str, *statuses: str, timeout: float = 30.0):
        statuses = statuses or ("succeeded", "failed", "canceled")

        def done():
            job = self.store.get(job_id)
            return job if job is not None and job.status.value in statuses else None
        return wait_for(done, timeout, what=f"job {job_id} to reach {statuses}")

    def wait_all(self, job_ids, timeout: float = 60.0):
        def done():
            jobs = [self.store.get(i) for i in job_ids]
            return jobs if all(j.finished for j in jobs) else None
        return wait_for(done, timeout, interval=0.25, what=f"{len(job_ids)} jobs to finish")

    def runs(self) -> list[tuple[int, str]]:
        """(pid, job id) of every generate() the tiny engine performed in this data folder."""
        path = Path(self.settings.data_dir) / "runs.log"
        if not path.exists():
            return []
        return [(int(p), j) for p, j in (line.split() for line in path.read_text().splitlines() if line.strip())]

    def engine_loads(self) -> list[int]:
        path = Path(self.settings.data_dir) / "engine-loads.log"
        return [int(x) for x in path.read_text().split()] if path.exists() else []


class Proc:
    """A subprocess of ours: its output goes to a log file (read it on failure)."""

    def __init__(self, cmd: list[str], env: dict[str, str], log_path: Path, cwd: Path = ROOT):
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.popen = subprocess.Popen(cmd, env=env, cwd=str(cwd), stdout=self._log, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        self.pid = self.popen.pid

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            os.kill(self.pid, sig)

    def stop(self, timeout: float = 20.0) -> int:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._log.close()
        return self.popen.returncode


@dataclass
class LiveWorker(Harness):
    name: str = "test-worker"
    proc: Proc | None = None

    def child_pid(self, timeout: float = 20.0) -> int:
        """The pid of the Celery child (from the worker table: the supervisor writes it)."""
        def pid():
            recs = [w for w in WorkerRegistry(self.store).live(within_s=30) if w.name == self.name]
            return recs[0].pid if recs and recs[0].pid else None
        return wait_for(pid, timeout, what=f"worker {self.name} child pid")

    def wait_ready(self, timeout: float = 60.0) -> None:
        wait_for(lambda: "ready." in self.proc.output() or not self.proc.alive(), timeout,
                 what=f"worker {self.name} to be ready")
        assert self.proc.alive(), self.proc.output()[-3000:]


def start_worker_process(settings: Settings, name: str, log_dir: Path, engine_factory: str | None = TINY_ENGINE,
                         wait: bool = True) -> LiveWorker:
    worker = LiveWorker(settings=settings, name=name)
    cmd = [sys.executable, str(ROOT / "manage.py"), "worker", "--name", name]
    worker.proc = Proc(cmd, process_env(settings, engine_factory), log_dir / f"{name}-{int(time.time()*1000)}.log")
    if wait:
        worker.wait_ready()
    return worker


@dataclass
class LiveServer(Harness):
    proc: Proc | None = None
    url: str = ""
    banner: str = ""

    def wait_url(self, timeout: float = 60.0) -> str:
        def found():
            m = re.search(r"Text2Video API: (http://\S+)", self.proc.output())
            return m.group(1) if m else (None if self.proc.alive() else "dead")
        url = wait_for(found, timeout, what="serve to print its URL")
        assert url != "dead", self.proc.output()[-3000:]
        self.url = url
        self.banner = self.proc.output()
        return url


def start_server_process(settings: Settings, log_dir: Path, *args: str, engine_factory: str | None = TINY_ENGINE,
                         env_extra: dict | None = None) -> LiveServer:
    server = LiveServer(settings=settings)
    cmd = [sys.executable, str(ROOT / "manage.py"), "serve", "--port", "0", *args]
    env = process_env(settings, engine_factory)
    env.update(env_extra or {})
    server.proc = Proc(cmd, env, log_dir / f"serve-{int(time.time()*1000)}.log")
    server.wait_url()
    return server


# --- a newcomer's first run ---------------------------------------------------------------------------------------
CLONE_FILES = ("manage.py", "backend", "frontend", "assets", "README.md", "requirements.txt", ".gitignore")


def fresh_clone(dest: Path) -> Path:
    """What a newcomer has right after cloning: the repository's files in a new folder, no data/ and no models/
    (copied, not linked: the service then finds its package, web UI and default ``data`` where a clone has them)."""
    import shutil

    dest.mkdir(parents=True, exist_ok=True)
    for name in CLONE_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(src, dest / name)
    return dest


def newcomer_env(**settings) -> dict[str, str]:
    """This process's environment without any TEXT2VIDEO_* setting (a newcomer has none: the defaults apply, the
    relative ``data`` folder included) except where the session's demo weights are cached
    (TEXT2VIDEO_DEMO_MODELS_DIR, built once per session), plus ``settings`` as TEXT2VIDEO_* variables."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("TEXT2VIDEO_") or k == "TEXT2VIDEO_DEMO_MODELS_DIR"}
    env.update({f"TEXT2VIDEO_{key.upper()}": str(value) for key, value in settings.items()})
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start_readme_service(clone: Path, env: dict[str, str], timeout: float = 120.0) -> tuple[Proc, str]:
    """The README's service command, ``python manage.py --models demo``, run from the clone's root (``--port 0``
    only so parallel test runs cannot collide); returns the process and the URL its banner prints."""
    proc = Proc([sys.executable, "manage.py", "--models", "demo", "--port", "0"], env,
                clone.parent / f"serve-{int(time.time() * 1000)}.log", cwd=clone)

    def url():
        m = re.search(r"Text2Video API: (http://\S+)", proc.output())
        return m.group(1) if m else (None if proc.alive() else "dead")
    found = wait_for(url, timeout, what="the README's serve command to print its URL")
    assert found != "dead", proc.output()[-3000:]
    return proc, found
