"""Worker processes: a light supervisor around a Celery worker that runs one job at a time.

``manage.py worker`` starts :class:`Supervisor` (no torch, no models), which starts the *worker child*
(``python -m text2video.jobs.worker``): a Celery worker with the ``solo`` pool, i.e. jobs run in the child's main
thread and the engine (models) is loaded once for the child's whole life.

Why a supervisor instead of Celery's prefork pool: the prefork parent does see a killed child, but with the SQLite
broker the message is already gone (that transport never redelivers), and its WorkerLostError path does not
reliably tell us which job died. The supervisor knows the child's pid and exit code (``-9`` for SIGKILL, what the
kernel's OOM killer sends); every running job carries the pid of the process running it, so when the child dies the
supervisor recovers exactly its job: back to ``queued`` and enqueued again while ``attempts <= max_retries``, else
failed with "worker lost (exit code -9 = SIGKILL, possibly out of memory)". Then it starts a fresh child.

What the supervisor cannot see (the whole machine or the supervisor itself dying) is caught by heartbeats: a running
job refreshes ``heartbeat_at`` every ``heartbeat_interval_s``, and the :class:`Reaper` running in every supervisor
and in every ``serve`` process recovers jobs whose heartbeat is older than ``heartbeat_timeout_s``. A supervisor
restarted under the same ``--name`` recovers that name's running jobs at once. The reaper also applies the
retention period (``jobs.retention``).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

from ..settings import Settings
from .queue import enqueue, make_celery, purge_delivered_messages, requeue_queued, worker_queues
from .retention import cleanup_expired
from .store import JobStore
from .tables import utcnow
from .workers import WorkerRegistry

log = logging.getLogger(__name__)

_STARTUP_WINDOW_S = 60.0  # a child that dies sooner without claiming a job failed to start
_MAX_RESTART_DELAY_S = 30.0
_HOUSEKEEPING_S = 3600.0  # broker table purge and sweep of abandoned temporary files


def default_worker_name() -> str:
    return f"worker-{socket.gethostname()}-{os.getpid()}"


# --- recovery ---------------------------------------------------------------------------------------------------
def recover_job(store: JobStore, celery_app, job_id: str, settings: Settings, *, exit_code: int | None,  # noqa: ANN001
                worker: str | None = None, worker_pid: int | None = None, reason: str | None = None,
                count_attempt: bool = True) -> str | None:
    """Recover one running job whose process is gone; re-enqueue it when it goes back to the queue."""
    _remove_temporaries(settings, job_id)  # before any next attempt can start writing in that folder
    outcome = store.recover_lost(job_id, exit_code=exit_code, max_retries=settings.max_retries_on_worker_lost,
                                 worker=worker, worker_pid=worker_pid, reason=reason, count_attempt=count_attempt)
    if outcome == "requeued":
        try:
            job = store.get(job_id)
            enqueue(celery_app, job_id, job.model if job is not None else None)
        except Exception as exc:  # noqa: BLE001 - it stays queued; the next serve start or reaper pass resends it
            log.error("job %s re-queued but its message could not be sent: %s", job_id, exc)
    if outcome:
        log.warning("job %s: %s (%s)", job_id, outcome, reason or f"exit code {exit_code}")
    return outcome


def _remove_temporaries(settings: Settings, job_id: str) -> None:
    from ..storage import remove_temporary_files

    try:
        remove_temporary_files(settings, job_id)
    except OSError as exc:  # a leftover file must never stop a recovery; the reaper's sweep tries again
        log.warning("job %s: temporary files not removed: %s", job_id, exc)


class Reaper:
    """Periodic housekeeping shared by every supervisor and ``serve``: stale running jobs, expired jobs."""

    def __init__(self, store: JobStore, settings: Settings, celery_app):  # noqa: ANN001
        self.store, self.settings, self.celery_app = store, settings, celery_app
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_housekeeping: float | None = None  # the hourly housekeeping also runs on the first pass

    def run_once(self) -> dict[str, int]:
        counts = {"recovered": 0, "expired": 0}
        timeout = self.settings.heartbeat_timeout_s
        for job in self.store.stale_running(timeout):
            reason = (f"worker lost: {job.worker or 'its worker'} stopped sending heartbeats for more than "
                      f"{timeout:.0f} s (exit code unknown, possibly out of memory or the machine stopped)")
            if recover_job(self.store, self.celery_app, job.id, self.settings, exit_code=None, worker=job.worker,
                           reason=reason):
                counts["recovered"] += 1
        try:
            counts["expired"] = cleanup_expired(self.store, self.settings)
        except Exception as exc:  # noqa: BLE001 - retention must never stop recovery
            log.warning("retention cleanup failed: %s", exc)
        if self._last_housekeeping is None or time.monotonic() - self._last_housekeeping > _HOUSEKEEPING_S:
            self._last_housekeeping = time.monotonic()
            try:
                purge_delivered_messages(self.settings)
            except Exception as exc:  # noqa: BLE001
                log.warning("broker table cleanup failed: %s", exc)
            counts["temporaries"] = self._sweep_temporaries()
        return counts

    def _sweep_temporaries(self) -> int:
        """Temporary files nobody wrote to for an hour: left by a process killed mid-write (an upload in
        ``serve``, an encode whose job was recovered elsewhere)."""
        from ..storage import sweep_temporary_files

        try:
            return sweep_temporary_files(self.settings, older_than_s=_HOUSEKEEPING_S)
        except OSError as exc:
            log.warning("temporary file sweep failed: %s", exc)
            return 0

    def start(self) -> "Reaper":
        self._thread = threading.Thread(target=self._loop, name="text2video-reaper", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.settings.reaper_interval_s):
            try:
                self.run_once()
            except Exception as exc:  # noqa: BLE001 - a database hiccup: try again next round
                log.warning("reaper pass failed: %s", exc)

    def stop(self) -> None:
        self._stop.set()


# --- the supervisor ---------------------------------------------------------------------------------------------
class Supervisor:
    """Runs and restarts one worker child; recovers its job when it dies. ``run()`` blocks until stopped."""

    def __init__(self, settings: Settings, name: str | None = None, *, loglevel: str = "INFO",
                 stop_grace_s: float | None = None, restart_backoff_s: float = 1.0):
        self.settings = settings
        self.name = name or default_worker_name()
        self.loglevel = loglevel
        self.stop_grace_s = settings.worker_stop_grace_s if stop_grace_s is None else stop_grace_s
        self.restart_backoff_s = restart_backoff_s
        self.store = JobStore(settings.database_url)
        self.celery_app = make_celery(settings)
        self.reaper = Reaper(self.store, settings, self.celery_app)
        self.child: subprocess.Popen | None = None
        self.stopping = threading.Event()
        self.restarts = 0

    # the child's command line: the same interpreter, settings through the environment
    def child_command(self) -> list[str]:
        return [sys.executable, "-m", "text2video.jobs.worker", "--name", self.name, "--loglevel", self.loglevel]

    def child_env(self) -> dict[str, str]:
        return settings_env(self.settings)

    def _start_child(self) -> None:
        self.child = subprocess.Popen(self.child_command(), env=self.child_env(), preexec_fn=_die_with_parent,
                                      start_new_session=True)  # Ctrl+C reaches the supervisor only; it stops the child
        log.info("worker %s: child pid %d started", self.name, self.child.pid)
        self._heartbeat()

    def _heartbeat(self) -> None:
        try:
            pid = self.child.pid if self.child else None
            running = self.store.running_jobs(worker=self.name, worker_pid=pid) if pid else []
            WorkerRegistry(self.store).heartbeat(self.name, hostname=socket.gethostname(), pid=pid,
                                                 device=self.settings.device, models=str(self.settings.models_dir),
                                                 current_job=running[0].id if running else None)
            for job in running:  # the child is alive: its jobs are alive, even during one very long step
                self.store.heartbeat(job.id, self.name)
                self._enforce_time_limit(job)
        except Exception as exc:  # noqa: BLE001
            log.warning("worker %s: heartbeat failed: %s", self.name, exc)

    def _enforce_time_limit(self, job) -> None:  # noqa: ANN001
        """The engine stops itself past ``job_timeout_s`` (its cancel check); a child stuck inside one step never
        asks, so a minute later the supervisor fails the job and replaces the child."""
        limit = self.settings.job_timeout_s + 60
        if job.started_at is None or (utcnow() - job.started_at).total_seconds() < limit:
            return
        message = (f"the job ran longer than {self.settings.job_timeout_s:.0f} s and its worker stopped responding; "
                   "it was stopped. Use fewer frames or steps, or raise TEXT2VIDEO_JOB_TIMEOUT_S.")
        if self.store.mark_failed(job.id, "timeout", message, worker=self.name):
            log.error("job %s: over the time limit and unresponsive; killing child %d", job.id, self.child.pid)
            self.child.kill()

    def recover_previous(self) -> int:
        """Jobs still marked running under this worker name: its previous run died (machine restart, SIGKILL)."""
        count = 0
        for job in self.store.running_jobs(worker=self.name):
            if job.worker_pid and _pid_alive(job.worker_pid):
                # Another live process under the same name (names must be unique): leave it to the heartbeat
                # reaper, which acts only if that process really stopped working on it.
                log.warning("job %s runs under our name %s in live pid %s; not touching it", job.id, self.name,
                            job.worker_pid)
                continue
            reason = (f"worker lost: {self.name} restarted while running it (previous process {job.worker_pid}; "
                      "exit code unknown, possibly out of memory or the machine stopped)")
            if recover_job(self.store, self.celery_app, job.id, self.settings, exit_code=None, worker=self.name,
                           worker_pid=job.worker_pid, reason=reason):
                count += 1
        return count

    def _child_exited(self, code: int, planned: bool) -> None:
        pid = self.child.pid
        for job in self.store.running_jobs(worker=self.name, worker_pid=pid):
            if planned:
                recover_job(self.store, self.celery_app, job.id, self.settings, exit_code=code, worker=self.name,
                            worker_pid=pid, reason="worker stopped by the operator", count_attempt=False)
            else:
                recover_job(self.store, self.celery_app, job.id, self.settings, exit_code=code, worker=self.name,
                            worker_pid=pid)
        if not planned:
            # The child may have taken a message from the SQLite broker and died before claiming its job:
            # resend every queued job (a duplicate is skipped by the claim).
            try:
                requeue_queued(self.celery_app, self.store)
            except Exception as exc:  # noqa: BLE001
                log.warning("re-enqueue after a lost child failed: %s", exc)

    def _child_worked(self) -> bool:
        try:
            return self.store.claimed_by(self.name, self.child.pid)
        except Exception as exc:  # noqa: BLE001 - store unreachable: treat it as a failed start (back off)
            log.warning("worker %s: could not tell whether the child ran a job: %s", self.name, exc)
            return False

    def restart_delay(self, worked: bool, lived_s: float, previous_s: float) -> float:
        """Seconds to wait before the next child. A child that claimed a job, or lived past its start-up, did
        useful work and is replaced at once (its job waits on the retry); only a child that keeps dying on start
        (bad models folder, broker down) backs off, doubling from ``restart_backoff_s`` up to 30 s."""
        if worked or lived_s > _STARTUP_WINDOW_S:
            return 0.0
        return min(max(previous_s * 2, self.restart_backoff_s), _MAX_RESTART_DELAY_S)

    def run(self) -> int:
        self.store.create_tables()
        self.recover_previous()
        try:
            requeue_queued(self.celery_app, self.store)  # messages lost with a crashed node; duplicates are skipped
        except Exception as exc:  # noqa: BLE001 - broker not up yet: the jobs stay queued, serve re-sends them
            log.warning("could not re-send queued jobs: %s", exc)
        self.reaper.start()
        delay = 0.0
        last_beat = 0.0
        try:
            while not self.stopping.is_set():
                self._start_child()
                started = time.monotonic()
                while not self.stopping.is_set():
                    code = self.child.poll()
                    if code is not None:
                        break
                    if time.monotonic() - last_beat >= self.settings.heartbeat_interval_s:
                        last_beat = time.monotonic()
                        self._heartbeat()
                    self.stopping.wait(0.2)
                if self.stopping.is_set():
                    break
                log.warning("worker %s: child pid %d exited with code %s; restarting", self.name, self.child.pid,
                            code)
                worked = self._child_worked()  # before recovery, which clears the job's worker pid
                self._child_exited(code, planned=False)
                self.restarts += 1
                delay = self.restart_delay(worked, time.monotonic() - started, delay)
                self.stopping.wait(delay)
        finally:
            self._stop_child()
            self.reaper.stop()
            try:
                WorkerRegistry(self.store).heartbeat(self.name, hostname=socket.gethostname(), pid=None, stopped=True)
            except Exception:  # noqa: BLE001
                pass
        return 0

    def _stop_child(self) -> None:
        child = self.child
        if child is None or child.poll() is not None:
            if child is not None and child.returncode is not None:
                self._child_exited(child.returncode, planned=True)
            return
        busy = bool(self.store.running_jobs(worker=self.name, worker_pid=child.pid))
        if busy:
            # SIGTERM = Celery warm shutdown (finishes the current job); a job still running after the grace
            # period is interrupted and goes back to the queue without counting as an attempt.
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(timeout=self.stop_grace_s)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        else:
            # Idle: nothing to finish, and Celery's own shutdown of an idle SQLite-broker consumer takes ~6 s.
            # A message it might have been taking at this instant is re-sent by requeue_queued at the next start.
            child.kill()
            child.wait()
        self._child_exited(child.returncode, planned=True)

    def stop(self, *_: Any) -> None:
        self.stopping.set()


def settings_env(settings: Settings) -> dict[str, str]:
    """This process's environment plus every setting as ``TEXT2VIDEO_*`` (paths are absolute already, see
    Settings): a subprocess started with it sees exactly these settings, whatever its working directory."""
    from ..settings import ENV_PREFIX, as_dict
    env = dict(os.environ)
    for key, value in as_dict(settings).items():
        if value is None or key in ("ngrok_authtoken",):
            continue
        env[ENV_PREFIX + key.upper()] = str(value)
    backend = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = backend + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:  # a zombie (dead, not yet reaped) answers kill(0) too
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return True


def _die_with_parent() -> None:
    """In the child, before exec: get SIGKILL when the supervisor dies, so no orphan keeps a GPU busy."""
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - not Linux: the heartbeat reaper covers it
        pass


# --- the worker child -------------------------------------------------------------------------------------------
_engine: Any = None
_engine_lock = threading.Lock()


def build_engine(settings: Settings) -> Any:
    """The engine named by ``settings.engine_factory`` ("module:callable(settings)"), else the real Engine."""
    if settings.engine_factory:
        import importlib
        module_name, _, attr = settings.engine_factory.partition(":")
        return getattr(importlib.import_module(module_name), attr or "create_engine")(settings)
    from ..engine import Engine
    from ..models.demo import resolve_models_dir
    return Engine(resolve_models_dir(settings.models_dir), device=settings.device, dtype=settings.dtype,
                  memory=settings.memory, pose_preset=settings.pose_preset, settings=settings)


def get_engine(settings: Settings) -> Any:
    """The process's engine, created on first use and kept (models load once per worker process)."""
    global _engine
    if _engine is None:
        with _engine_lock:
            if _engine is None:
                started = time.monotonic()
                _engine = build_engine(settings)
                log.info("engine ready in %.1f s", time.monotonic() - started)
    return _engine


