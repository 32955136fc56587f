"""Real worker processes (`manage.py worker`: supervisor + Celery child, SQLite store and broker) on the tiny test
engine: outcomes, cancel, OOM, exactly-once under duplicates, and jobs of killed workers."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter

import pytest

from text2video.api.links import job_document
from text2video.jobs.fields import job_data
from text2video.jobs.queue import enqueue
from text2video.jobs.status import JobStatus
from text2video.jobs.worker import Reaper
from text2video.jobs.workers import WorkerRegistry

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
