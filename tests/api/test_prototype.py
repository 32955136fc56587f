"""The first prototype's frontend, unchanged, against this backend. A real HTTP server on 127.0.0.1 plays its site:
it serves the uploaded video (``GET /videos/name-1700000000.mp4``) and receives the result (``POST /senddata``, read
like its Laravel ``senddata`` action). Its submit is replayed byte for byte as Guzzle 7 builds it. Then the push's
troubles: an unreachable, failing (500) or slow site is retried with backoff, the job keeps its files and the
delivery state says why, until the site recovers.
"""

from __future__ import annotations

import base64
import http.client
import http.server
import io
import json
import socket
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import av
import pytest
from werkzeug.formparser import parse_form_data

from tests.api.helpers import expect_problem, store_of
from tests.service import make_settings, wait_for
from text2video import netguard, storage, webhooks
from text2video.api.links import job_document
from text2video.jobs.status import JobStatus

SAMPLE = Path(__file__).resolve().parents[2] / "assets" / "sample_skeleton.mp4"
VIDEO_PATH = "/videos/name-1700000000.mp4"
GUZZLE_BOUNDARY = "6553a1f2b1c3e4.12345678"  # PHP uniqid('', true), as Guzzle's MultipartStream makes it


def guzzle_body(fields: list[tuple[str, str]]) -> bytes:
    """Guzzle 7's multipart body for text fields: each part has Content-Disposition and Content-Length, CRLF."""
    out = b""
    for name, value in fields:
        data = value.encode()
        out += (f"--{GUZZLE_BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n"
                f"Content-Length: {len(data)}\r\n\r\n").encode() + data + b"\r\n"
    return out + f"--{GUZZLE_BOUNDARY}--\r\n".encode()


GUZZLE_HEADERS = {"User-Agent": "GuzzleHttp/7", "Content-Type": f"multipart/form-data; boundary={GUZZLE_BOUNDARY}"}


def prototype_form(video_url: str, **extra: str) -> list[tuple[str, str]]:
    """What its controller sends: id, prompt, video (the URL of the uploaded file on its site), lang."""
    return [("id", "42"), ("prompt", "Cô gái nhảy trên núi"), ("video", video_url), ("lang", "1"),
            *extra.items()]


def guzzle_post(url: str, fields: list[tuple[str, str]]) -> tuple[int, dict, bytes]:
    """Send exactly those bytes and headers (http.client adds nothing but what is put here)."""
    body = guzzle_body(fields)
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    conn.putrequest("POST", parts.path, skip_host=True, skip_accept_encoding=True)
    for name, value in {"Host": parts.netloc, **GUZZLE_HEADERS, "Content-Length": str(len(body))}.items():
        conn.putheader(name, value)
    conn.endheaders(body)
    resp = conn.getresponse()
    try:
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


