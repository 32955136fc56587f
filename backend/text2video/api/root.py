"""``POST /``: the first prototype's frontend submits here (its ``$serverUrl`` is the server's root URL).

Its form: ``id`` (kept as ``params.client_id``), ``prompt``, ``video`` (an https URL on its own site, or a file),
``lang`` 1/0, optionally ``step``/``guidance_scale``: the same legacy reading as ``POST /generate``. Unlike
``/generate`` it never waits for the generation: ``202`` with the job and its ``Location`` at once. The result goes
back to that frontend by the push to ``settings.send_url`` (``text2video.webhooks``). ``GET /`` is the web UI
(``frontend``).
"""

from __future__ import annotations

from flask import Blueprint

from .auth import authenticate, require_key
from .common import job_response
from .intake import create_job, read_submission

bp = Blueprint("root", __name__)


@bp.post("/")
@require_key
def submit():
    return job_response(create_job(read_submission(legacy=True), authenticate()), 202)
