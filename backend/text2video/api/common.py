"""Helpers shared by the views: the job JSON with signed file links and its response, ``get_job_or_404``,
``Prefer: wait``."""

from __future__ import annotations

import re
import time

from flask import Response, g, jsonify, request

from ..exceptions import NotFound
from ..jobs.tables import Job
from .auth import auth_enabled, authenticate, sign_file_url
from .links import job_document, job_location
from .services import services

MAX_PREFER_WAIT_S = 60
POLL_INTERVAL_S = 0.25
_WAIT_RE = re.compile(r"(?:^|[,;\s])wait\s*=\s*\"?(\d{1,6})\"?", re.IGNORECASE)


def job_json(job: Job) -> dict:
    """The job as the service contract shows it; file links are signed when keys are on (for ``<video src>``)."""
    data = job_document(job, services().settings)
    if auth_enabled():
        data["files"] = {name: sign_file_url(url, job.id, name) for name, url in data["files"].items()}
        data["input_files"] = {slot: sign_file_url(url, job.id, url.rsplit("/", 1)[1])
                               for slot, url in data["input_files"].items()}
    return data


def job_response(job: Job, status: int, waited: int | None = None) -> Response:
    """The job JSON with its ``Location`` (and ``Retry-After`` while it runs)."""
    resp = jsonify(job_json(job))
    resp.status_code = status
    resp.headers["Location"] = job_location(job.id)
    if waited is not None:
        resp.headers["Preference-Applied"] = f"wait={waited}"
    if not job.finished:
        resp.headers["Retry-After"] = "2"  # a polite polling interval
    return resp


def get_job_or_404(job_id: str) -> Job:
    """The job, if it exists and this caller may see it (with keys on: the key that created it)."""
    job = services().read_job(job_id)
    if job is None or (auth_enabled() and not g.get("signed_file") and job.api_key_id != authenticate()):
        raise NotFound(f"job {job_id!r} does not exist", field="id", value=job_id,
                       hint="List your jobs with GET /api/v1/jobs.")
    return job


def prefer_wait() -> int | None:
    """Seconds asked for by ``Prefer: wait=N`` (RFC 7240), capped at 60; None when absent."""
    match = _WAIT_RE.search(request.headers.get("Prefer", ""))
    if not match:
        return None
    return min(int(match.group(1)), MAX_PREFER_WAIT_S)


def client_gone() -> bool:
    """True once waitress has seen the client hang up (needs waitress' channel_request_lookahead > 0)."""
    check = request.environ.get("waitress.client_disconnected")
    try:
        return bool(check and check())
    except Exception:  # noqa: BLE001 - a best-effort hint only
        return False


def wait_until_finished(job: Job, seconds: float) -> Job:
    """Poll the store until the job has finished or ``seconds`` passed (or the client left); the job as it is."""
    deadline = time.monotonic() + seconds
    svc = services()
    while not job.finished and time.monotonic() < deadline and not client_gone():
        time.sleep(min(POLL_INTERVAL_S, max(0.0, deadline - time.monotonic())))
        fresh = svc.read_job(job.id)
        if fresh is None:  # deleted meanwhile
            break
        job = fresh
    return job


__all__ = ["job_json", "job_response", "get_job_or_404", "prefer_wait", "wait_until_finished", "MAX_PREFER_WAIT_S",
           "client_gone"]