def run_child(settings: Settings, name: str, loglevel: str = "INFO", preload: bool = True) -> int:
    """The Celery worker proper (solo pool: one job at a time, in this process, with this process's engine)."""
    from .tasks import execute_job, register_tasks

    store = JobStore(settings.database_url)
    store.create_tables()
    app = make_celery(settings)
    register_tasks(app, lambda job_id: execute_job(job_id, settings=settings, store=store,
                                                   get_engine=lambda: get_engine(settings), worker=name))
    _quiet_worker_log()
    if preload:
        try:
            get_engine(settings)
        except Exception as exc:  # noqa: BLE001 - keep consuming: each job then fails with this error's message
            log.error("engine could not be created: %s", exc)
    queues = worker_queues(settings)
    log.info("worker %s serves the queues %s", name, ", ".join(queues))
    # quiet: no Celery banner in the operator's log (the supervisor prints one line); stdout/stderr are not
    # redirected into the log as WARNING celery.redirected (a library's print is not a warning)
    worker = app.Worker(hostname=f"{name}@{socket.gethostname()}", pool_cls="solo", concurrency=1,
                        queues=queues, loglevel=loglevel, without_gossip=True, without_mingle=True,
                        without_heartbeat=True, optimization="fair", quiet=True, redirect_stdouts=False)
    worker.start()
    return worker.exitcode or 0


