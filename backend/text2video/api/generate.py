"""``POST /generate``: the synchronous endpoint for curl and the first prototype's frontend.

Accepts the old form (``prompt``, ``video`` as a file or a URL, ``lang`` 0/1, ``step``, ``guidance_scale``, ``id``)
and every new name. The job goes through the same queue as ``POST /api/v1/jobs``; this request only waits for it
(``settings.sync_wait_s``, default 15 min) and then answers with the MP4 (``video/mp4``) or, with ``Accept:
application/json``, the job. On timeout: ``202`` with the job and its URL. A client that disconnects loses
nothing: the job runs on and stays in the history.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request, send_file

from .. import exceptions, storage
from ..jobs.status import JobStatus
from .auth import authenticate, require_key
from .common import job_json, wait_until_finished
from .intake import create_job, read_submission
from .links import job_location
from .problems import problem
from .services import get_settings

bp = Blueprint("generate", __name__)


def _status_of_code(code: str | None) -> tuple[int, str]:
    """HTTP status and title for a failed job's error code (the same mapping as a direct error)."""
    pending = [exceptions.Text2VideoError]
    while pending:
        cls = pending.pop()
        if cls.code == code:
            return cls.http_status, cls.title
        pending.extend(cls.__subclasses__())
    return 500, "Generation failed"


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["video/mp4", "application/json"], default="video/mp4")
    return best == "application/json" and request.accept_mimetypes["application/json"] > \
        request.accept_mimetypes["video/mp4"]


@bp.post("/generate")
@require_key
def generate():
    job = create_job(read_submission(legacy=True), authenticate())
    job = wait_until_finished(job, get_settings().sync_wait_s)
    headers = {"Location": job_location(job.id), "X-Job-Id": job.id}
    status = JobStatus(job.status)
    if not job.finished:
        resp = jsonify(job_json(job))
        resp.status_code = 202
        resp.headers.update(headers)
        resp.headers["Retry-After"] = "10"
        return resp
    if status is JobStatus.SUCCEEDED:
        if _wants_json():
            resp = jsonify(job_json(job))
            resp.headers.update(headers)
            return resp
        path = storage.job_file(get_settings(), job.id, "result.mp4")
        if not path.is_file():
            return problem(500, "error", "Result missing", f"job {job.id} succeeded but result.mp4 is missing "
                           "(deleted meanwhile?).", headers=headers, job=job_location(job.id))
        resp: Response = send_file(path, mimetype="video/mp4", conditional=True,
                                   download_name=f"{job.id[:8]}-result.mp4")
        resp.headers.update(headers)
        return resp
    if status is JobStatus.CANCELED:
        return problem(409, "canceled", "Canceled", f"job {job.id} was canceled before it finished.",
                       headers=headers, job=job_location(job.id))
    code = job.error_code or "error"
    http_status, title = _status_of_code(code)
    return problem(http_status, code, title, job.error_message or "the job failed", headers=headers,
                   job=job_location(job.id))
