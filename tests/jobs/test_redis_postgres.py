"""The scale-out path: PostgreSQL job store and Redis broker on localhost (skipped with a reason when absent).

Each session works in its own throw-away PostgreSQL database and its own Redis database number, flushed first.
"""

from __future__ import annotations

import os
import signal
import uuid
from collections import Counter

import pytest

from text2video.jobs.fields import job_data
from text2video.jobs.queue import enqueue
from text2video.jobs.status import JobStatus
from text2video.jobs.store import JobStore

from tests.service import PG_ADMIN_URL, check_upgrade_from_version_1, make_settings, race_to_claim, reachable, wait_for

pytestmark = pytest.mark.services

REDIS_URL = os.environ.get("TEXT2VIDEO_TEST_REDIS", "redis://127.0.0.1:6379/13")


@pytest.fixture(scope="module")
def redis_url():
    if not reachable("127.0.0.1", 6379):
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield REDIS_URL
    client.flushdb()


@pytest.fixture
def pg_store(pg_url):
    store = JobStore(pg_url)
    store.create_tables()
    yield store
    with store.engine.begin() as conn:
        from sqlalchemy import text
        conn.execute(text("DELETE FROM t2v_jobs"))
        conn.execute(text("DELETE FROM t2v_workers"))
    store.dispose()


def test_postgres_version_1_database_upgraded_in_place(pg_url):
    psycopg = pytest.importorskip("psycopg")
    name = f"t2v_test_{uuid.uuid4().hex[:10]}"  # an empty database of its own: the old tables are made by hand
    admin = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        check_upgrade_from_version_1(admin.rsplit("/", 1)[0] + "/" + name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_postgres_store_crud_paging_and_cancel(pg_store):
    ids = [pg_store.create({"steps": 2}, {"video": "input.mp4"}, f"Cô gái {i}").id for i in range(5)]
    page, total = pg_store.list(page=1, per_page=2)
    assert total == 5 and [j.id for j in page] == ids[::-1][:2]
    assert pg_store.get(ids[0]).prompt == "Cô gái 0" and pg_store.get(ids[0]).created_at.tzinfo is not None
    assert pg_store.claim(ids[0], "w", 1).attempts == 1
    assert pg_store.request_cancel(ids[0]).cancel_requested
    assert pg_store.request_cancel(ids[1]).status == JobStatus.CANCELED
    assert pg_store.recover_lost(ids[0], exit_code=-9, max_retries=1) == "canceled"
    pg_store.create_tables()  # idempotent, version checked
    assert pg_store.count_by_status()["canceled"] == 2


def test_postgres_claim_exactly_once_under_threads(pg_store):
    jobs = [pg_store.create({}, {"video": "input.mp4"}, "p").id for _ in range(15)]
    wins = [job_id for job_id, _ in race_to_claim(pg_store, jobs, contenders=6)]
    assert sorted(wins) == sorted(jobs)


def test_redis_broker_and_postgres_store_with_a_live_worker(tmp_path, start_worker, pg_store, pg_url, redis_url):
    settings = make_settings(tmp_path / "data", database_url=pg_url, broker_url=redis_url)
    worker = start_worker(settings, "redis-pg-worker")
    ids = [worker.create(f"job {i}", steps=1) for i in range(10)]
    for job_id in ids[:5]:
        enqueue(worker.celery_app, job_id)  # duplicates
    jobs = worker.wait_all(ids, timeout=60)
    assert all(j.status == JobStatus.SUCCEEDED for j in jobs), [job_data(j) for j in jobs]
    assert all(n == 1 for n in Counter(j for _, j in worker.runs()).values())

    # a killed child on Redis: the supervisor re-queues the job, the fresh child runs it again
    slow = worker.create("slow", steps=300)
    job = wait_for(lambda: (lambda j: j if j.status == JobStatus.RUNNING else None)(worker.store.get(slow)), 30,
                   what="slow job running")
    os.kill(job.worker_pid, signal.SIGKILL)
    again = wait_for(lambda: (lambda j: j if j.status == JobStatus.RUNNING and j.attempts == 2 else None)(
        worker.store.get(slow)), 40, what="slow job re-run on a fresh child")
    assert again.worker_pid != job.worker_pid and "exit code -9" in again.warnings[0]
    worker.store.request_cancel(slow)
    assert worker.wait_status(slow, timeout=15).status == JobStatus.CANCELED
