"""Webhooks: Standard Webhooks signatures checked by an independent computation, delivery with retries against a
real HTTP receiver on 127.0.0.1, SSRF refusal, secret generation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import socket
import stat
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from text2video import netguard, storage, webhooks
from text2video.api.links import job_document
from text2video.jobs.status import JobStatus


def independent_signature(secret: str, msg_id: str, ts: str, body: bytes) -> str:
    key = base64.b64decode(secret.split("_", 1)[1])
    return base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()).decode()


class Receiver:
    """A real HTTP server that answers 503 to the first ``fail_first`` POSTs, then 200, recording each one."""

    def __init__(self, fail_first: int = 0):
        self.fail_first = fail_first
        self.requests: list[tuple[dict, bytes, float]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body, time.monotonic()))
                code = 503 if len(receiver.requests) <= receiver.fail_first else 200
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = []

    def make(fail_first=0):
        r = Receiver(fail_first)
        made.append(r)
        return r
    yield make
    for r in made:
        r.close()


def hook(store, job_id):
    return store.get(job_id).delivery("webhook")


def finished_job(store, url, status="succeeded"):
    job = store.create({"steps": 2}, {"video": "input.mp4"}, "Cô gái nhảy", None, callback_url=url)
    store.claim(job.id, "w", 1)
    if status == "succeeded":
        store.mark_succeeded(job.id, "w", english_prompt="A girl dancing")
    else:
        store.mark_failed(job.id, "no_person", "no person found", worker="w")
    return job.id


def test_sign_matches_an_independent_computation_and_verify():
    secret = webhooks.generate_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    body = '{"id":"x","status":"succeeded"}'.encode()
    sig = webhooks.sign(secret, "msg_1", 1700000000, body)
    assert sig == "v1," + independent_signature(secret, "msg_1", "1700000000", body)
    headers = {"webhook-id": "msg_1", "webhook-timestamp": "1700000000", "webhook-signature": sig}
    assert webhooks.verify(secret, headers, body, now=1700000010)
    assert not webhooks.verify(secret, headers, body + b" ", now=1700000010)  # body changed
    assert not webhooks.verify(secret, headers, body, now=1700000000 + 3600)  # replayed too late
    assert not webhooks.verify(webhooks.generate_secret(), headers, body, now=1700000010)


def test_secret_generated_once_and_stored_privately(service_settings):
    first = webhooks.load_or_create_secret(service_settings)
    assert first == webhooks.load_or_create_secret(service_settings)
    path = service_settings.data_dir / "webhook_secret"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    configured = webhooks.generate_secret()
    assert webhooks.load_or_create_secret(service_settings.replace(webhook_secret=configured)) == configured
    with pytest.raises(Exception) as exc:
        webhooks.load_or_create_secret(service_settings.replace(webhook_secret="whsec_not base64!"))
    assert "webhook_secret" in str(exc.value.field)


def test_delivered_signed_and_retried_with_backoff(service_settings, store, receiver):
    settings = service_settings.replace(url_allow_private=True)
    rx = receiver(fail_first=2)
    job_id = finished_job(store, rx.url)
    storage.atomic_write_bytes(settings.jobs_dir / job_id / "result.mp4", b"video")  # what the worker left
    dispatcher = webhooks.WebhookDispatcher(store, settings, backoff_base_s=0.2,
                                            job_json=lambda job: job_document(job, settings, "https://t2v.example/"))
    try:
        deadline = time.monotonic() + 15
        while hook(store, job_id).status not in ("delivered", "failed") and time.monotonic() < deadline:
            dispatcher.run_once()
            time.sleep(0.05)
    finally:
        dispatcher.stop()
    assert (hook(store, job_id).status, hook(store, job_id).attempts) == ("delivered", 3)
    assert len(rx.requests) == 3
    ids = {h["webhook-id"] for h, _, _ in rx.requests}
    assert ids == {f"msg_{job_id}_succeeded"}  # same id on every retry: receivers de-duplicate
    gaps = [b[2] - a[2] for a, b in zip(rx.requests, rx.requests[1:])]
    assert gaps[0] >= 0.18 and gaps[1] >= 0.38  # exponential backoff 0.2 s, 0.4 s
    secret = webhooks.load_or_create_secret(settings)
    for headers, body, _ in rx.requests:
        assert headers["content-type"] == "application/json"
        expected = independent_signature(secret, headers["webhook-id"], headers["webhook-timestamp"], body)
        assert headers["webhook-signature"] == "v1," + expected
    data = json.loads(rx.requests[-1][1])
    assert data["id"] == job_id and data["status"] == "succeeded" and data["english_prompt"] == "A girl dancing"
    assert data["prompt"] == "Cô gái nhảy"
    assert data["files"]["result.mp4"] == f"https://t2v.example/api/v1/jobs/{job_id}/files/result.mp4"


def test_gives_up_after_max_attempts(service_settings, store, receiver):
    settings = service_settings.replace(url_allow_private=True, webhook_max_attempts=2)
    rx = receiver(fail_first=100)
    job_id = finished_job(store, rx.url, status="failed")
    dispatcher = webhooks.WebhookDispatcher(store, settings, job_json=lambda job: job_document(job, settings),
                                            backoff_base_s=0.05)
    try:
        deadline = time.monotonic() + 10
        while hook(store, job_id).status != "failed" and time.monotonic() < deadline:
            dispatcher.run_once()
            time.sleep(0.05)
    finally:
        dispatcher.stop()
    state = hook(store, job_id)
    assert state.status == "failed" and state.attempts == 2 and "HTTP 503" in state.error
    assert len(rx.requests) == 2 and json.loads(rx.requests[0][1])["error"]["code"] == "no_person"


def test_private_callback_refused_without_retry(service_settings, store, receiver):
    rx = receiver()
    job_id = finished_job(store, rx.url)  # 127.0.0.1, and url_allow_private is off
    dispatcher = webhooks.WebhookDispatcher(store, service_settings,
                                            job_json=lambda job: job_document(job, service_settings))
    try:
        dispatcher.run_once()
    finally:
        dispatcher.stop()
    state = hook(store, job_id)
    assert state.status == "failed" and state.attempts == 1 and rx.requests == []
    assert "127.0.0.1" in state.error or "loopback" in state.error.lower()
    with pytest.raises(Exception) as exc:
        netguard.validate_url(rx.url, field="callback_url", policy=netguard.Policy.from_settings(service_settings))
    assert exc.value.field == "callback_url"


def test_unreachable_receiver_is_retried_not_given_up(service_settings, store):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    job_id = finished_job(store, f"http://127.0.0.1:{port}/hook")
    dispatcher = webhooks.WebhookDispatcher(store, service_settings.replace(url_allow_private=True),
                                            job_json=lambda job: job_document(job, service_settings))
    try:
        assert dispatcher.run_once() == 1
    finally:
        dispatcher.stop()
    state = hook(store, job_id)
    assert (state.status, state.attempts) == ("pending", 1) and "could not connect" in state.error


def test_background_dispatcher_delivers_a_canceled_job(service_settings, store, receiver):
    rx = receiver()
    job = store.create({}, {"video": "input.mp4"}, "p", None, callback_url=rx.url)
    dispatcher = webhooks.WebhookDispatcher(store, service_settings.replace(url_allow_private=True),
                                            job_json=lambda job: job_document(job, service_settings),
                                            poll_s=0.1).start()
    try:
        store.request_cancel(job.id)
        deadline = time.monotonic() + 10
        while hook(store, job.id).status != "delivered" and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        dispatcher.stop()
    assert store.get(job.id).status == JobStatus.CANCELED
    assert len(rx.requests) == 1 and json.loads(rx.requests[0][1])["status"] == "canceled"
