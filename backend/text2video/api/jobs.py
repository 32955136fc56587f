"""``/api/v1/jobs``: submit, follow, list, cancel, delete jobs and download their files."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request, send_file, url_for

from .. import storage
from ..exceptions import Conflict, InvalidInput, NotFound
from ..jobs.status import JobStatus
from .auth import auth_enabled, authenticate, check_file_access, require_key
from .common import get_job_or_404, job_json, job_response, prefer_wait, wait_until_finished
from .intake import create_job, read_submission
from .services import get_settings, get_store

bp = Blueprint("jobs", __name__, url_prefix="/api/v1/jobs")

CONTENT_TYPES = {".mp4": "video/mp4", ".gif": "image/gif", ".json": "application/json", ".png": "image/png"}
MAX_PER_PAGE = 100


@bp.post("")
@require_key
def create():
    """202 + Location; with ``Prefer: wait=N`` answers after at most N s (200 when it has finished by then)."""
    api_key_id = authenticate()
    submission = read_submission()
    job = create_job(submission, api_key_id)
    wait = prefer_wait()
    if wait:
        job = wait_until_finished(job, wait)
    return job_response(job, 200 if job.finished else 202, wait)


@bp.get("")
@require_key
def index():
    """History, newest first: ``?page=1&per_page=20&status=succeeded``."""
    errors = {}
    page = _int_arg("page", 1, 1, 10**6, errors)
    per_page = _int_arg("per_page", 20, 1, MAX_PER_PAGE, errors)
    status = request.args.get("status") or None
    if status is not None and status not in {s.value for s in JobStatus}:
        errors["status"] = f"status must be one of {', '.join(s.value for s in JobStatus)}, not {status!r}"
    if errors:
        raise InvalidInput("; ".join(errors.values()), errors=errors, field=next(iter(errors)) if len(errors) == 1
                           else None)
    key_id = authenticate() if auth_enabled() else None
    jobs, total = get_store().list(page=page, per_page=per_page, status=status, api_key_id=key_id)
    pages = max(1, -(-total // per_page))
    links = {"self": url_for("jobs.index", page=page, per_page=per_page, status=status)}
    if page < pages:
        links["next"] = url_for("jobs.index", page=page + 1, per_page=per_page, status=status)
    if page > 1:
        links["prev"] = url_for("jobs.index", page=page - 1, per_page=per_page, status=status)
    return jsonify({"items": [job_json(j) for j in jobs], "page": page, "per_page": per_page, "total": total,
                    "pages": pages, "links": links})


def _int_arg(name: str, default: int, lo: int, hi: int, errors: dict) -> int:
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    if not raw.isdigit() or not lo <= int(raw) <= hi:
        errors[name] = f"{name} must be a whole number from {lo} to {hi}, not {raw!r}"
        return default
    return int(raw)


@bp.get("/<job_id>")
@require_key
def show(job_id: str):
    """The job; ``Prefer: wait=N`` waits up to N s for it to finish (long polling)."""
    job = get_job_or_404(job_id)
    wait = prefer_wait()
    if wait and not job.finished:
        job = wait_until_finished(job, wait)
    return job_response(job, 200, wait)


@bp.post("/<job_id>/cancel")
@require_key
def cancel(job_id: str):
    """Queued -> canceled at once; running -> stops at its next step (202). 409 when it has already finished."""
    job = get_job_or_404(job_id)
    if job.finished:  # canceling twice is a conflict too: the client's idea of the job is out of date
        raise Conflict(f"job {job_id} has already {job.status.value}; it cannot be canceled", field="id",
                       value=job_id, hint="Only queued or running jobs can be canceled.")
    job = get_store().request_cancel(job_id)
    return job_response(job, 202)


@bp.delete("/<job_id>")
@require_key
def delete(job_id: str):
    """Remove the job and its files (a running job is canceled first)."""
    job = get_job_or_404(job_id)
    store = get_store()
    if not job.finished:
        try:
            store.request_cancel(job_id)
        except Exception:  # noqa: BLE001 - it may finish meanwhile; deleting is what was asked
            pass
    store.delete(job_id)
    storage.delete_job_files(get_settings(), job_id)
    return Response(status=204)


def _no_such_file(job, name: str) -> NotFound:
    """404 naming what the job's folder holds now (the same list as the job JSON's ``files``)."""
    has = ", ".join(storage.existing_files(get_settings(), job.id)) or "no files"
    if job.finished:
        return NotFound(f"job {job.id} has no {name}", field="name", value=name, hint=f"It has: {has}.")
    return NotFound(f"job {job.id} has no {name} (yet)", field="name", value=name,
                    hint=f"It has: {has}; they appear as stages finish.")


@bp.get("/<job_id>/files/<name>")
def file(job_id: str, name: str):
    """An output file or a served input (the character photo), with HTTP range requests (video seeking) and
    conditional GET."""
    check_file_access(job_id, name)
    if name not in storage.SERVED_FILES:
        raise NotFound(f"file {name!r} does not exist", field="name", value=name,
                       hint=f"Job files are: {', '.join(storage.SERVED_FILES)}.")
    job = get_job_or_404(job_id)
    path = storage.job_file(get_settings(), job.id, name)
    if not path.is_file():
        raise _no_such_file(job, name)
    suffix = path.suffix.lower()
    download = request.args.get("download") in ("1", "true", "yes")
    resp = send_file(path, mimetype=CONTENT_TYPES.get(suffix, "application/octet-stream"), conditional=True,
                     as_attachment=download, download_name=f"{job.id[:8]}-{name}", etag=True)
    # revalidate every time (a retried job rewrites its files; the ETag makes that a cheap 304); keyed files are
    # nobody else's business: no shared caches
    resp.headers["Cache-Control"] = ("private, " if auth_enabled() else "") + "no-cache"
    return resp
