"""`manage.py serve` as a real process: API (waitress) + worker, banner, clean stop, restart with queued jobs,
tunnel failure with a generated API key."""

from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path

import psutil
import pytest
import requests

from text2video.jobs.fields import job_data
from text2video.jobs.status import JobStatus

from tests.media import make_video
from tests.service import make_settings, wait_for


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """A real 64x64 H.264 clip (the API probes uploads with PyAV)."""
    return make_video(tmp_path_factory.mktemp("clip") / "clip.mp4", 10, width=64, height=64, fps=10)


def submit(url: str, clip: Path, prompt: str = "a girl dancing", headers=None) -> dict:
    with open(clip, "rb") as fh:
        resp = requests.post(f"{url}/api/v1/jobs", data={"prompt": prompt, "steps": "2", "width": "64",
                                                         "height": "64"},
                             files={"video": ("clip.mp4", fh, "video/mp4")}, headers=headers or {}, timeout=30)
    assert resp.status_code == 202, resp.text
    return resp.json()


def test_serve_runs_api_and_worker_then_stops_both(tmp_path, start_server, clip):
    server = start_server(make_settings(tmp_path / "data"))
    assert f"Text2Video API: {server.url}" in server.banner and "Worker: serve-" in server.banner
    assert "serves the families follow-your-pose" in server.banner  # a demo folder has every family
    job = submit(server.url, clip)
    done = wait_for(lambda: (lambda j: j if j["status"] in ("succeeded", "failed") else None)(
        requests.get(f"{server.url}/api/v1/jobs/{job['id']}", timeout=10).json()), 90, what="job via HTTP")
    assert done["status"] == "succeeded", done
    resp = requests.get(server.url + done["files"]["result.mp4"], timeout=10)
    assert resp.status_code == 200 and resp.content == b"result.mp4"  # what the (tiny) engine wrote
    health = requests.get(f"{server.url}/api/v1/health", timeout=10).json()
    assert health["workers"]["alive"] == 1

    family = [server.proc.pid] + [p.pid for p in psutil.Process(server.proc.pid).children(recursive=True)]
    assert len(family) >= 3  # serve -> worker supervisor -> Celery child
    started = time.monotonic()
    server.proc.signal(signal.SIGINT)  # Ctrl+C
    assert server.proc.popen.wait(timeout=30) == 0
    assert time.monotonic() - started < 25  # (an idle worker is stopped at once; generous for a loaded CI box)
    wait_for(lambda: not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
                             for p in family), 20, what="every process of serve to exit")
    assert "stopped" in server.proc.output()


def test_api_restart_loses_no_queued_job(tmp_path, start_server, clip):
    settings = make_settings(tmp_path / "data")
    api_only = start_server(settings, "--no-worker")
    assert "No worker here" in api_only.banner
    ids = [submit(api_only.url, clip, prompt=f"job {i}")["id"] for i in range(3)]
    # and one job whose message never reached the broker (a crash between the row and the message)
    lost = api_only.create("lost message", enqueue_it=False)
    api_only.proc.signal(signal.SIGTERM)
    assert api_only.proc.popen.wait(timeout=30) == 0
    assert all(api_only.store.get(i).status == JobStatus.QUEUED for i in [*ids, lost])

    full = start_server(settings)
    jobs = full.wait_all([*ids, lost], timeout=120)
    assert all(j.status == JobStatus.SUCCEEDED for j in jobs), [job_data(j) for j in jobs]
    counts = Counter(j for _, j in full.runs())
    assert all(counts[i] == 1 for i in [*ids, lost]), counts  # each exactly once despite the re-sent messages


def test_tunnel_that_cannot_start_keeps_serving_locally_with_a_key(tmp_path, start_server):
    settings = make_settings(tmp_path / "data")
    env = {"NGROK_AUTHTOKEN": "", "TEXT2VIDEO_NGROK_AUTHTOKEN": ""}
    server = start_server(settings, "--no-worker", "--tunnel", env_extra=env)
    assert "Tunnel not started: no ngrok auth token" in server.banner and "Serving locally only" in server.banner
    key_line = [line for line in server.banner.splitlines() if line.startswith("API key: ")][0]
    key = key_line.split()[2]
    assert key == (Path(settings.data_dir) / "api_key").read_text().strip()
    assert requests.get(f"{server.url}/api/v1/jobs", timeout=10).status_code == 401
    ok = requests.get(f"{server.url}/api/v1/jobs", headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert ok.status_code == 200


def test_port_in_use_is_a_one_line_error(tmp_path):
    import socket
    import subprocess
    import sys

    from tests.service import ROOT, process_env

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        settings = make_settings(tmp_path / "data")
        out = subprocess.run([sys.executable, str(ROOT / "manage.py"), "serve", "--no-worker", "--port", str(port)],
                             env=process_env(settings), capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in out.stderr and "--port" in out.stderr
    assert "Traceback" not in out.stderr