def _quiet_worker_log() -> None:
    """What an operator's log does not need from a worker: model-loading bars, and Celery's superuser warning as
    root, which is about pickle payloads (code execution); this app accepts JSON only (jobs/queue.py)."""
    import warnings

    from celery.exceptions import SecurityWarning

    from ..engine import quiet_libraries

    quiet_libraries()
    warnings.filterwarnings("ignore", category=SecurityWarning)


def main(argv: list[str] | None = None) -> int:
    """``python -m text2video.jobs.worker --name N``: the worker child; with ``--supervise``: the supervisor
    (what ``manage.py worker`` runs; ``serve`` starts it this way). Settings come from ``TEXT2VIDEO_*``."""
    parser = argparse.ArgumentParser(allow_abbrev=False,
                                     description="Text2Video worker (normally started by `manage.py worker`).")
    parser.add_argument("--name", default=None)
    parser.add_argument("--loglevel", default="INFO")
    parser.add_argument("--no-preload", action="store_true")
    parser.add_argument("--supervise", action="store_true", help="run the supervisor (restarts the child)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.loglevel, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.load()
    if args.supervise:
        supervisor = Supervisor(settings, args.name, loglevel=args.loglevel)
        signal.signal(signal.SIGINT, supervisor.stop)
        signal.signal(signal.SIGTERM, supervisor.stop)
        return supervisor.run()
    if not args.name:
        parser.error("--name is required for the worker child")
    return run_child(settings, args.name, args.loglevel, preload=not args.no_preload)


if __name__ == "__main__":
    sys.exit(main())
