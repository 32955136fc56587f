"""Real worker processes (`manage.py worker`: supervisor + Celery child, SQLite store and broker) on the tiny test
engine: outcomes, cancel, OOM, exactly-once under duplicates, and jobs of killed workers."""

from __future__ import annotations

import os
import re
import signal
import time
from collections import Counter

import pytest

from text2video.api.links import job_document
from text2video.jobs.fields import job_data
from text2video.jobs.queue import enqueue
from text2video.jobs.status import JobStage, JobStatus
from text2video.jobs.worker import Reaper
from text2video.jobs.workers import WorkerRegistry
from text2video.storage import existing_files

from tests.service import kill_when_denoising, make_settings, wait_for


def test_job_runs_with_progress_and_files(live_worker):
    job_id = live_worker.create("a dancer", steps=3, callback_url=None)
    job = live_worker.wait_status(job_id, timeout=30)
    data = job_document(job, live_worker.settings)
    assert job.status == JobStatus.SUCCEEDED, data
    assert data["progress"] == 1.0 and data["attempts"] == 1 and data["english_prompt"] == "a dancer"
    assert set(data["files"]) == {"skeleton.mp4", "keypoints.json", "result.mp4", "result.gif", "side_by_side.mp4"}
    folder = live_worker.settings.jobs_dir / job_id
    assert (folder / "result.mp4").read_bytes() == b"result.mp4"
    assert not [p for p in os.listdir(folder) if p.startswith(".")]  # no temporaries left
    assert data["params"]["seed"] == 1 and data["demo"] is True and data["device"] == "cpu"
    assert job.worker == "live-worker" and job.worker_pid == live_worker.child_pid()


def test_progress_is_visible_while_running_and_cancel_stops_it(live_worker):
    job_id = live_worker.create("slow dancer", steps=100)
    running = wait_for(lambda: (lambda j: j if j.status == JobStatus.RUNNING and j.step >= 2 else None)(
        live_worker.store.get(job_id)), 30, what="job to be generating")
    assert running.stage.value == "generating" and running.total_steps == 100 and 0 < running.progress < 1
    assert running.heartbeat_at is not None
    t0 = time.monotonic()
    live_worker.store.request_cancel(job_id)
    job = live_worker.wait_status(job_id, timeout=15)
    assert job.status == JobStatus.CANCELED and time.monotonic() - t0 < 10
    assert job.step < 100


def test_failures_are_stored_and_the_worker_keeps_serving(live_worker):
    oom = live_worker.create("oom please")
    nobody = live_worker.create("noperson here")
    after = live_worker.create("fine")
    jobs = {j.id: j for j in live_worker.wait_all([oom, nobody, after], timeout=60)}
    assert jobs[oom].status == JobStatus.FAILED and jobs[oom].error_code == "out_of_memory"
    assert "--memory low" in jobs[oom].error_message and "CUDA out of memory" in jobs[oom].error_message
    assert jobs[nobody].status == JobStatus.FAILED and jobs[nobody].error_code == "no_person"
    assert "fully visible" in jobs[nobody].error_message
    assert jobs[after].status == JobStatus.SUCCEEDED
    assert {pid for pid, j in live_worker.runs() if j in (oom, after)} == {live_worker.child_pid()}


def test_fifty_jobs_each_run_exactly_once_even_when_enqueued_twice(live_worker):
    ids = [live_worker.create(f"job {i}", steps=1) for i in range(50)]
    for job_id in ids[::2]:
        enqueue(live_worker.celery_app, job_id)  # duplicate messages: the claim must skip them
    jobs = live_worker.wait_all(ids, timeout=120)
    assert all(j.status == JobStatus.SUCCEEDED and j.attempts == 1 for j in jobs)
    counts = Counter(j for _, j in live_worker.runs())
    assert all(counts[i] == 1 for i in ids), {i: counts[i] for i in ids if counts[i] != 1}
    # models loaded once per worker process: one engine per child pid, however many jobs it ran
    loads = Counter(live_worker.engine_loads())
    assert all(n == 1 for n in loads.values()), loads


def test_sigkill_of_the_child_retries_once_then_fails_with_exit_code(live_worker):
    job_id = live_worker.create("slow kill me", steps=500)
    pids = []
    for attempt in (1, 2):
        pids.append(kill_when_denoising(live_worker, job_id, attempt, 60))
        if attempt == 1:
            again = wait_for(lambda: (lambda j: j if j.warnings else None)(live_worker.store.get(job_id)), 20,
                             what="the supervisor to recover the job")
            assert again.status in (JobStatus.QUEUED, JobStatus.RUNNING)
            assert "exit code -9 = SIGKILL" in again.warnings[0] and "retrying" in again.warnings[0]
    job = live_worker.wait_status(job_id, "failed", timeout=20)
    assert pids[0] != pids[1]  # the second attempt ran on a fresh child
    assert job.error_code == "worker_lost" and job.attempts == 2
    assert job.error_message.startswith("worker lost (exit code -9 = SIGKILL, possibly out of memory)")
    # and the worker serves the next job
    nxt = live_worker.wait_status(live_worker.create("after the kills"), timeout=60)
    assert nxt.status == JobStatus.SUCCEEDED


