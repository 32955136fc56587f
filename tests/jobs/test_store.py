"""Job store on SQLite (and PostgreSQL where said): CRUD, paging, cancel rules, the per-key limit under parallel
creators, exactly-once claim under threads and processes, recovery."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
from datetime import timedelta

import pytest

from text2video.exceptions import Conflict, NotFound, ServiceUnavailable
from text2video.jobs.status import JobStage, JobStatus
from text2video.api.links import job_document
from text2video.jobs.outbox import Outbox
from text2video.jobs.store import JobStore, QueueFull
from text2video.jobs.tables import SCHEMA_VERSION, Job, utcnow
from text2video.jobs.workers import WorkerRegistry, describe_exit

from tests.service import check_upgrade_from_version_1, race_to_claim


def new_job(store, prompt="a girl dancing", **kw):
    return store.create({"steps": 3, "seed": 1}, {"video": "input.mp4"}, prompt, None, **kw)


def test_create_get_roundtrip_and_json(store, service_settings):
    job = store.create({"steps": 7, "guidance_scale": 9.5}, {"video": "input.mp4"}, "Cô gái nhảy", "blurry",
                       api_key_id="k1", callback_url="https://example.org/hook", video_url="https://e.org/v.mp4")
    assert len(job.id) == 32 and int(job.id, 16) >= 0
    got = store.get(job.id)
    data = job_document(got, service_settings)
    assert data["status"] == "queued" and data["stage"] is None and data["progress"] == 0.0
    assert data["prompt"] == "Cô gái nhảy" and data["negative_prompt"] == "blurry"
    assert data["params"] == {"steps": 7, "guidance_scale": 9.5} and data["total_steps"] == 7
    assert data["created_at"].endswith("Z") and data["finished_at"] is None and data["error"] is None
    assert data["links"] == {"self": f"/api/v1/jobs/{job.id}", "cancel": f"/api/v1/jobs/{job.id}/cancel"}
    assert data["files"] == {} and data["attempts"] == 0 and data["cancel_requested"] is False
    assert got.created_at.tzinfo is not None
    assert store.get("0" * 32) is None and store.get("../etc") is None


def test_list_pages_newest_first_and_filters(store):
    ids = [new_job(store, prompt=f"p{i}", api_key_id="a" if i % 2 else "b").id for i in range(7)]
    page1, total = store.list(page=1, per_page=3)
    page3, _ = store.list(page=3, per_page=3)
    assert total == 7
    assert [j.id for j in page1] == ids[::-1][:3]
    assert [j.id for j in page3] == [ids[0]]
    assert store.list(page=9, per_page=3) == ([], 7)
    store.claim(ids[0], "w", 1)
    running, n = store.list(status=JobStatus.RUNNING)
    assert n == 1 and running[0].id == ids[0]
    assert store.list(status="queued")[1] == 6
    assert store.list(api_key_id="a")[1] == 3
    assert store.count_active("a") == 3 and store.count_active("b") == 4 and store.count_active(None) == 0
    assert store.queue_depth() == 6
    assert store.count_by_status()["running"] == 1


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'jobs.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    store = JobStore(url)
    store.create_tables()
    yield store
    with store.session() as s:
        s.query(Job).delete()
    store.dispose()


def test_create_with_a_limit_counts_and_inserts_atomically(any_store):
    """Rounds of 32 threads (each its own connection) released together, each creating one job of the round's key
    with a limit of 3: exactly 3 rows per key, every time."""
    import threading

    def burst(key: str) -> list:
        outcomes, start = [], threading.Barrier(32)

        def creator() -> None:
            start.wait()
            try:
                outcomes.append(new_job(any_store, api_key_id=key, max_active=3).id)
            except QueueFull as full:
                outcomes.append(full.limit)

        threads = [threading.Thread(target=creator) for _ in range(32)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return outcomes

    for key in ("k0", "k1", "k2", "k3", "k4"):
        outcomes = burst(key)
        assert any_store.count_active(key) == 3 and outcomes.count(3) == 29, f"{key}: {outcomes}"
    assert any_store.list(per_page=100)[1] == 15  # a refused job leaves no row
    created = [j.id for j in any_store.list(per_page=100, api_key_id="k0")[0]]
    any_store.mark_canceled(created[0])
    new_job(any_store, api_key_id="k0", max_active=3)  # a finished job frees its slot
    with pytest.raises(QueueFull):
        new_job(any_store, api_key_id="k0", max_active=3)
    new_job(any_store, max_active=3)  # no key: a key of its own


def test_cancel_rules(store):
    queued, running, done = new_job(store), new_job(store), new_job(store)
    store.claim(running.id, "w", 1)
    store.claim(done.id, "w", 1)
    store.mark_succeeded(done.id, "w")

    c = store.request_cancel(queued.id)
    assert c.status == JobStatus.CANCELED and c.finished_at is not None and c.error_code == "canceled"
    r = store.request_cancel(running.id)
    assert r.status == JobStatus.RUNNING and r.cancel_requested
    assert store.is_cancel_requested(running.id)
    with pytest.raises(Conflict) as exc:
        store.request_cancel(done.id)
    assert exc.value.http_status == 409 and "succeeded" in str(exc.value)
    with pytest.raises(NotFound):
        store.request_cancel("f" * 32)
    # a canceled queued job can no longer be claimed: its message is skipped
    assert store.claim(queued.id, "w", 1) is None
    # canceling again is idempotent
    assert store.request_cancel(queued.id).status == JobStatus.CANCELED


def test_progress_only_from_the_owning_worker_and_warnings_merge(store, service_settings):
    job = new_job(store)
    assert store.claim(job.id, "w1", 11).attempts == 1
    assert not store.update_progress(job.id, "intruder", progress=0.9)
    assert store.update_progress(job.id, "w1", stage=JobStage.GENERATING, progress=0.5, step=2, total_steps=4,
                                 eta_seconds=3.0, english_prompt="a girl", warnings=["first"])
    assert store.update_progress(job.id, "w1", stage="generating", warnings=["second"])
    got = store.get(job.id)
    assert got.stage == JobStage.GENERATING and got.step == 2 and got.total_steps == 4
    assert got.warnings == ["first", "second"] and got.english_prompt == "a girl"
    with pytest.raises(TypeError):
        store.update_progress(job.id, "w1", bogus=1)
    with pytest.raises(TypeError):  # a job's files are what its folder holds, not a stored list
        store.update_progress(job.id, "w1", files=["skeleton.mp4"])
    assert store.mark_succeeded(job.id, "w1", warnings=["second", "third"], fps=6.0)
    got = store.get(job.id)
    assert got.status == JobStatus.SUCCEEDED and got.progress == 1.0 and got.fps == 6.0
    assert got.warnings == ["first", "second", "third"]
    assert "cancel" not in job_document(got, service_settings)["links"]
    # a finished job is never written again by a late worker
    assert not store.mark_failed(job.id, "x", "late", worker="w1")
    assert not store.update_progress(job.id, "w1", progress=0.1)


def test_delete(store):
    job = new_job(store)
    assert store.delete(job.id) and store.get(job.id) is None and not store.delete(job.id)
    assert store.is_cancel_requested(job.id)  # the worker of a deleted job stops


def test_claim_exactly_once_under_threads(store):
    jobs = [new_job(store).id for _ in range(10)]
    wins = race_to_claim(store, jobs, contenders=8)
    assert sorted(j for j, _ in wins) == sorted(jobs)  # each job claimed exactly once
    for job_id, n in wins:
        got = store.get(job_id)
        assert got.worker == f"w{n}" and got.attempts == 1


def _claim_all(url: str, jobs: list[str], n: int, queue) -> None:
    store = JobStore(url)
    queue.put([j for j in jobs if store.claim(j, f"proc{n}", n) is not None])


def test_claim_exactly_once_across_processes(store):
    jobs = [new_job(store).id for _ in range(20)]
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_claim_all, args=(store.database_url, jobs, n, queue)) for n in range(3)]
    for p in procs:
        p.start()
    won = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    flat = [j for part in won for j in part]
    assert sorted(flat) == sorted(jobs), won


def _create_many(url: str, start, queue) -> None:
    store = JobStore(url)
    start.wait()
    made = 0
    for _ in range(8):
        try:
            new_job(store, api_key_id="k", max_active=5)
            made += 1
        except QueueFull:
            pass
    queue.put(made)


def test_create_with_a_limit_across_processes(store):
    """Several API processes on one SQLite file: 3 processes x 8 submissions of one key, limit 5 -> 5 rows."""
    ctx = mp.get_context("spawn")
    queue, start = ctx.Queue(), ctx.Barrier(3)
    procs = [ctx.Process(target=_create_many, args=(store.database_url, start, queue)) for _ in range(3)]
    for p in procs:
        p.start()
    made = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    assert sum(made) == 5 and store.count_active("k") == 5, made


def test_recover_lost_retries_once_then_fails_with_exit_code(store):
    job = new_job(store)
    store.claim(job.id, "w", 100)
    assert store.recover_lost(job.id, exit_code=-9, max_retries=1, worker="w", worker_pid=999) is None  # not ours
    assert store.recover_lost(job.id, exit_code=-9, max_retries=1, worker="w", worker_pid=100) == "requeued"
    got = store.get(job.id)
    assert got.status == JobStatus.QUEUED and got.worker is None and got.attempts == 1
    assert "exit code -9 = SIGKILL" in got.warnings[0]
    store.claim(job.id, "w", 101)
    assert store.recover_lost(job.id, exit_code=-9, max_retries=1, worker="w", worker_pid=101) == "failed"
    got = store.get(job.id)
    assert got.status == JobStatus.FAILED and got.error_code == "worker_lost" and got.attempts == 2
    assert got.error_message.startswith("worker lost (exit code -9 = SIGKILL, possibly out of memory)")
    assert store.recover_lost(job.id, exit_code=-9, max_retries=1) is None  # finished: nothing to do


def test_recover_planned_stop_does_not_count_and_cancel_wins(store):
    job = new_job(store)
    store.claim(job.id, "w", 1)
    assert store.recover_lost(job.id, exit_code=0, max_retries=0, count_attempt=False) == "requeued"
    assert store.get(job.id).attempts == 0
    store.claim(job.id, "w", 2)
    store.request_cancel(job.id)
    assert store.recover_lost(job.id, exit_code=-9, max_retries=5) == "canceled"
    assert store.get(job.id).status == JobStatus.CANCELED


def test_stale_running_uses_heartbeat(store):
    a, b = new_job(store), new_job(store)
    store.claim(a.id, "w", 1)
    store.claim(b.id, "w", 1)
    store.set_fields(a.id, heartbeat_at=utcnow() - timedelta(seconds=120))
    assert [j.id for j in store.stale_running(60)] == [a.id]
    assert store.heartbeat(a.id, "w")
    assert store.stale_running(60) == []
    assert not store.heartbeat(a.id, "other-worker")


def test_describe_exit():
    assert describe_exit(-9) == "worker lost (exit code -9 = SIGKILL, possibly out of memory)"
    assert describe_exit(137) == "worker lost (exit code 137, possibly out of memory)"
    assert "unknown" in describe_exit(None)


def test_deliveries_become_due_in_the_finishing_transaction(store, service_settings):
    both = {"callback_url": "https://example.org/h", "push_url": "https://site.example/senddata"}
    failed, succeeded, without = new_job(store, **both), new_job(store, **both), new_job(store)
    assert {d.kind: d.status for d in store.get(failed.id).deliveries} == {"push": "scheduled",
                                                                          "webhook": "scheduled"}
    assert Outbox(store).due() == []  # nothing is owed while the jobs run
    for j in (failed, succeeded, without):
        store.claim(j.id, "w", 1)
    store.mark_failed(failed.id, "no_person", "nobody there", worker="w")
    store.mark_succeeded(succeeded.id, "w")
    store.mark_succeeded(without.id, "w")
    assert {d.kind: d.status for d in store.get(failed.id).deliveries} == {"push": "skipped", "webhook": "pending"}
    assert {d.kind: d.status for d in store.get(succeeded.id).deliveries} == {"push": "pending",
                                                                             "webhook": "pending"}
    assert store.get(without.id).deliveries == [] and job_document(store.get(without.id), service_settings)["deliveries"] == {}
    queued = new_job(store, **both)
    store.request_cancel(queued.id)
    assert {d.kind: d.status for d in store.get(queued.id).deliveries} == {"push": "skipped", "webhook": "pending"}
    assert {(d.job_id, d.kind) for d in Outbox(store).due()} == {
        (failed.id, "webhook"), (succeeded.id, "webhook"), (succeeded.id, "push"), (queued.id, "webhook")}
    assert job_document(store.get(succeeded.id), service_settings)["deliveries"]["push"] == {
        "status": "pending", "attempts": 0, "error": None,
        "next_attempt_at": job_document(store.get(succeeded.id), service_settings)["finished_at"]}
    assert store.delete(succeeded.id) and {d.job_id for d in Outbox(store).due()} == {failed.id, queued.id}


def test_version_1_database_upgraded_in_place(service_settings):
    service_settings.data_dir.mkdir(parents=True)
    check_upgrade_from_version_1(service_settings.database_url)


def test_sqlite_is_wal_and_schema_version_is_checked(store, service_settings):
    path = service_settings.database_url[len("sqlite:///"):]
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.execute("UPDATE t2v_schema SET version = ?", (SCHEMA_VERSION + 1,))
    other = JobStore(service_settings.database_url)
    with pytest.raises(ServiceUnavailable) as exc:
        other.create_tables()
    assert f"schema version {SCHEMA_VERSION + 1}" in str(exc.value)


def test_worker_records(store):
    registry = WorkerRegistry(store)
    registry.heartbeat("gpu0", hostname="h", pid=5, device="cuda")
    registry.heartbeat("gpu1", hostname="h", pid=6)
    registry.heartbeat("gpu1", hostname="h", pid=None, stopped=True)
    alive = [w.to_dict() for w in registry.live()]
    assert [w["name"] for w in alive] == ["gpu0"] and alive[0]["device"] == "cuda"


@pytest.mark.parametrize("count_attempt", [True, False])
def test_a_job_that_succeeds_after_a_retry_says_it_recovered(store, count_attempt):
    """Issue 20 item 6: a succeeded job listed "attempt 1: ...; retrying" among its notes and nothing else."""
    from text2video.jobs.fields import job_data

    job = new_job(store)
    store.claim(job.id, "w1", 11)
    assert store.recover_lost(job.id, exit_code=None, max_retries=1, worker="w1", count_attempt=count_attempt,
                              reason="worker stopped by the operator") == "requeued"
    store.claim(job.id, "w2", 12)
    assert store.mark_succeeded(job.id, "w2", warnings=["a stage note"])
    data = job_data(store.get(job.id))
    assert data["warnings"] == ["attempt 1: worker stopped by the operator; retrying", "a stage note",
                                "recovered: the retry succeeded"], data["warnings"]
    assert data["messages"]["warnings"][2] == [{"code": "job.recovered", "params": {}}]


def test_a_job_without_retries_has_no_recovery_note(store):
    job = new_job(store)
    store.claim(job.id, "w1", 11)
    assert store.mark_succeeded(job.id, "w1")
    assert store.get(job.id).warnings == []
