"""The static web UI (``<repo>/frontend/``) at ``/``, with ``index.html`` for client-side routes.

API paths are never answered with the UI: an unknown ``/api/...`` URL is a 404 problem, not an HTML page.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, send_from_directory
from werkzeug.exceptions import MethodNotAllowed

from ..exceptions import NotFound

bp = Blueprint("frontend", __name__)

DEFAULT_DIR = Path(__file__).resolve().parents[3] / "frontend"  # <repo>/frontend (backend/text2video/api/..)


def frontend_dir() -> Path:
    return Path(current_app.config.get("FRONTEND_DIR") or DEFAULT_DIR)


def _index():
    folder = frontend_dir()
    if not (folder / "index.html").is_file():
        raise NotFound(f"the web UI is not installed ({folder / 'index.html'} is missing)", field="path",
                       hint="Use the API under /api/v1 (docs at /api/v1/docs), or restore the frontend/ folder.")
    resp = send_from_directory(folder, "index.html", max_age=0)
    resp.headers["Cache-Control"] = "no-cache"  # a new release must show up on reload
    return resp


@bp.get("/")
def index():
    return _index()


@bp.get("/<path:path>")
def asset(path: str):
    if path == "generate":
        raise MethodNotAllowed(valid_methods=["POST"])  # POST /generate exists; a GET is not the web UI either
    if path == "api" or path.startswith("api/"):
        raise NotFound(f"nothing at /{path}", field="path", hint="See /api/v1/docs for the API's URLs.")
    folder = frontend_dir()
    candidate = folder / path
    if candidate.is_file():
        return send_from_directory(folder, path, max_age=300)  # safe_join inside: no path traversal
    if "." in Path(path).name:  # a missing asset (app.js, logo.png) is a 404, not the page
        raise NotFound(f"no file /{path}", field="path")
    return _index()  # a client-side route such as /jobs/abc