def test_whole_worker_killed_then_restarted_recovers_its_job(tmp_path, start_worker):
    settings = make_settings(tmp_path / "data")
    worker = start_worker(settings, "gpu-a")
    job_id = worker.create("slow", steps=400)
    job = wait_for(lambda: (lambda j: j if j.status == JobStatus.RUNNING else None)(worker.store.get(job_id)), 30,
                   what="job running")
    child = job.worker_pid
    os.killpg(worker.proc.pid, signal.SIGKILL)  # supervisor and child at once: nobody sees an exit code
    worker.proc.popen.wait(timeout=10)
    wait_for(lambda: not _pid_alive(child), 10, what="child to die with its supervisor")
    assert worker.store.get(job_id).status == JobStatus.RUNNING  # stuck until someone recovers it
    worker2 = start_worker(settings, "gpu-a")  # same name: recovered at once on start, and run again
    job = wait_for(lambda: (lambda j: j if j.status == JobStatus.RUNNING and j.attempts == 2 else None)(
        worker2.store.get(job_id)), 30, what="the job to run again")
    assert job.worker_pid != child and "restarted while running it" in job.warnings[0]
    worker2.store.request_cancel(job_id)  # (it would take a minute at this speed)
    assert worker2.wait_status(job_id, timeout=15).status == JobStatus.CANCELED


def test_reaper_recovers_a_job_with_a_stale_heartbeat(tmp_path, start_worker):
    settings = make_settings(tmp_path / "data", heartbeat_timeout_s=2.0)
    worker = start_worker(settings, "gpu-b")
    job_id = worker.create("slow", steps=400)
    wait_for(lambda: worker.store.get(job_id).status == JobStatus.RUNNING, 30, what="job running")
    os.killpg(worker.proc.pid, signal.SIGKILL)
    worker.proc.popen.wait(timeout=10)
    reaper = Reaper(worker.store, settings, worker.celery_app)
    wait_for(lambda: reaper.run_once()["recovered"], 10, interval=0.5, what="reaper to recover the job")
    job = worker.store.get(job_id)
    assert job.status == JobStatus.QUEUED and "stopped sending heartbeats" in job.warnings[0]
    other = start_worker(settings, "gpu-c")  # another worker takes it over
    job = wait_for(lambda: (lambda j: j if j.status == JobStatus.RUNNING else None)(other.store.get(job_id)), 30,
                   what="another worker to take the job")
    assert job.worker == "gpu-c" and job.attempts == 2
    other.store.request_cancel(job_id)
    assert other.wait_status(job_id, timeout=15).status == JobStatus.CANCELED


def test_stopping_a_worker_puts_its_running_job_back_without_counting(tmp_path, start_worker):
    settings = make_settings(tmp_path / "data")
    worker = start_worker(settings, "gpu-d")
    job_id = worker.create("slow", steps=400)
    wait_for(lambda: worker.store.get(job_id).status == JobStatus.RUNNING, 30, what="job running")
    assert worker.proc.stop(timeout=30) == 0
    job = worker.store.get(job_id)
    assert job.status == JobStatus.QUEUED and job.attempts == 0, job_data(job)
    assert not [w for w in WorkerRegistry(worker.store).live() if w.name == "gpu-d"]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); check its state
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.gpu
def test_real_cuda_oom_fails_the_job_and_the_worker_keeps_serving(tmp_path, start_worker):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    worker = start_worker(make_settings(tmp_path / "data", device="cuda"), "gpu-oom")
    oom, after = worker.create("realoom"), worker.create("fine afterwards")
    jobs = {j.id: j for j in worker.wait_all([oom, after], timeout=120)}
    assert jobs[oom].status == JobStatus.FAILED and jobs[oom].error_code == "out_of_memory"
    assert "out of memory" in jobs[oom].error_message.lower() and "--memory low" in jobs[oom].error_message
    assert jobs[after].status == JobStatus.SUCCEEDED
    assert {pid for pid, _ in worker.runs()} == {worker.child_pid()}  # same process: it was not restarted


def test_a_job_stuck_past_the_time_limit_is_failed_and_its_child_replaced(tmp_path, start_worker):
    from datetime import timedelta

    from text2video.jobs.tables import utcnow

    settings = make_settings(tmp_path / "data", job_timeout_s=3600)
    worker = start_worker(settings, "gpu-e")
    job_id = worker.create("slow", steps=400)
    job = wait_for(lambda: (lambda j: j if j.status == JobStatus.RUNNING else None)(worker.store.get(job_id)), 30,
                   what="job running")
    # as if it had started two hours ago (a child stuck in one step never checks the limit itself)
    worker.store.set_fields(job_id, started_at=utcnow() - timedelta(hours=2))
    failed = worker.wait_status(job_id, "failed", timeout=20)
    assert failed.error_code == "timeout" and "TEXT2VIDEO_JOB_TIMEOUT_S" in failed.error_message
    wait_for(lambda: worker.child_pid() != job.worker_pid, 20, what="a fresh child")
    assert worker.wait_status(worker.create("next"), timeout=60).status == JobStatus.SUCCEEDED


