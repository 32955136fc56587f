"""All configuration in one place, with units and defaults.

Every field can be set by an environment variable ``TEXT2VIDEO_<FIELD NAME IN CAPITALS>`` (for example
``TEXT2VIDEO_DATA_DIR=/mnt/shared/text2video``), by a command-line flag where one exists, or by the mapping given
to :meth:`Settings.load` (tests, ``create_app(config)``). Path settings are resolved ONCE, here, against the current
directory (``~`` expanded, symlinks followed): every layer, and every worker started with these settings, sees one
absolute path whatever its own working directory (Flask's ``send_file`` resolves a relative path against the app
package, not the working directory).

Several machines (API nodes, GPU workers) share one deployment by pointing ``data_dir`` at the same network
filesystem and ``database_url``/``broker_url`` at the same PostgreSQL/Redis; every stored path is relative to
``data_dir``.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

ENV_PREFIX = "TEXT2VIDEO_"


@dataclass
class Settings:
    # --- where things live ---------------------------------------------------------------------------------
    data_dir: Path = Path("data")  # jobs/<id>/ files, SQLite job store and broker, generated API key
    models_dir: Path = Path("models")  # real weights (`manage.py download`); the word "demo" = tiny demo weights
    database_url: str = ""  # SQLAlchemy URL; empty = sqlite:///<data_dir>/text2video.db (WAL)
    broker_url: str = ""  # Celery broker; empty = sqla+sqlite:///<data_dir>/broker.sqlite; redis://... to scale out

    # --- web server ------------------------------------------------------------------------------------------
    host: str = "127.0.0.1"  # 0.0.0.0 to listen on every interface
    port: int = 8000
    threads: int = 8  # waitress worker threads
    api_keys: str = ""  # comma-separated; empty = no auth (unless tunnelled: then one is generated)
    cors_origins: str = "*"  # comma-separated origins allowed to call the API from a browser
    tunnel: str = "none"  # none | ngrok
    ngrok_authtoken: str = ""  # also read from NGROK_AUTHTOKEN
    ngrok_path: str = ""  # an existing ngrok binary (offline boxes)
    ngrok_domain: str = ""  # reserved ngrok domain, optional

    # --- uploads and inputs ----------------------------------------------------------------------------------
    max_upload_mb: int = 500  # request body limit -> 413
    max_video_seconds: float = 600.0  # 10 minutes
    max_video_pixels: int = 4096 * 4096  # width x height
    max_video_fps: float = 120.0
    url_fetch_timeout_s: float = 60.0  # whole download of a video_url
    url_max_redirects: int = 3
    url_allow_private: bool = False  # TESTS ONLY: let video_url/callback_url reach private/loopback addresses
    url_allow_networks: str = ""  # comma-separated CIDRs video_url/callback_url may reach anyway (intranet)
    prompt_max_chars: int = 500
    max_output_frames: int = 1024  # generated frames per job; beyond it the error says to raise stride or trim
    gif_max_frames: int = 96  # result.gif preview: longer videos keep every k-th frame (result.mp4 has all)

    # --- jobs --------------------------------------------------------------------------------------------------
    retention_days: float = 7.0  # finished jobs older than this are deleted with their files
    min_free_disk_mb: int = 2048  # below this free space new jobs are refused with 503
    max_queued_per_key: int = 20  # queued+running jobs per API key -> 429
    job_timeout_s: int = 3 * 3600  # longest a job may run; the broker visibility timeout is set above it
    max_retries_on_worker_lost: int = 1  # a job whose worker died is retried this many times, then failed
    heartbeat_interval_s: float = 5.0  # a running job (and each worker) refreshes its heartbeat this often
    heartbeat_timeout_s: float = 60.0  # a running job with an older heartbeat is presumed dead and recovered
    reaper_interval_s: float = 15.0  # how often workers and `serve` look for dead jobs and expired ones
    worker_stop_grace_s: float = 10.0  # on stop, a running job gets this long to finish, then goes back to the queue
    engine_factory: str = ""  # "module:callable(settings)" building the worker's engine; empty = text2video.engine.Engine
    sync_wait_s: float = 900.0  # POST /generate waits this long for the video before answering 202
    webhook_secret: str = ""  # Standard Webhooks secret ("whsec_..." base64); empty = generated and stored
    webhook_max_attempts: int = 6  # exponential backoff 1, 2, 4, 8, 16 s...
    webhook_timeout_s: float = 10.0  # per delivery attempt (webhooks and the push to send_url)
    # the first prototype's result push: every succeeded job with a client `id` POSTs `id` + the MP4 (multipart) here
    send_url: str = ""  # e.g. https://site/senddata; empty = no push. Private addresses need url_allow_networks

    # --- generation --------------------------------------------------------------------------------------------
    default_model: str = "follow-your-pose"  # the model (text2video.families) of a request that names none
    max_image_mb: float = 20.0  # a reference_image upload or download -> larger is refused (413)
    max_image_pixels: int = 4096 * 4096  # width x height of a reference_image
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    dtype: str = "auto"  # auto | fp32 | fp16 | bf16
    memory: str = "auto"  # auto | high | medium | low (see text2video.models.presets)
    # "" = each model's own (Follow-Your-Pose: balanced, Wan VACE: wholebody); or balanced | accurate | wholebody
    # (models/layout.py POSE_PRESETS) for every model
    pose_preset: str = ""
    steps: int = 50
    guidance_scale: float = 12.5
    width: int = 512
    height: int = 512
    stride: int = 5  # use every 5th frame of the reference video, as Follow-Your-Pose does
    frames: int = 24  # generated frames when the request does not say
    scheduler: str = "ddim"  # ddim | dpm++
    preview_every_steps: int = 5  # live preview.gif of the video being denoised every N steps; 0 = no preview
    preview_min_interval_s: float = 1.0  # ... and at most once per this many seconds (bounds its cost)
    # torch.compile the UNet: off | default | reduce-overhead | max-autotune | max-autotune-no-cudagraphs. Faster
    # steps after a slow first job (each new frames/size compiles once per process; cache under data_dir/compile-cache)
    compile: str = "off"
    # Wan VACE's First Block Cache threshold when a request names none (0 = off; 0.05-0.1 reported as safe-ish on
    # Wan T2V, above 0.2 blurs; untested on VACE quality here)
    wan_cache_threshold: float = 0.0

    def __post_init__(self) -> None:
        self.data_dir = absolute_path(self.data_dir)
        if str(self.models_dir) != "demo":  # the word "demo" is not a folder: text2video.models.demo builds it
            self.models_dir = absolute_path(self.models_dir)
        if self.ngrok_path:
            self.ngrok_path = str(absolute_path(self.ngrok_path))
        self.database_url = _absolute_sqlite(self.database_url) or f"sqlite:///{self.data_dir / 'text2video.db'}"
        self.broker_url = _absolute_sqlite(self.broker_url) or f"sqla+sqlite:///{self.data_dir / 'broker.sqlite'}"
        if not self.ngrok_authtoken:
            self.ngrok_authtoken = os.environ.get("NGROK_AUTHTOKEN", "")

    @property
    def jobs_dir(self) -> Path:
        return self.data_dir / "jobs"

    @property
    def compile_cache_dir(self) -> Path:
        """Inductor's kernel and FX graph cache (TORCHINDUCTOR_CACHE_DIR unless set): kept between runs."""
        return self.data_dir / "compile-cache"

    @property
    def api_key_list(self) -> list[str]:
        return [k.strip() for k in self.api_keys.split(",") if k.strip()]

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    @classmethod
    def load(cls, overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> "Settings":
        """Defaults <- environment (``TEXT2VIDEO_*``) <- ``overrides`` (None values are ignored)."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = environ.get(ENV_PREFIX + f.name.upper())
            if raw is not None and raw != "":
                values[f.name] = _coerce(f, raw)
        for key, value in (overrides or {}).items():
            if value is None:
                continue
            if key not in {f.name for f in fields(cls)}:
                raise KeyError(f"unknown setting {key!r}; see text2video/settings.py for the list")
            values[key] = value
        return cls(**values)

    def replace(self, **changes: Any) -> "Settings":
        return dataclasses.replace(self, **changes)


def _coerce(f: dataclasses.Field, raw: str) -> Any:
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "bool":
            return raw.strip().lower() in ("1", "true", "yes", "on")
    except ValueError as exc:
        raise ValueError(f"{ENV_PREFIX}{f.name.upper()}={raw!r} is not a valid {kind}") from exc
    return raw


def absolute_path(value: str | Path) -> Path:
    """``value`` as one absolute path: ``~`` expanded, relative to the current directory, symlinks followed."""
    return Path(value).expanduser().resolve()


def _absolute_sqlite(url: str) -> str:
    """A SQLite URL with a relative file made absolute (a worker in another directory must open the same file);
    any other URL as it is."""
    path = sqlite_file(url) if url else None
    if path is None or path.is_absolute():
        return url
    prefix = "sqla+" if url.startswith("sqla+") else ""
    from sqlalchemy.engine import make_url
    return prefix + make_url(url.removeprefix("sqla+")).set(database=str(absolute_path(path))).render_as_string(
        hide_password=False)


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite database or broker URL (SQLAlchemy's ``sqlite:///``, kombu's ``sqla+sqlite:///``), parsed
    by SQLAlchemy's ``make_url``; None for any other database and for in-memory SQLite."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url.removeprefix("sqla+"))
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def as_dict(settings: Settings) -> dict[str, Any]:
    return {f.name: getattr(settings, f.name) for f in fields(settings)}


__all__ = ["Settings", "ENV_PREFIX", "absolute_path", "as_dict", "field", "sqlite_file"]
