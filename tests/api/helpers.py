"""Helpers for the API tests: app settings, a local HTTP server, and a "hand worker" that
drives a job through the store exactly as a worker does (claim, progress, files, outcome), so the API's behaviour
around running jobs is tested without model inference. The real worker process runs in test_live.py.
"""

from __future__ import annotations

import http.server
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from text2video import storage
from text2video.jobs.store import JobStore


def base_config(tmp_path: Path, **overrides) -> dict:
    config = {"data_dir": str(tmp_path / "data"), "min_free_disk_mb": 1, "api_keys": "", "cors_origins": "*",
              "sync_wait_s": 10.0, "max_queued_per_key": 50, "url_fetch_timeout_s": 10.0}
    config.update(overrides)
    return config


def store_of(app) -> JobStore:
    return app.extensions["text2video"].store


def settings_of(app):
    return app.extensions["text2video"].settings


def submit(client, video_bytes: bytes, filename: str = "dance.mp4", headers=None, **fields):
    data = {"prompt": "a girl dancing on a mountain", **{k: str(v) for k, v in fields.items()}}
    from io import BytesIO
    data["video"] = (BytesIO(video_bytes), filename)
    return client.post("/api/v1/jobs", data=data, content_type="multipart/form-data", headers=headers or {})


@dataclass
class HandWorker:
    """Runs one job through the store like the real worker: claim -> progress -> files (in the job folder; the
    API lists what is there) -> outcome."""

    app: object
    video: Path
    worker: str = "hand-worker"
    events: list = field(default_factory=list)

    def claim(self, job_id: str):
        job = store_of(self.app).claim(job_id, self.worker, 4242, device="cpu")
        assert job is not None, "job could not be claimed"
        return job

    def progress(self, job_id: str, step: int, total: int) -> bool:
        return store_of(self.app).update_progress(job_id, self.worker, stage="generating", progress=step / total,
                                                  step=step, total_steps=total, eta_seconds=float(total - step))

    def write_outputs(self, job_id: str) -> list[str]:
        folder = storage.job_dir(settings_of(self.app), job_id, create=True)
        for name in ("skeleton.mp4", "result.mp4", "side_by_side.mp4"):
            with storage.atomic_write(folder / name) as fh:
                fh.write(self.video.read_bytes())
        storage.atomic_write_text(folder / "keypoints.json", '{"frames": []}')
        return ["skeleton.mp4", "keypoints.json", "result.mp4", "side_by_side.mp4"]

    def succeed(self, job_id: str) -> None:
        self.claim(job_id)
        self.progress(job_id, 1, 2)
        self.write_outputs(job_id)
        assert store_of(self.app).mark_succeeded(job_id, self.worker, english_prompt="a girl dancing",
                                                 language="en", fps=12.0, input_kind="video")

    def fail(self, job_id: str, code: str, message: str) -> None:
        self.claim(job_id)
        assert store_of(self.app).mark_failed(job_id, code, message, worker=self.worker)

    def later(self, delay: float, fn, *args) -> threading.Thread:
        """Run ``fn(*args)`` after ``delay`` s in a thread (a worker finishing while a request waits)."""
        def run():
            time.sleep(delay)
            try:
                fn(*args)
            except BaseException as exc:  # noqa: BLE001 - surfaced by the test through .events
                self.events.append(exc)
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def succeed_next(self, delay: float = 0.3) -> threading.Thread:
        """Succeed the next queued job that appears (for requests that block until their job finishes)."""
        def run():
            store = store_of(self.app)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                ids = store.queued_ids()
                if ids:
                    time.sleep(delay)
                    self.succeed(ids[0])
                    return
                time.sleep(0.02)
        return self.later(0, run)


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict = {}

    def do_GET(self):  # noqa: N802
        self.server.hits.append(self.path)
        route = self.server.routes.get(self.path.split("?")[0])
        if route is None:
            self.send_error(404)
            return
        route(self)

    def log_message(self, *args):
        pass


class LocalServer:
    """A real HTTP server on a loopback address with programmable routes; records every request it receives."""

    def __init__(self, host: str = "127.0.0.1"):
        self.httpd = http.server.ThreadingHTTPServer((host, 0), _Handler)
        self.httpd.routes = {}
        self.httpd.hits = []
        self.httpd.daemon_threads = True
        self.host = host
        self.port = self.httpd.server_port
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def hits(self) -> list[str]:
        return self.httpd.hits

    def url(self, path: str, host: str | None = None) -> str:
        return f"http://{host or self.host}:{self.port}{path}"

    def route(self, path: str, fn) -> None:
        self.httpd.routes[path] = fn

    def file(self, path: str, data: bytes, content_type: str = "video/mp4", length: bool = True) -> None:
        def send(h):
            h.send_response(200)
            h.send_header("Content-Type", content_type)
            if length:
                h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        self.route(path, send)

    def redirect(self, path: str, target: str, code: int = 302) -> None:
        def send(h):
            h.send_response(code)
            h.send_header("Location", target)
            h.send_header("Content-Length", "0")
            h.end_headers()
        self.route(path, send)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def expect_problem(resp, status: int) -> dict:
    """Assert an RFC 9457 problem response with this status; returns its body."""
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/problem+json"
    body = resp.get_json(force=True)
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status and body["type"].startswith("https://text2video.dev/problems/")
    return body


def serve_in_thread(server) -> threading.Thread:
    """Run a waitress server in a daemon thread; closing it later ends run() with an error, which is expected."""
    def run():
        try:
            server.run()
        except (OSError, ValueError):
            pass
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread
