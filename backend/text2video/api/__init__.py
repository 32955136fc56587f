"""The Flask REST API (and the static web UI), built by :func:`create_app`. No module-level app.

    from text2video.api import create_app
    app = create_app({"data_dir": "/tmp/t2v"})      # dict of Settings overrides, a Settings, or None (= env)

Blueprints: ``jobs`` (/api/v1/jobs...), ``generate`` (POST /generate), ``root`` (POST /, the first prototype's
submit), ``health`` (/api/v1/health), ``loras`` (/api/v1/loras), ``models`` (/api/v1/models), ``docs``
(/api/v1/openapi.json, /api/v1/docs), ``frontend`` (GET / and the SPA's files). Production: ``manage.py serve`` runs it under waitress. The web
process stores jobs and sends queue messages; it never loads a model. URLs of jobs and their files are made in
``links`` only (the job store returns data).
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

from ..settings import Settings

log = logging.getLogger(__name__)

EXPOSED_HEADERS = ["Location", "Preference-Applied", "Retry-After", "Content-Range", "Accept-Ranges", "X-Job-Id",
                   "Content-Disposition"]
ALLOWED_HEADERS = ["Authorization", "X-API-Key", "Content-Type", "Prefer", "Range", "Accept",
                   # a frontend on a static host reaching a free ngrok domain skips ngrok's warning page
                   "ngrok-skip-browser-warning"]


def create_app(config: Settings | Mapping[str, Any] | None = None, *, store: Any = None, celery_app: Any = None,
               frontend_dir: str | None = None):
    """Build the app. ``store``/``celery_app`` replace the ones made from the settings (tests, embedding)."""
    from flask import Flask
    from flask_cors import CORS

    from . import docs, frontend, generate, health, jobs, loras, models, problems, root, services

    settings = config if isinstance(config, Settings) else Settings.load(config)
    app = Flask(__name__, static_folder=None)
    app.config.update(
        MAX_CONTENT_LENGTH=int(settings.max_upload_mb * 1024 * 1024),  # werkzeug answers 413 past this
        JSON_SORT_KEYS=False,
        FRONTEND_DIR=frontend_dir,
        TEXT2VIDEO_SETTINGS=settings,
    )
    app.json.sort_keys = False
    app.json.ensure_ascii = False  # Vietnamese prompts stay readable
    services.init_app(app, settings, store=store, celery_app=celery_app)
    problems.init_app(app)
    origins = settings.cors_origin_list
    CORS(app, resources={r"/api/*": {}, r"/generate": {}}, origins="*" if "*" in origins else origins,
         expose_headers=EXPOSED_HEADERS, allow_headers=ALLOWED_HEADERS, max_age=600, supports_credentials=False)
    for blueprint in (jobs.bp, generate.bp, root.bp, health.bp, loras.bp, models.bp, docs.bp, frontend.bp):
        app.register_blueprint(blueprint)
    return app


__all__ = ["create_app"]
