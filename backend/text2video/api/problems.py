"""Errors at the edge: every failure leaves the API as RFC 9457 ``application/problem+json``.

``{"type": "https://text2video.dev/problems/<code>", "title", "status", "detail", "errors": {field: message},
"code", "instance", "messages"}`` for :class:`text2video.exceptions.Text2VideoError` (our errors carry the code,
the field and the fix), for Werkzeug's HTTP errors (404, 405, 413...) and, without internals, for anything
unexpected (500, logged with its traceback). ``messages`` gives ``detail`` and each of ``errors`` as code + params
(:mod:`text2video.messages`) for clients that show them in another language.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, json, request
from werkzeug.exceptions import HTTPException

from ..exceptions import Text2VideoError
from ..messages import TEMPLATES, Message, items_of

log = logging.getLogger(__name__)

PROBLEM_BASE = "https://text2video.dev/problems/"
PROBLEM_MIME = "application/problem+json"

# Werkzeug errors -> our stable codes and a hint a person can act on
_HTTP_CODES = {
    400: ("bad_request", "The request could not be read. Check its syntax and Content-Type."),
    401: ("unauthorized", "Send the API key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'."),
    403: ("forbidden", None),
    404: ("not_found", "Check the URL; the API lives under /api/v1 (see /api/v1/openapi.json)."),
    405: ("method_not_allowed", None),
    406: ("not_acceptable", None),
    409: ("conflict", None),
    413: ("payload_too_large", None),
    415: ("unsupported_media", None),
    416: ("range_not_satisfiable", "Ask for a byte range inside the file."),
    429: ("rate_limited", None),
    500: ("error", None),
    503: ("unavailable", "Retry in a moment."),
}


def problem(status: int, code: str, title: str, detail: str, *, errors: dict[str, str] | None = None,
            headers: dict[str, str] | None = None, **extra: Any) -> Response:
    body: dict[str, Any] = {"type": PROBLEM_BASE + code, "title": title, "status": status, "detail": detail,
                            "code": code}
    if errors:
        body["errors"] = errors
    try:
        body["instance"] = request.path
    except RuntimeError:  # outside a request (unit use)
        pass
    body.update({k: v for k, v in extra.items() if v is not None})
    resp = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM_MIME)
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    return resp


def from_error(exc: Text2VideoError, headers: dict[str, str] | None = None, **extra: Any) -> Response:
    coded = {field: items_of(text) for field, text in exc.field_texts().items()}
    messages = {"detail": items_of(exc.text()), **({"errors": coded} if coded else {})}
    return problem(exc.http_status, exc.code, exc.title, str(exc), errors=exc.errors or None, headers=headers,
                   messages=messages, **extra)


def _text2video_error(exc: Text2VideoError) -> Response:
    if exc.http_status >= 500:
        log.warning("%s %s -> %s: %s", request.method, request.path, exc.code, exc)
    headers = {}
    if exc.http_status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="text2video"'
    if exc.http_status in (429, 503):
        headers["Retry-After"] = str(getattr(exc, "retry_after", None) or (30 if exc.http_status == 429 else 10))
    return from_error(exc, headers=headers)


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    code, hint = _HTTP_CODES.get(status, ("http_%d" % status, None))
    detail = exc.description or exc.name
    if status == 413:
        limit = request.max_content_length
        detail = (f"The request body is larger than the {limit / 1048576:g} MB limit." if limit else detail)
        hint = "Upload a shorter or smaller video, or raise TEXT2VIDEO_MAX_UPLOAD_MB."
    elif status == 404:
        detail = f"Nothing at {request.path}."
    elif status == 405:
        allowed = ", ".join(sorted(getattr(exc, "valid_methods", None) or []))
        detail = f"{request.method} is not allowed on {request.path}" + (f"; use {allowed}." if allowed else ".")
    if hint:
        detail = f"{detail} {hint}" if detail.endswith(".") else f"{detail}. {hint}"
    headers = {k: v for k, v in exc.get_headers() if k.lower() not in ("content-type", "content-length")}
    generic = "error." + code
    messages = {"detail": list(Message(generic).items)} if generic in TEMPLATES else None
    return problem(status, code, exc.name, detail, headers=headers, messages=messages)


def _unexpected(exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return _http_error(exc)
    if isinstance(exc, Text2VideoError):
        return _text2video_error(exc)
    log.exception("unhandled error on %s %s", request.method, request.path)
    return problem(500, "error", "Internal error", "The server hit an unexpected error; it has been logged. "
                   "Retry, and report it if it repeats.", messages={"detail": list(Message("error.error").items)})


def init_app(app: Flask) -> None:
    app.register_error_handler(Text2VideoError, _text2video_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


__all__ = ["problem", "from_error", "init_app", "PROBLEM_MIME", "PROBLEM_BASE"]