def test_a_child_that_ran_jobs_is_replaced_at_once_kill_after_kill(tmp_path, start_worker):
    # Issue 13 item 4: the restart delay doubled after every short-lived child, even one killed mid-job, so
    # kill-to-retry grew 5.9, 8.8, 12.5, 20.2, 34.3 s. A child that claimed a job is replaced at once.
    settings = make_settings(tmp_path / "data", max_retries_on_worker_lost=6)
    worker = start_worker(settings, "gpu-kills")
    job_id = worker.create("slow kill me often", steps=2000)
    gaps = []
    for attempt in range(1, 6):
        kill_when_denoising(worker, job_id, attempt, 60)
        killed = time.monotonic()
        wait_for(lambda: (lambda j: j.status == JobStatus.RUNNING and j.attempts == attempt + 1)(
            worker.store.get(job_id)), 60, interval=0.05, what=f"retry {attempt}")
        gaps.append(round(time.monotonic() - killed, 2))
    # The supervisor starts the next child at once (its log: "exited ... restarting" then "child pid N started");
    # the doubling delay waited 1, 2, 4, 8, 16 s. What remains of kill-to-retry is the child's own start-up.
    delays = _restart_delays(worker.proc.output())
    assert len(delays) == 5 and all(delay < 1.5 for delay in delays), delays
    assert max(gaps) < min(gaps) + 10, gaps
    worker.store.request_cancel(job_id)
    assert worker.wait_status(job_id, timeout=15).status == JobStatus.CANCELED


def _restart_delays(log: str) -> list[float]:
    """Seconds between each "child pid N exited ...; restarting" line of a supervisor's log and the next start."""
    from datetime import datetime

    stamp = r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})"
    events = re.findall(stamp + r" \S+ \S+: worker \S+: child pid \d+ (exited|started)", log)
    times = [(datetime.strptime(t, "%Y-%m-%d %H:%M:%S,%f"), kind) for t, kind in events]
    return [(b[0] - a[0]).total_seconds() for a, b in zip(times, times[1:]) if a[1] == "exited" and b[1] == "started"]


def test_restart_delay_backs_off_only_for_a_child_that_dies_on_start(service_settings):
    from text2video.jobs.worker import Supervisor

    supervisor = Supervisor(service_settings, "policy", restart_backoff_s=1.0)
    delays, delay = [], 0.0
    for _ in range(7):  # dies 2 s after starting, never claiming a job (bad models folder)
        delay = supervisor.restart_delay(False, 2.0, delay)
        delays.append(delay)
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert supervisor.restart_delay(True, 2.0, 30.0) == 0.0  # claimed a job before dying: at once
    assert supervisor.restart_delay(False, 120.0, 30.0) == 0.0  # ran well past its start-up: at once


def _temporaries(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) if folder.is_dir() else []


def test_a_worker_killed_while_encoding_leaves_no_temporary_file(tmp_path, start_worker):
    # Issue 13 item 3: a job killed while encoding, then succeeded on attempt 2, kept a 0-byte
    # .result.<hex>.part.gif for good. The retry starts in a folder without the dead attempt's temporaries.
    settings = make_settings(tmp_path / "data")
    worker = start_worker(settings, "gpu-enc")
    job_id = worker.create("slowencode")
    folder = settings.jobs_dir / job_id
    gif_temporary = re.compile(r"^\.result\.[0-9a-f]{8}\.part\.gif$")
    wait_for(lambda: [n for n in _temporaries(folder) if gif_temporary.match(n)], 30, interval=0.05,
             what="the GIF encoder's temporary file")
    job = worker.store.get(job_id)
    assert job.stage == JobStage.ENCODING
    os.kill(job.worker_pid, signal.SIGKILL)
    job = worker.wait_status(job_id, timeout=60)
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 2, job_data(job)
    assert _temporaries(folder) == []
    assert sorted(existing_files(settings, job_id) + [job.input_path("video")]) == sorted(p.name for p in folder.iterdir())


def test_the_reaper_sweeps_temporary_files_abandoned_for_an_hour(harness):
    job_id = harness.create("a dancer", enqueue_it=False)
    folder = harness.settings.jobs_dir / job_id
    old = folder / ".input.mp4.x1y2.part"  # serve killed mid-upload two hours ago
    old.write_bytes(b"half an upload")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    fresh = folder / ".result.1a2b3c4d.part.gif"  # a writer at work
    fresh.write_bytes(b"")
    counts = Reaper(harness.store, harness.settings, harness.celery_app).run_once()
    assert counts["temporaries"] == 1
    assert _temporaries(folder) == [fresh.name] and (folder / "input.mp4").is_file()
