"""API keys: ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``, compared in constant time. HTTP Basic with
the key as the password is accepted too: a client that can only be given a URL (the first prototype's frontend,
``https://t2v:<key>@host/``) sends its credentials that way.

Required on every API route whenever ``settings.api_key_list`` is non-empty (``serve --tunnel`` generates one, so a
public URL is never open). Jobs remember a short hash of the key that created them (``api_key_id``), which scopes
listing and per-key limits; the key itself is never stored.

Browsers cannot put headers on ``<video src>``, so the file URLs inside a job's JSON carry a signature instead
(``?exp=<unix time>&sig=<HMAC>``, made by itsdangerous from the configured keys): valid for a day, useless for any
other file.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from functools import wraps
from typing import Callable

from flask import g, request
from itsdangerous import Signer

from ..exceptions import Unauthorized
from .services import get_settings

SIGNED_URL_TTL_S = 24 * 3600


def key_id(key: str) -> str:
    """Short, stable, non-reversible id of a key (stored on jobs, shown in logs)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def presented_key() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    if header[:6].lower() == "basic ":
        try:
            return base64.b64decode(header[6:].strip(), validate=True).decode("utf-8").partition(":")[2] or None
        except (binascii.Error, UnicodeDecodeError):
            return None
    return (request.headers.get("X-API-Key") or "").strip() or None


def auth_enabled() -> bool:
    return bool(get_settings().api_key_list)


def check_key(key: str | None) -> str | None:
    """The key's id when ``key`` is one of the configured keys (None when auth is off); raises Unauthorized."""
    keys = get_settings().api_key_list
    if not keys:
        return None
    if not key:
        raise Unauthorized("this server requires an API key", field="Authorization",
                           hint="Send it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>' (printed by "
                                "`manage.py serve` when it generated one).")
    # compare against every key (no early exit) so timing reveals neither which key nor how much matched
    matched = None
    for candidate in keys:
        if hmac.compare_digest(candidate.encode("utf-8"), key.encode("utf-8")):
            matched = candidate
    if matched is None:
        raise Unauthorized("the API key is not valid", field="Authorization",
                           hint="Send a valid key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>' (check for "
                                "spaces or quotes; ask the operator for one).")
    return key_id(matched)


def authenticate() -> str | None:
    """Check this request's key once; sets ``g.api_key_id`` and ``g.authenticated``."""
    if "authenticated" not in g:
        g.api_key_id = check_key(presented_key())
        g.authenticated = True
    return g.api_key_id


def is_authenticated() -> bool:
    """True when auth is off or this request carries a valid key (never raises)."""
    try:
        authenticate()
        return True
    except Unauthorized:
        return False


def require_key(view: Callable) -> Callable:
    @wraps(view)
    def wrapped(*args, **kwargs):
        authenticate()
        return view(*args, **kwargs)
    return wrapped


# --- signed file URLs ------------------------------------------------------------------------------------------

def _file_signer() -> Signer:
    # every configured key verifies (itsdangerous key rotation); the salt keeps these signatures for file links only
    return Signer(sorted(get_settings().api_key_list), salt="text2video-files", digest_method=hashlib.sha256)


def _signed_value(job_id: str, name: str, expires: int) -> bytes:
    return f"{job_id}/{name}/{expires}".encode("utf-8")


def sign_file_url(url: str, job_id: str, name: str, now: float | None = None) -> str:
    if not auth_enabled():
        return url
    # round the expiry up to the hour: the same URL for an hour keeps browser caches and <video> seeking happy
    expires = int(((now or time.time()) + SIGNED_URL_TTL_S) // 3600 * 3600 + 3600)
    signature = _file_signer().get_signature(_signed_value(job_id, name, expires)).decode("ascii")
    return f"{url}?exp={expires}&sig={signature}"


def check_file_access(job_id: str, name: str) -> None:
    """A file download needs a key, or a valid unexpired signature for exactly this file."""
    if not auth_enabled():
        return
    exp, sig = request.args.get("exp", ""), request.args.get("sig", "")
    if exp.isdigit() and sig and int(exp) >= time.time() and \
            _file_signer().verify_signature(_signed_value(job_id, name, int(exp)), sig.encode("ascii", "replace")):
        g.authenticated, g.api_key_id = True, None
        g.signed_file = True
        return
    if exp or sig:
        if presented_key():
            authenticate()
            return
        raise Unauthorized("the file link has expired or is not valid", field="sig",
                           hint="Fetch the job again (GET /api/v1/jobs/{id}) for fresh file links.")
    authenticate()


__all__ = ["key_id", "presented_key", "auth_enabled", "check_key", "authenticate", "is_authenticated",
           "require_key", "sign_file_url", "check_file_access"]
