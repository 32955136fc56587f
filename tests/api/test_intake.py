"""Submissions under load: the per-key queue limit holds when many clients submit at the same moment, on SQLite
(waitress threads sharing one file) and on PostgreSQL (READ COMMITTED), through the real server."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
import requests

from tests.api.helpers import HandWorker, base_config, serve_in_thread, store_of
from text2video.api import create_app

LIMIT = 20  # the default TEXT2VIDEO_MAX_QUEUED_PER_KEY, and the load of the fault-injection run (issue 13)
CLIENTS, EACH = 8, 5


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'jobs.db'}"
    return request.getfixturevalue("pg_url")


def _submit_all(url: str, video: bytes) -> Counter:
    """CLIENTS threads, released together, each POSTing EACH jobs; the status codes answered."""
    codes: Counter = Counter()
    start = threading.Barrier(CLIENTS)

    def client() -> None:
        with requests.Session() as http:
            start.wait()
            for _ in range(EACH):
                resp = http.post(f"{url}/api/v1/jobs", data={"prompt": "a dancer", "steps": "2"},
                                 files={"video": ("dance.mp4", video, "video/mp4")}, timeout=60)
                codes[resp.status_code] += 1

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return codes


def test_concurrent_submissions_never_exceed_the_per_key_limit(tmp_path, database_url, sample_video, sample_bytes):
    from waitress import create_server

    app = create_app(base_config(tmp_path, max_queued_per_key=LIMIT, database_url=database_url))
    store = store_of(app)
    server = create_server(app, host="127.0.0.1", port=0, threads=CLIENTS)
    serve_in_thread(server)
    url = f"http://127.0.0.1:{server.effective_port}"
    try:
        first = requests.post(f"{url}/api/v1/jobs", data={"prompt": "a long one"},
                              files={"video": ("dance.mp4", sample_bytes, "video/mp4")}, timeout=60)
        assert first.status_code == 202, first.text
        HandWorker(app, sample_video).claim(first.json()["id"])  # one long job running

        codes = _submit_all(url, sample_bytes)
        active = store.count_active(None)
        print(f"\n{database_url.split(':')[0]}: accepted {codes[202]} / 429 {codes[429]} / active {active}")
        assert active == LIMIT, f"{active} jobs active with a limit of {LIMIT} ({dict(codes)})"
        assert codes == Counter({202: LIMIT - 1, 429: CLIENTS * EACH - (LIMIT - 1)})
        jobs, total = store.list(per_page=100)
        assert total == LIMIT  # a refused submission leaves no row ...
        folders = sorted(p.name for p in app.extensions["text2video"].settings.jobs_dir.iterdir())
        assert folders == sorted(j.id for j in jobs)  # ... and no folder
    finally:
        server.close()
        store.dispose()
