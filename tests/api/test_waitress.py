"""The app under waitress (the production server), in this process: a /generate client that hangs up loses
nothing, and (with waitress' channel_request_lookahead) does not keep a server thread waiting for it."""

from __future__ import annotations

import socket
import time

import pytest
import requests

from tests.api.helpers import HandWorker, base_config, serve_in_thread, store_of
from text2video.api import create_app


@pytest.fixture
def one_thread_server(tmp_path, sample_video):
    from waitress import create_server

    app = create_app(base_config(tmp_path, sync_wait_s=60.0))
    server = create_server(app, host="127.0.0.1", port=0, threads=1, channel_request_lookahead=1)
    serve_in_thread(server)
    yield app, f"http://127.0.0.1:{server.effective_port}", HandWorker(app, sample_video)
    server.close()


def _generate_request(host: str, video: bytes) -> bytes:
    boundary = "t2vboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\na dancer on the moon\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"video\"; filename=\"a.mp4\"\r\n"
            "Content-Type: video/mp4\r\n\r\n").encode() + video + f"\r\n--{boundary}--\r\n".encode()
    head = (f"POST /generate HTTP/1.1\r\nHost: {host}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    return head + body


def test_client_that_hangs_up_loses_nothing(one_thread_server, sample_bytes):
    app, url, worker = one_thread_server
    store = store_of(app)
    host, port = url.rsplit("/", 1)[1].split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(_generate_request(host, sample_bytes))
        deadline = time.monotonic() + 20
        while not store.queued_ids():
            assert time.monotonic() < deadline, "the job was not created"
            time.sleep(0.02)
    # hung up. The only server thread must be free again long before sync_wait_s (60 s) ...
    started = time.monotonic()
    assert requests.get(f"{url}/api/v1/jobs", timeout=15).status_code == 200
    assert time.monotonic() - started < 10
    # ... and the job is intact: a worker runs it to the end, and its result is there to fetch
    job_id = store.queued_ids()[0]
    worker.succeed(job_id)
    job = requests.get(f"{url}/api/v1/jobs/{job_id}", timeout=10).json()
    assert job["status"] == "succeeded"
    video = requests.get(url + job["files"]["result.mp4"], timeout=10)
    assert video.status_code == 200 and video.content == sample_bytes
