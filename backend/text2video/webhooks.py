"""Webhooks: when a job with a ``callback_url`` ends (succeeded, failed, canceled), POST its job JSON there.

Signed with the Standard Webhooks scheme (https://www.standardwebhooks.com): headers ``webhook-id`` (the same on
every retry of one event, for de-duplication), ``webhook-timestamp`` (unix seconds of this attempt) and
``webhook-signature: v1,<base64 HMAC-SHA256 over "{id}.{timestamp}.{body}">`` keyed with the base64 part of the
secret ``whsec_<base64>``. The secret is ``settings.webhook_secret`` or, when empty, generated once and kept in
``<data_dir>/webhook_secret`` (shared by every node through the data folder).

Delivery design: a transactional outbox in the job table (``jobs.outbox``) plus one dispatcher thread in every
``serve`` process. The UPDATE that finishes a job also marks its webhook ``pending``, so a notification survives any
restart, and the GPU worker never waits on someone's slow endpoint: it only writes a row. The dispatcher leases one
attempt at a time (a conditional UPDATE, so two API nodes never send the same attempt), sends it through the SSRF
guard (``text2video.netguard``: every address checked at connect time, no redirects), and on failure schedules the
next attempt with exponential backoff (1, 2, 4, 8, 16 s... up to ``webhook_max_attempts``). A separate Celery queue
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
from typing import Any, Callable, Mapping

from . import netguard
from .exceptions import InvalidInput
from .jobs.outbox import WebhookOutbox
from .jobs.store import JobStore
from .jobs.tables import Job, utcnow
from .settings import Settings

log = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"
SECRET_FILE = "webhook_secret"
TOLERANCE_S = 300  # receivers should refuse timestamps further than this from their clock


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


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value for one message."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


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


# --- delivery -----------------------------------------------------------------------------------------------------
def backoff_s(attempt: int, base: float = 1.0, cap: float = 300.0) -> float:
    """Delay before attempt ``attempt + 1``: 1, 2, 4, 8, 16... seconds."""
    return min(cap, base * 2 ** max(0, attempt - 1))


class WebhookDispatcher:
    """Delivers due webhooks from the job store's outbox; ``job_json`` makes the body of a job. ``start()`` runs it
    in a background thread; ``run_once()`` for tests and cron-like use."""

    def __init__(self, store: JobStore, settings: Settings, *, job_json: Callable[[Job], dict[str, Any]],
                 poll_s: float = 0.5, threads: int = 4, backoff_base_s: float = 1.0):
        self.store, self.settings = store, settings
        self.outbox = WebhookOutbox(store)
        self.job_json = job_json
        self.poll_s = poll_s
        self.backoff_base_s = backoff_base_s
        self.secret = load_or_create_secret(settings)
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="webhook")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._inflight: set[str] = set()
        self._lock = threading.Lock()

    def run_once(self, wait: bool = True) -> int:
        """Start delivery of every due webhook; with ``wait`` block until those attempts finish. Returns how many."""
        futures = []
        for job in self.outbox.due():
            with self._lock:
                if job.id in self._inflight:
                    continue
            lease = max(60.0, self.settings.webhook_timeout_s * 3)
            if not self.outbox.lease(job.id, job.webhook_attempts, lease):
                continue  # another dispatcher took this attempt
            with self._lock:
                self._inflight.add(job.id)
            futures.append(self._pool.submit(self._deliver, job.id, job.webhook_attempts + 1))
        if wait:
            for f in futures:
                f.result()
        return len(futures)

    def _deliver(self, job_id: str, attempt: int) -> None:
        try:
            job = self.store.get(job_id)
            if job is None or not job.callback_url:
                return
            body, headers = build_message(self.job_json(job), self.secret)
            try:
                response = netguard.send(job.callback_url, "POST", body=body, headers=headers, field="callback_url",
                                         timeout_s=self.settings.webhook_timeout_s,
                                         policy=netguard.Policy.from_settings(self.settings))
                ok, error, permanent = 200 <= response.status < 300, f"HTTP {response.status}", False
            except netguard.URLRejected as exc:
                ok, error, permanent = False, str(exc), True  # the address is forbidden: retrying cannot help
            except Exception as exc:  # noqa: BLE001 - connection refused, timeout, DNS: retry later
                ok, error, permanent = False, f"{type(exc).__name__}: {exc}", False
            if ok:
                self.outbox.record(job_id, "delivered")
                log.info("webhook for job %s delivered (attempt %d)", job_id, attempt)
            elif permanent or attempt >= self.settings.webhook_max_attempts:
                self.outbox.record(job_id, "failed", error=f"attempt {attempt}: {error}")
                log.warning("webhook for job %s given up after %d attempts: %s", job_id, attempt, error)
            else:
                delay = backoff_s(attempt, self.backoff_base_s)
                self.outbox.record(job_id, "pending", next_at=utcnow() + timedelta(seconds=delay),
                                          error=f"attempt {attempt}: {error}")
                log.info("webhook for job %s failed (attempt %d: %s); next in %.0f s", job_id, attempt, error, delay)
        except Exception:  # noqa: BLE001 - never kill the pool thread; the lease expires and it is retried
            log.exception("webhook delivery for job %s crashed", job_id)
        finally:
            with self._lock:
                self._inflight.discard(job_id)

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


__all__ = ["generate_secret", "load_or_create_secret", "sign", "verify", "build_message", "WebhookDispatcher",
           "backoff_s", "message_id", "SECRET_PREFIX"]