class PrototypeSite:
    """The prototype's site: serves the uploaded video; ``/senddata`` stores ``video`` under ``id`` and answers
    ``ok`` ("error!" when no file came, both 200, as its controller does). ``mode``: ok | 500 | slow."""

    def __init__(self, video: bytes, port: int = 0, mode: str = "ok", slow_s: float = 2.0):
        self.video, self.mode, self.slow_s = video, mode, slow_s
        self.received: list[dict] = []  # per POST /senddata: headers, body, id, filename, video
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server API
                if self.path != VIDEO_PATH:
                    return self.send_error(404)
                self._answer(200, site.video, "video/mp4")

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                site.received.append(site.read_push(dict(self.headers), body))
                if site.mode == "slow":
                    time.sleep(site.slow_s)
                if site.mode == "500":
                    return self._answer(500, b"Server Error", "text/html")
                self._answer(200, b"ok" if site.received[-1]["video"] is not None else b"error!", "text/html")

            def _answer(self, code: int, data: bytes, content_type: str):
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the slow case: the sender gave up meanwhile

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @staticmethod
    def read_push(headers: dict, body: bytes) -> dict:
        """``$request->id`` and ``$request->file('video')``, parsed by werkzeug's multipart parser."""
        headers = {k.lower(): v for k, v in headers.items()}
        environ = {"REQUEST_METHOD": "POST", "CONTENT_TYPE": headers.get("content-type", ""),
                   "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body)}
        _, form, files = parse_form_data(environ)
        video = files.get("video")
        return {"headers": headers, "body": body, "id": form.get("id"),
                "filename": video.filename if video else None, "video": video.read() if video else None}

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site_factory():
    made: list[PrototypeSite] = []

    def make(video: bytes, **kwargs) -> PrototypeSite:
        made.append(PrototypeSite(video, **kwargs))
        return made[-1]
    yield make
    for site in made:
        site.close()


def assert_is_the_result(push: dict, expected: bytes, frames: int) -> None:
    assert push["id"] == "42" and push["filename"].endswith(".mp4") and push["video"] == expected
    with av.open(io.BytesIO(push["video"])) as container:
        assert sum(1 for _ in container.decode(video=0)) == frames


# --- the whole round trip: `serve` with its worker (the real Engine on the demo weights) ---------------------------
def test_the_prototype_request_byte_for_byte_comes_back_as_id_and_mp4(start_server, tmp_path, demo_models,
                                                                       site_factory):
    site = site_factory(SAMPLE.read_bytes())
    # the prototype sends no size or steps: the server's defaults, kept tiny here
    settings = make_settings(tmp_path / "data", models_dir="demo", device="cpu", steps=2, frames=4, width=64,
                             height=64, url_allow_networks="127.0.0.0/8", send_url=site.url("/senddata"))
    server = start_server(settings, engine_factory=None)
    status, headers, body = guzzle_post(server.url.rstrip("/") + "/", prototype_form(site.url(VIDEO_PATH)))
    assert status == 202, body[:500]
    job_id = json.loads(body)["id"]
    assert headers["location"] == f"/api/v1/jobs/{job_id}"
    wait_for(lambda: site.received, 240, interval=0.25,
             what=f"the push of job {job_id}\n{server.proc.output()[-3000:]}")
    job = server.store.get(job_id)
    assert job.status == JobStatus.SUCCEEDED and job.params["client_id"] == "42" and job.language == "vi"
    result = (settings.jobs_dir / job_id / "result.mp4").read_bytes()
    assert_is_the_result(site.received[0], result, frames=4)
    wait_for(lambda: server.store.get(job_id).delivery("push").status == "delivered", 10, what="push delivered")


# --- POST / in the app ----------------------------------------------------------------------------------------------
def test_root_post_takes_the_guzzle_form_and_answers_at_once(make_app, site_factory, sample_bytes):
    site = site_factory(sample_bytes)
    client = make_app(url_allow_networks="127.0.0.0/8", send_url="https://site.example/senddata").test_client()
    resp = client.post("/", data=guzzle_body(prototype_form(site.url(VIDEO_PATH))), headers=GUZZLE_HEADERS)
    assert resp.status_code == 202, resp.get_data(as_text=True)
    job = resp.get_json()
    assert resp.headers["Location"] == f"/api/v1/jobs/{job['id']}" and job["status"] == "queued"  # no waiting
    assert job["params"]["client_id"] == "42" and job["params"]["lang"] == "vi"
    assert job["prompt"] == "Cô gái nhảy trên núi"
    assert job["deliveries"] == {"push": {"status": "scheduled", "attempts": 0, "error": None,
                                          "next_attempt_at": None}}
    assert client.get(resp.headers["Location"]).get_json()["deliveries"] == job["deliveries"]  # the poll path
    assert store_of(client.application).get(job["id"]).video_url == site.url(VIDEO_PATH)
    assert client.get("/").mimetype == "text/html"  # GET / is still the web UI


def test_root_post_takes_step_guidance_and_a_file_and_names_bad_fields(make_app, sample_bytes):
    client = make_app().test_client()  # no send_url: nothing will be pushed
    resp = client.post("/", data={"id": "7", "prompt": "a robot", "step": "3", "guidance_scale": "9", "lang": "0",
                                  "video": (io.BytesIO(sample_bytes), "clip.mp4")}, content_type="multipart/form-data")
    assert resp.status_code == 202, resp.get_data(as_text=True)
    job = resp.get_json()
    assert job["params"]["steps"] == 3 and job["params"]["guidance_scale"] == 9.0 and job["params"]["lang"] == "en"
    assert job["params"]["client_id"] == "7" and job["deliveries"] == {}
    body = expect_problem(client.post("/", data={"id": "7", "prompt": "a robot", "lang": "2",
                                                 "video": (io.BytesIO(sample_bytes), "clip.mp4")},
                                      content_type="multipart/form-data"), 422)
    assert set(body["errors"]) == {"lang"}


def test_a_keyed_server_takes_the_key_as_the_url_password(make_app, sample_bytes):
    """API keys on (``--tunnel`` always): ``$serverUrl = https://t2v:<key>@host/``, which curl (Guzzle's handler)
    sends as HTTP Basic; the frontend's code stays as it is."""
    client = make_app(api_keys="k-secret").test_client()

    def post(headers):
        return client.post("/", data={"id": "7", "prompt": "a robot", "video": (io.BytesIO(sample_bytes), "c.mp4")},
                           content_type="multipart/form-data", headers=headers)
    basic = {"Authorization": "Basic " + base64.b64encode(b"t2v:k-secret").decode()}
    assert post(basic).status_code == 202
    expect_problem(post({}), 401)
    expect_problem(post({"Authorization": "Basic " + base64.b64encode(b"t2v:wrong").decode()}), 401)
    expect_problem(post({"Authorization": "Basic not-base64!"}), 401)


def test_only_jobs_with_a_client_id_are_pushed(make_app, sample_bytes):
    client = make_app(send_url="https://site.example/senddata").test_client()
    resp = client.post("/api/v1/jobs", data={"prompt": "a robot", "video": (io.BytesIO(sample_bytes), "c.mp4")},
                       content_type="multipart/form-data")
    assert resp.status_code == 202 and resp.get_json()["deliveries"] == {}


# --- the push, from the outbox --------------------------------------------------------------------------------------
def succeeded_job(store, settings, push_url: str, video: bytes) -> str:
    """A job of the prototype's (client id 42) that succeeded with ``video`` as its result.mp4."""
    job = store.create({"steps": 2, "client_id": "42"}, {"video": "input.mp4"}, "Cô gái nhảy", None, push_url=push_url)
    store.claim(job.id, "w", 1)
    storage.atomic_write_bytes(storage.job_dir(settings, job.id, create=True) / "result.mp4", video)
    assert store.mark_succeeded(job.id, "w")
    return job.id


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seconds_until(iso: str) -> float:
    return (datetime.fromisoformat(iso.replace("Z", "+00:00")) - datetime.now(timezone.utc)).total_seconds()


REASON = {"closed": "could not connect", "500": "HTTP 500", "slow": "did not answer within 0.5 s"}


@pytest.mark.parametrize("trouble", ["closed", "500", "slow"])
def test_push_retried_with_backoff_until_the_site_recovers(trouble, service_settings, store, site_factory,
                                                           sample_bytes):
    port = free_port()
    site = None if trouble == "closed" else site_factory(sample_bytes, port=port, mode=trouble)
    settings = service_settings.replace(url_allow_networks="127.0.0.0/8", webhook_timeout_s=0.5)
    job_id = succeeded_job(store, settings, f"http://127.0.0.1:{port}/senddata", sample_bytes)
    dispatcher = webhooks.WebhookDispatcher(store, settings, job_json=lambda j: job_document(j, settings),
                                            backoff_base_s=0.4)
    try:
        delays = []
        for attempt in (1, 2):
            assert dispatcher.run_once() == 1
            state = job_document(store.get(job_id), settings)["deliveries"]["push"]
            assert state["status"] == "pending" and state["attempts"] == attempt, state
            assert state["error"].startswith(f"attempt {attempt}: ") and REASON[trouble] in state["error"]
            delays.append(seconds_until(state["next_attempt_at"]))
            assert dispatcher.run_once() == 0  # not due before its backoff
            time.sleep(max(0.0, delays[-1]) + 0.05)
        assert 0.2 < delays[0] <= 0.4 and 0.6 < delays[1] <= 0.8  # 0.4 s, then 0.8 s
        job = store.get(job_id)  # the job and its files are untouched by the failed pushes
        assert job.status == JobStatus.SUCCEEDED and storage.existing_files(settings, job_id) == ["result.mp4"]
        assert (settings.jobs_dir / job_id / "result.mp4").read_bytes() == sample_bytes
        if site is None:
            site = site_factory(sample_bytes, port=port)  # the site comes (back) up
        site.mode = "ok"
        assert dispatcher.run_once() == 1
    finally:
        dispatcher.stop()
    assert job_document(store.get(job_id), settings)["deliveries"]["push"] == {
        "status": "delivered", "attempts": 3, "error": None, "next_attempt_at": None}
    push = site.received[-1]
    assert_is_the_result(push, sample_bytes, frames=12)
    assert push["filename"] == f"{job_id}.mp4" and push["headers"]["webhook-id"] == f"msg_{job_id}_push"
    assert webhooks.verify(webhooks.load_or_create_secret(settings), push["headers"], push["body"])


def test_push_to_a_private_address_needs_the_allow_list(service_settings, store, site_factory, sample_bytes):
    site = site_factory(sample_bytes)
    job_id = succeeded_job(store, service_settings, site.url("/senddata"), sample_bytes)
    dispatcher = webhooks.WebhookDispatcher(store, service_settings,
                                            job_json=lambda j: job_document(j, service_settings))
    try:
        assert dispatcher.run_once() == 1
    finally:
        dispatcher.stop()
    state = store.get(job_id).delivery("push")
    assert (state.status, state.attempts) == ("failed", 1) and "loopback" in state.error  # refused: no retry
    assert site.received == [] and store.get(job_id).status == JobStatus.SUCCEEDED


def test_a_result_deleted_before_its_push_is_given_up_and_said_so(service_settings, store, site_factory,
                                                                   sample_bytes):
    site = site_factory(sample_bytes)
    settings = service_settings.replace(url_allow_networks="127.0.0.0/8")
    job_id = succeeded_job(store, settings, site.url("/senddata"), sample_bytes)
    (settings.jobs_dir / job_id / "result.mp4").unlink()
    dispatcher = webhooks.WebhookDispatcher(store, settings, job_json=lambda j: job_document(j, settings))
    try:
        assert dispatcher.run_once() == 1
    finally:
        dispatcher.stop()
    state = store.get(job_id).delivery("push")
    assert (state.status, state.attempts, state.error) == ("failed", 1, "attempt 1: result.mp4 is missing")
    assert site.received == []


def test_nothing_pushed_for_a_failed_or_canceled_job(service_settings, store, site_factory, sample_bytes):
    site = site_factory(sample_bytes)
    settings = service_settings.replace(url_allow_networks="127.0.0.0/8")
    failed = store.create({"client_id": "42"}, {"video": "input.mp4"}, "p", None, push_url=site.url("/senddata"))
    store.claim(failed.id, "w", 1)
    store.mark_failed(failed.id, "no_person", "nobody there", worker="w")
    canceled = store.create({"client_id": "43"}, {"video": "input.mp4"}, "p", None, push_url=site.url("/senddata"))
    store.request_cancel(canceled.id)
    dispatcher = webhooks.WebhookDispatcher(store, settings, job_json=lambda j: job_document(j, settings))
    try:
        assert dispatcher.run_once() == 0
    finally:
        dispatcher.stop()
    assert site.received == []
    for job_id in (failed.id, canceled.id):
        assert job_document(store.get(job_id), settings)["deliveries"]["push"]["status"] == "skipped"


def test_a_malformed_send_url_stops_the_dispatcher_at_start(service_settings, store):
    with pytest.raises(netguard.URLRejected) as exc:
        webhooks.WebhookDispatcher(store, service_settings.replace(send_url="ftp://site.example/senddata"),
                                   job_json=lambda j: job_document(j, service_settings))
    assert exc.value.field == "send_url" and "ftp" in str(exc.value) and "TEXT2VIDEO_SEND_URL" in exc.value.hint
