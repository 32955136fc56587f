"""Webhooks: when a job with a ``callback_url`` ends (succeeded, failed, canceled), POST its job JSON there; and the
first prototype's result push: when a job with a client ``id`` succeeds and ``settings.send_url`` is set, POST there
``multipart/form-data`` with the text field ``id`` and the file field ``video`` (result.mp4, streamed from disk).

Signed with the Standard Webhooks scheme (https://www.standardwebhooks.com): headers ``webhook-id`` (the same on
every retry of one event, for de-duplication), ``webhook-timestamp`` (unix seconds of this attempt) and
``webhook-signature: v1,<base64 HMAC-SHA256 over "{id}.{timestamp}.{body}">`` keyed with the base64 part of the
secret ``whsec_<base64>``. The secret is ``settings.webhook_secret`` or, when empty, generated once and kept in
``<data_dir>/webhook_secret`` (shared by every node through the data folder).

Both are signed the same way (the push's signature covers its multipart body) and go through the same outbox.

Delivery design: a transactional outbox (``jobs.outbox``: one row per job and kind) plus one dispatcher thread in
every ``serve`` process. The transaction that finishes a job also makes its deliveries due, so a notification
survives any restart, and the GPU worker never waits on someone's slow endpoint: it only writes a row. The
dispatcher leases one attempt at a time (a conditional UPDATE, so two API nodes never send the same attempt), sends
it through the SSRF guard (``text2video.netguard``: every address checked at connect time, no redirects), and on
failure schedules the next attempt with exponential backoff (1, 2, 4, 8, 16 s... up to ``webhook_max_attempts``);
an address the policy refuses is given up at once, an unreachable or slow receiver is retried. A separate Celery queue
would need its own consumer process and still a retry schedule; the outbox needs neither. The body is the job JSON
made by the function the dispatcher is given (``serve`` passes the API's ``links.job_document`` with its public URL):
this module knows no URLs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from . import netguard, storage
from .exceptions import InvalidInput
from .jobs.outbox import PUSH, Outbox
from .jobs.store import JobStore
from .jobs.tables import Delivery, Job, utcnow
from .settings import Settings

log = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"
SECRET_FILE = "webhook_secret"
TOLERANCE_S = 300  # receivers should refuse timestamps further than this from their clock
CHUNK = 1 << 20  # the push streams result.mp4 in pieces this big


# --- secret and signature -----------------------------------------------------------------------------------------
def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_<base64>`` secret."""
    raw = secret[len(SECRET_PREFIX):] if secret.startswith(SECRET_PREFIX) else secret
    try:
        return base64.b64decode(raw, validate=True)
    except ValueError as exc:
        raise InvalidInput("webhook secret is not whsec_<base64>", field="webhook_secret", value="(hidden)",
                           hint="Set TEXT2VIDEO_WEBHOOK_SECRET to 'whsec_' + base64 of 24-64 random bytes, or leave "
                                "it empty to have one generated.") from exc


def load_or_create_secret(settings: Settings) -> str:
    """``settings.webhook_secret``, else the one stored in the data folder, else a new one stored there."""
    if settings.webhook_secret:
        secret_key(settings.webhook_secret)  # validate early, with a clear message
        return settings.webhook_secret
    path = Path(settings.data_dir) / SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        tmp = path.with_name(f".{SECRET_FILE}.{os.getpid()}.part")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(generate_secret() + "\n")
        try:
            os.link(tmp, path)  # atomic and fails if another process created it first: theirs wins
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    return path.read_text().strip()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes | Iterable[bytes]) -> str:
    """The ``webhook-signature`` header value for one message (``body`` whole, or its chunks in order)."""
    mac = hmac.new(secret_key(secret), f"{msg_id}.{timestamp}.".encode(), hashlib.sha256)
    for chunk in [body] if isinstance(body, bytes) else body:
        mac.update(chunk)
    return "v1," + base64.b64encode(mac.digest()).decode()


