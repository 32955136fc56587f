"""A public URL for a local server through ngrok (pyngrok), for Colab/Kaggle boxes and demos.

``python manage.py --tunnel`` (or ``TEXT2VIDEO_TUNNEL=ngrok``) with ``NGROK_AUTHTOKEN`` set. A public URL is never
left open: when no API key is configured one is generated, stored in ``<data_dir>/api_key`` (kept across restarts)
and printed. If the tunnel cannot start (no token, binary missing and no network to fetch it, ngrok refuses the
token) :func:`start_tunnel` says why and returns without one: the server keeps serving locally.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

from .settings import Settings

log = logging.getLogger(__name__)

API_KEY_FILE = "api_key"
TOKEN_HELP = "get a token at https://dashboard.ngrok.com/get-started/your-authtoken and set NGROK_AUTHTOKEN"


class TunnelError(Exception):
    """Why the tunnel could not start (the message is printed as is)."""


@dataclass
class Tunnel:
    public_url: str | None
    api_key: str | None
    api_key_generated: bool = False
    error: str | None = None
    _ngrok_config: object | None = None

    @property
    def ok(self) -> bool:
        return self.public_url is not None

    def close(self) -> None:
        if self.public_url and self._ngrok_config is not None:
            try:
                from pyngrok import ngrok
                ngrok.disconnect(self.public_url, pyngrok_config=self._ngrok_config)
                ngrok.kill(pyngrok_config=self._ngrok_config)
            except Exception as exc:  # noqa: BLE001 - shutting down anyway
                log.debug("closing the tunnel: %s", exc)


def ensure_api_key(settings: Settings) -> tuple[str, bool]:
    """The first configured API key, else the stored one, else a new one stored in the data folder.

    Returns (key, generated_now)."""
    if settings.api_key_list:
        return settings.api_key_list[0], False
    path = Path(settings.data_dir) / API_KEY_FILE
    if path.exists() and path.read_text().strip():
        return path.read_text().strip(), False
    path.parent.mkdir(parents=True, exist_ok=True)
    key = "t2v_" + secrets.token_urlsafe(32)
    tmp = path.with_name(f".{API_KEY_FILE}.{os.getpid()}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # readable by the owner only
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    try:
        os.link(tmp, path)  # atomic; if another process stored one first, use theirs
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)
    return path.read_text().strip(), True


def check_prerequisites(settings: Settings) -> str | None:
    """The ngrok binary to use (None = pyngrok's default, installed on demand); raises TunnelError with the reason
    when the tunnel cannot work."""
    if not settings.ngrok_authtoken:
        raise TunnelError(f"no ngrok auth token: {TOKEN_HELP} (or TEXT2VIDEO_NGROK_AUTHTOKEN)")
    if settings.ngrok_path:
        path = Path(settings.ngrok_path).expanduser()
        if not path.is_file():
            found = shutil.which(settings.ngrok_path)
            if not found:
                raise TunnelError(f"ngrok binary {settings.ngrok_path!r} not found; install ngrok "
                                  "(https://ngrok.com/download) or fix TEXT2VIDEO_NGROK_PATH")
            path = Path(found)
        if not os.access(path, os.X_OK):
            raise TunnelError(f"ngrok binary {str(path)!r} is not executable (chmod +x it)")
        return str(path)
    return None


def open_tunnel(settings: Settings, port: int, timeout_s: float = 45.0):
    """Open an HTTP tunnel to ``port``; returns (public_url, pyngrok config). Raises TunnelError."""
    ngrok_path = check_prerequisites(settings)
    try:
        from pyngrok import conf, ngrok
    except ImportError as exc:  # pragma: no cover - pyngrok is a dependency
        raise TunnelError("pyngrok is not installed (pip install pyngrok)") from exc
    config = conf.PyngrokConfig(auth_token=settings.ngrok_authtoken, monitor_thread=False,
                                **({"ngrok_path": ngrok_path} if ngrok_path else {}))
    if not ngrok_path and not Path(config.ngrok_path).exists():
        log.info("ngrok binary not found at %s; pyngrok downloads it (needs internet)", config.ngrok_path)
    options = {"domain": settings.ngrok_domain} if settings.ngrok_domain else {}
    result: dict = {}

    def connect() -> None:
        try:
            result["tunnel"] = ngrok.connect(str(port), "http", pyngrok_config=config, **options)
        except BaseException as exc:  # noqa: BLE001 - reported to the caller below
            result["error"] = exc

    # pyngrok's download and start-up can hang on a box without network: bound the whole attempt.
    thread = threading.Thread(target=connect, name="ngrok-connect", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        raise TunnelError(f"ngrok did not start within {timeout_s:.0f} s (no network?)")
    if "error" in result:
        exc = result["error"]
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if getattr(exc, "ngrok_error", None) and exc.ngrok_error not in text:
            text = f"{text} ({exc.ngrok_error})"
        if "install" in type(exc).__name__.lower() or "download" in text.lower():
            raise TunnelError(f"the ngrok binary is missing and could not be downloaded ({text}); install ngrok "
                              "and name it with TEXT2VIDEO_NGROK_PATH") from exc
        raise TunnelError(f"ngrok failed: {text}") from exc
    return result["tunnel"].public_url, config


def start_tunnel(settings: Settings, port: int, timeout_s: float = 45.0) -> Tunnel:
    """Everything ``serve --tunnel`` needs; never raises (``Tunnel.error`` says why there is no public URL).

    The API key is settled first (and must be passed to the app before the tunnel opens): a public URL must
    never be reachable without one."""
    key, generated = ensure_api_key(settings)
    try:
        public_url, config = open_tunnel(settings, port, timeout_s)
    except TunnelError as exc:
        log.warning("tunnel not started: %s; serving locally only", exc)
        return Tunnel(public_url=None, api_key=key, api_key_generated=generated, error=str(exc))
    return Tunnel(public_url=public_url, api_key=key, api_key_generated=generated, _ngrok_config=config)


__all__ = ["Tunnel", "TunnelError", "ensure_api_key", "check_prerequisites", "open_tunnel", "start_tunnel"]
