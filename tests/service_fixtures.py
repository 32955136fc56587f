"""Service fixtures (registered by tests/conftest.py): settings in a temporary data folder, live worker and API
server subprocesses (the helpers live in tests/service.py)."""

from __future__ import annotations

import uuid

import pytest

from tests.service import (PG_ADMIN_URL, Harness, LiveServer, LiveWorker, make_settings, reachable,
                           start_server_process, start_worker_process)
from text2video.jobs.store import JobStore
from text2video.settings import Settings


# --- fixtures -----------------------------------------------------------------------------------------------------
@pytest.fixture
def service_settings(tmp_path) -> Settings:
    return make_settings(tmp_path / "data")


@pytest.fixture
def store(service_settings) -> JobStore:
    s = JobStore(service_settings.database_url)
    s.create_tables()
    yield s
    s.dispose()


@pytest.fixture
def harness(service_settings) -> Harness:
    return Harness(service_settings)


@pytest.fixture(scope="module")
def pg_url():
    """A throw-away PostgreSQL database on 127.0.0.1:5432 for one test module (skipped with a reason when absent)."""
    if not reachable("127.0.0.1", 5432):
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    psycopg = pytest.importorskip("psycopg")
    name = f"t2v_test_{uuid.uuid4().hex[:10]}"
    admin = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        pytest.skip(f"cannot create a PostgreSQL test database via {admin}: {exc}")
    yield admin.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def live_worker(tmp_path_factory):
    """One shared worker (tiny engine) for the session; tests must not leave it stopped."""
    root = tmp_path_factory.mktemp("live-worker")
    worker = start_worker_process(make_settings(root / "data"), "live-worker", root)
    yield worker
    worker.proc.stop()


@pytest.fixture
def start_worker(tmp_path):
    """Factory: start_worker(settings, name) -> LiveWorker; every worker started is stopped afterwards."""
    started: list[LiveWorker] = []

    def start(settings: Settings, name: str, **kwargs) -> LiveWorker:
        worker = start_worker_process(settings, name, tmp_path, **kwargs)
        started.append(worker)
        return worker
    yield start
    for w in started:
        w.proc.stop()


@pytest.fixture
def start_server(tmp_path):
    """Factory: start_server(settings, *serve_args) -> LiveServer (URL parsed from the banner)."""
    started: list[LiveServer] = []

    def start(settings: Settings, *args: str, **kwargs) -> LiveServer:
        server = start_server_process(settings, tmp_path, *args, **kwargs)
        started.append(server)
        return server
    yield start
    for s in started:
        s.proc.stop()