def verify(secret: str, headers: Mapping[str, str], body: bytes, *, tolerance_s: int = TOLERANCE_S,
           now: float | None = None) -> bool:
    """What a receiver does: check the timestamp window and any ``v1`` signature (constant-time)."""
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        msg_id, timestamp = lower["webhook-id"], int(lower["webhook-timestamp"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    expected = sign(secret, msg_id, timestamp, body).split(",", 1)[1]
    for candidate in lower.get("webhook-signature", "").split():
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return True
    return False


def message_id(job_id: str, status: str) -> str:
    return f"msg_{job_id}_{status}"


def build_message(document: dict[str, Any], secret: str, timestamp: int | None = None
                  ) -> tuple[bytes, dict[str, str]]:
    """Body (the job JSON ``document``) and signed headers for one attempt."""
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    timestamp = int(time.time()) if timestamp is None else timestamp
    msg_id = message_id(document["id"], document["status"])
    return body, {"content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(timestamp),
                  "webhook-signature": sign(secret, msg_id, timestamp, body)}


def build_push(job_id: str, client_id: str, video: Path, secret: str, timestamp: int | None = None
               ) -> tuple[Iterator[bytes], dict[str, str]]:
    """Body (multipart: text ``id``, file ``video`` named ``<job id>.mp4``, read from disk as it is sent) and signed
    headers, with its Content-Length, for one attempt of the prototype's result push."""
    boundary = secrets.token_hex(16)
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="id"\r\n\r\n{client_id}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="video"; filename="{job_id}.mp4"\r\n'
            "Content-Type: video/mp4\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    size = video.stat().st_size
    timestamp = int(time.time()) if timestamp is None else timestamp
    msg_id = message_id(job_id, PUSH)
    return _chunks(head, video, tail), {
        "content-type": f"multipart/form-data; boundary={boundary}",
        "content-length": str(len(head) + size + len(tail)),
        "webhook-id": msg_id, "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, _chunks(head, video, tail))}


def _chunks(head: bytes, path: Path, tail: bytes) -> Iterator[bytes]:
    yield head
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            yield chunk
    yield tail


# --- delivery -----------------------------------------------------------------------------------------------------
def backoff_s(attempt: int, base: float = 1.0, cap: float = 300.0) -> float:
    """Delay before attempt ``attempt + 1``: 1, 2, 4, 8, 16... seconds."""
    return min(cap, base * 2 ** max(0, attempt - 1))


class WebhookDispatcher:
    """Delivers what the outbox says is due (webhooks and pushes); ``job_json`` makes a webhook's body.
    ``start()`` runs it in a background thread; ``run_once()`` for tests and cron-like use."""

    def __init__(self, store: JobStore, settings: Settings, *, job_json: Callable[[Job], dict[str, Any]],
                 poll_s: float = 0.5, threads: int = 4, backoff_base_s: float = 1.0):
        self.store, self.settings = store, settings
        self.outbox = Outbox(store)
        self.policy = netguard.Policy.from_settings(settings)
        if settings.send_url:  # a typo in the setting shows at start, not as failed pushes hours later
            try:
                netguard.parse_url(settings.send_url, field="send_url", policy=self.policy)
            except netguard.URLRejected as exc:
                exc.hint = ("Set TEXT2VIDEO_SEND_URL to the http(s) page that receives results (e.g. "
                            "https://site/senddata); a private address also needs TEXT2VIDEO_URL_ALLOW_NETWORKS.")
                raise
        self.job_json = job_json
        self.poll_s = poll_s
        self.backoff_base_s = backoff_base_s
        self.secret = load_or_create_secret(settings)
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="webhook")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._inflight: set[tuple[str, str]] = set()  # (job id, kind) being sent by this process
        self._lock = threading.Lock()

    def run_once(self, wait: bool = True) -> int:
        """Start every due delivery; with ``wait`` block until those attempts finish. Returns how many."""
        futures = []
        for delivery in self.outbox.due():
            key = (delivery.job_id, delivery.kind)
            with self._lock:
                if key in self._inflight:
                    continue
            lease = max(60.0, self.settings.webhook_timeout_s * 3)
            if not self.outbox.lease(delivery, lease):
                continue  # another dispatcher took this attempt
            with self._lock:
                self._inflight.add(key)
            futures.append(self._pool.submit(self._deliver, delivery))
        if wait:
            for f in futures:
                f.result()
        return len(futures)

    def _deliver(self, delivery: Delivery) -> None:
        attempt, what = delivery.attempts + 1, f"{delivery.kind} for job {delivery.job_id}"
        try:
            job = self.store.get(delivery.job_id)
            if job is None:
                return  # deleted meanwhile: its deliveries went with it
            try:
                response = self._send(delivery, job)
                ok, error, permanent = 200 <= response.status < 300, f"HTTP {response.status}", False
            except netguard.Unreachable as exc:  # connection refused, timeout, DNS: retry later
                ok, error, permanent = False, str(exc), False
            except netguard.URLRejected as exc:
                ok, error, permanent = False, str(exc), True  # the address is forbidden: retrying cannot help
            except FileNotFoundError as exc:
                ok, error, permanent = False, f"{Path(exc.filename).name} is missing", True
            except Exception as exc:  # noqa: BLE001 - anything else: retry later
                ok, error, permanent = False, f"{type(exc).__name__}: {exc}", False
            if ok:
                self.outbox.record(delivery, "delivered")
                log.info("%s delivered (attempt %d)", what, attempt)
            elif permanent or attempt >= self.settings.webhook_max_attempts:
                self.outbox.record(delivery, "failed", error=f"attempt {attempt}: {error}")
                log.warning("%s given up after %d attempts: %s", what, attempt, error)
            else:
                delay = backoff_s(attempt, self.backoff_base_s)
                self.outbox.record(delivery, "pending", next_at=utcnow() + timedelta(seconds=delay),
                                   error=f"attempt {attempt}: {error}")
                log.info("%s failed (attempt %d: %s); next in %.0f s", what, attempt, error, delay)
        except Exception:  # noqa: BLE001 - never kill the pool thread; the lease expires and it is retried
            log.exception("%s: delivery crashed", what)
        finally:
            with self._lock:
                self._inflight.discard((delivery.job_id, delivery.kind))

    def _send(self, delivery: Delivery, job: Job) -> netguard.Response:
        if delivery.kind == PUSH:
            body, headers = build_push(job.id, str((job.params or {}).get("client_id", "")),
                                       storage.job_file(self.settings, job.id, "result.mp4"), self.secret)
            field = "send_url"
        else:
            body, headers = build_message(self.job_json(job), self.secret)
            field = "callback_url"
        return netguard.send(delivery.url, "POST", body=body, headers=headers, field=field,
                             timeout_s=self.settings.webhook_timeout_s, policy=self.policy)

    def start(self) -> "WebhookDispatcher":
        self._thread = threading.Thread(target=self._loop, name="webhook-dispatcher", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.run_once(wait=False)
            except Exception as exc:  # noqa: BLE001 - database busy or down: try again next poll
                log.warning("webhook dispatcher pass failed: %s", exc)

    def stop(self, wait: bool = True) -> None:
        self._stop.set()
        if self._thread is not None and wait:
            self._thread.join(timeout=5)
        self._pool.shutdown(wait=wait, cancel_futures=True)


__all__ = ["generate_secret", "load_or_create_secret", "sign", "verify", "build_message", "build_push",
           "WebhookDispatcher",
           "backoff_s", "message_id", "SECRET_PREFIX"]
