"""End to end over real HTTP: the app under waitress, a real ``manage.py worker`` process running the real Engine
on the tiny demo weights, the SQLite store and broker. Submit -> progress -> succeeded -> download (range) -> play;
cancel while running; /generate returning the MP4. (A client hanging up: test_waitress.py.)"""

from __future__ import annotations

import io
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import av
import pytest
import requests

from tests.api.helpers import serve_in_thread
from text2video.api import create_app
from text2video.jobs.store import JobStore
from text2video.jobs.workers import WorkerRegistry
from text2video.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "assets" / "sample_skeleton.mp4"
SMALL = {"steps": "2", "frames": "4", "width": "64", "height": "64", "seed": "1", "input_type": "skeleton"}


@dataclass
class Live:
    url: str
    settings: Settings
    store: JobStore
    worker: subprocess.Popen
    log: Path

    def submit(self, **fields) -> dict:
        with open(SAMPLE, "rb") as fh:
            resp = requests.post(f"{self.url}/api/v1/jobs", data={"prompt": "a robot dancing", **SMALL, **fields},
                                 files={"video": ("sample.mp4", fh, "video/mp4")}, timeout=60)
        assert resp.status_code == 202, resp.text
        return resp.json()

    def wait(self, job_id: str, predicate, timeout: float = 120.0, seen: list | None = None) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = requests.get(f"{self.url}/api/v1/jobs/{job_id}", timeout=10).json()
            if seen is not None:
                seen.append((job["status"], job["stage"], job["step"]))
            if predicate(job):
                return job
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} did not get there in {timeout} s; last: {job}\n"
                             f"worker log:\n{self.log.read_text(errors='replace')[-3000:]}")


@pytest.fixture(scope="module")
def live(tmp_path_factory, demo_models):
    from waitress import create_server

    from text2video.jobs.worker import settings_env

    root = tmp_path_factory.mktemp("api-live")
    settings = Settings.load({"data_dir": root / "data", "models_dir": "demo", "min_free_disk_mb": 1,
                              "sync_wait_s": 120.0, "heartbeat_interval_s": 0.5, "reaper_interval_s": 1.0,
                              "device": "cpu"}, environ={})
    app = create_app(settings)
    store = app.extensions["text2video"].store
    # channel_request_lookahead lets waitress notice a client that hangs up (the /generate wait stops early)
    server = create_server(app, host="127.0.0.1", port=0, threads=8, channel_request_lookahead=1)
    serve_in_thread(server)
    log = root / "worker.log"
    with open(log, "wb") as out:
        worker = subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "worker", "--name", "api-live-worker"],
                                  env=settings_env(settings), cwd=str(ROOT), stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    live = Live(f"http://127.0.0.1:{server.effective_port}", settings, store, worker, log)
    deadline = time.monotonic() + 120
    while not any(w.name == "api-live-worker" for w in WorkerRegistry(store).live(within_s=30)):
        assert worker.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
        time.sleep(0.2)
    yield live
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
    server.close()


def test_submit_progress_succeed_download_play(live):
    job = live.submit()
    seen: list = []
    done = live.wait(job["id"], lambda j: j["status"] in ("succeeded", "failed", "canceled"), seen=seen)
    assert done["status"] == "succeeded", done["error"]
    assert done["demo"] is True and done["progress"] == 1 and done["input_kind"] == "skeleton"
    assert done["english_prompt"] and done["fps"] and done["finished_at"] and done["started_at"]
    assert {"result.mp4", "result.gif", "side_by_side.mp4", "skeleton.mp4"} <= set(done["files"])
    assert ("queued", None, 0) in seen or seen[0][0] in ("queued", "running")
    health = requests.get(f"{live.url}/api/v1/health", timeout=10).json()
    assert health["workers"]["alive"] == 1 and health["models"]["present"]

    url = live.url + done["files"]["result.mp4"]
    full = requests.get(url, timeout=10)
    assert full.status_code == 200 and full.headers["Content-Type"] == "video/mp4"
    part = requests.get(url, headers={"Range": "bytes=32-1055"}, timeout=10)
    assert part.status_code == 206 and part.content == full.content[32:1056]
    with av.open(io.BytesIO(full.content)) as container:
        frames = [f for f in container.decode(video=0)]
    assert len(frames) == 4 and (frames[0].width, frames[0].height) == (64, 64)
    gif = requests.get(live.url + done["files"]["result.gif"], timeout=10)
    assert gif.headers["Content-Type"] == "image/gif" and gif.content[:4] == b"GIF8"


def test_cancel_while_running(live):
    job = live.submit(steps="150")
    live.wait(job["id"], lambda j: j["status"] == "running" and j["stage"] == "generating" and j["step"] >= 1)
    resp = requests.post(f"{live.url}/api/v1/jobs/{job['id']}/cancel", timeout=10)
    assert resp.status_code == 202 and resp.json()["cancel_requested"] is True
    done = live.wait(job["id"], lambda j: j["status"] != "running", timeout=60)
    assert done["status"] == "canceled" and done["step"] < 150
    assert "result.mp4" not in done["files"]
    assert not (live.settings.jobs_dir / job["id"] / "result.mp4").exists()
    assert requests.post(f"{live.url}/api/v1/jobs/{job['id']}/cancel", timeout=10).status_code == 409


def test_generate_sync_returns_the_mp4(live):
    with open(SAMPLE, "rb") as fh:
        resp = requests.post(f"{live.url}/generate", data={"prompt": "Cô gái nhảy", "step": "1", "lang": "1",
                                                           **{k: v for k, v in SMALL.items() if k != "steps"}},
                             files={"video": ("a.mp4", fh, "video/mp4")}, timeout=150)
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "video/mp4", resp.text[:500]
    with av.open(io.BytesIO(resp.content)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 4
    job = live.store.get(resp.headers["X-Job-Id"])
    assert job.language == "vi" and job.params["lang"] == "vi" and job.params["steps"] == 1
