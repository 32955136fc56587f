"""The OpenAPI 3.1 document: the request schemas come from the declarations that validate requests
(:mod:`text2video.request` via :mod:`.schemas`), the job schema from the field tables that make the job JSON
(:mod:`text2video.jobs.fields`, :mod:`.links`)."""

from __future__ import annotations

from typing import Any

from ..jobs.fields import JOB_FIELDS, object_schema
from ..jobs.status import JobStatus
from ..settings import Settings
from ..storage import OUTPUT_FILES
from .links import LINK_FIELDS
from .models import MODELS_SCHEMA
from .problems import PROBLEM_MIME
from .schemas import request_schema

VERSION = "0.1.0"


def _problem_response(description: str) -> dict:
    return {"description": description, "content": {PROBLEM_MIME: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def _job_response(description: str, location: bool = False) -> dict:
    resp: dict[str, Any] = {"description": description,
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}}
    if location:
        resp["headers"] = {"Location": {"description": "URL of the job", "schema": {"type": "string"}}}
    return resp


def _errors(*codes: int) -> dict:
    text = {400: "Malformed request", 401: "API key missing or wrong", 404: "No such job or file",
            409: "The job has already finished", 413: "Upload larger than the limit",
            415: "Not an accepted video", 416: "Byte range outside the file",
            422: "Invalid field (the `errors` member names each one)", 429: "Too many queued jobs for this key",
            503: "Disk floor reached or queue unreachable"}
    return {str(c): _problem_response(text[c]) for c in codes}


JOB_ID = {"name": "job_id", "in": "path", "required": True, "description": "Job id (32 hex characters)",
          "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"}}
PREFER = {"name": "Prefer", "in": "header", "required": False,
          "description": "`wait=N` (N <= 60): answer once the job has finished or after N seconds, whichever first",
          "schema": {"type": "string", "examples": ["wait=30"]}}


def build_openapi(settings: Settings) -> dict[str, Any]:
    job_body = {
        "required": True,
        "content": {
            "multipart/form-data": {"schema": request_schema(settings, multipart=True)},
            "application/json": {"schema": request_schema(settings, multipart=False)},
        },
    }
    legacy_body = {
        "required": True,
        "content": {
            "multipart/form-data": {"schema": request_schema(settings, multipart=True, legacy=True)},
            "application/x-www-form-urlencoded": {"schema": request_schema(settings, multipart=False, legacy=True)},
            "application/json": {"schema": request_schema(settings, multipart=False, legacy=True)},
        },
    }
    file_names = list(OUTPUT_FILES)  # preview.gif: the live preview while the video is denoised
    paths: dict[str, Any] = {
        "/api/v1/jobs": {
            "post": {
                "operationId": "createJob", "tags": ["jobs"], "summary": "Submit a job",
                "description": "Upload a reference video (`video`) or give `video_url`, plus a prompt. The video is "
                               "probed (a real decode) before the job is queued.",
                "parameters": [PREFER], "requestBody": job_body,
                "responses": {"202": _job_response("Queued (or still running after `Prefer: wait`)", True),
                              "200": _job_response("Finished within `Prefer: wait`", True),
                              **_errors(400, 401, 413, 415, 422, 429, 503)},
            },
            "get": {
                "operationId": "listJobs", "tags": ["jobs"], "summary": "Job history, newest first",
                "parameters": [
                    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
                    {"name": "per_page", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}},
                    {"name": "status", "in": "query", "schema": {"type": "string",
                                                                 "enum": [s.value for s in JobStatus]}},
                ],
                "responses": {"200": {"description": "One page of jobs", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/JobPage"}}}}, **_errors(401, 422)},
            },
        },
        "/api/v1/jobs/{job_id}": {
            "parameters": [JOB_ID],
            "get": {"operationId": "getJob", "tags": ["jobs"], "summary": "Status, progress, results of a job",
                    "parameters": [PREFER],
                    "responses": {"200": _job_response("The job"), **_errors(401, 404)}},
            "delete": {"operationId": "deleteJob", "tags": ["jobs"], "summary": "Delete a job and its files",
                       "description": "A queued or running job is canceled first.",
                       "responses": {"204": {"description": "Deleted"}, **_errors(401, 404)}},
        },
        "/api/v1/jobs/{job_id}/cancel": {
            "parameters": [JOB_ID],
            "post": {"operationId": "cancelJob", "tags": ["jobs"], "summary": "Cancel a queued or running job",
                     "responses": {"202": _job_response("Canceled, or cancel requested (a running job stops at its "
                                                        "next denoising step)"), **_errors(401, 404, 409)}},
        },
        "/api/v1/jobs/{job_id}/files/{name}": {
            "parameters": [JOB_ID, {"name": "name", "in": "path", "required": True,
                                    "schema": {"type": "string", "enum": file_names}}],
            "get": {
                "operationId": "getJobFile", "tags": ["jobs"], "summary": "Download an output file",
                "description": "Supports HTTP range requests (video seeking). With API keys on, the links in the job "
                               "JSON carry a signature (`exp`, `sig`) so a browser can load them without headers.",
                "parameters": [
                    {"name": "Range", "in": "header", "schema": {"type": "string", "examples": ["bytes=0-1023"]}},
                    {"name": "download", "in": "query", "schema": {"type": "string", "enum": ["1"]},
                     "description": "Send as an attachment"},
                    {"name": "exp", "in": "query", "schema": {"type": "integer"}},
                    {"name": "sig", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": {"description": "The file", "content": {
                        "video/mp4": {"schema": {"type": "string", "format": "binary"}},
                        "image/gif": {"schema": {"type": "string", "format": "binary"}},
                        "application/json": {"schema": {"type": "object"}}}},
                    "206": {"description": "Partial content (range request)",
                            "content": {"video/mp4": {"schema": {"type": "string", "format": "binary"}}}},
                    **_errors(401, 404, 416)},
            },
        },
        "/api/v1/health": {
            "get": {"operationId": "health", "tags": ["service"], "summary": "Service health",
                    "description": "Device, models present, live workers and queue depth (details only for "
                                   "authenticated callers when keys are on).", "security": [{}, {"bearer": []},
                                                                                              {"apiKey": []}],
                    "responses": {"200": {"description": "Health", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Health"}}}},
                        "503": {"description": "The job database is unreachable", "content": {"application/json": {
                            "schema": {"$ref": "#/components/schemas/Health"}}}}}},
        },
        "/api/v1/loras": {
            "get": {"operationId": "listLoras", "tags": ["service"], "summary": "Installed style LoRAs",
                    "description": "SD-1.x LoRA files in the models folder's `loras/` (installed by the operator). "
                                   "Name them in a job's `loras` field; a file with a `problem` cannot be used.",
                    "responses": {"200": {"description": "The LoRAs", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/LoraList"}}}}, **_errors(401)}},
        },
        "/api/v1/models": {
            "get": {"operationId": "listModels", "tags": ["service"], "summary": "The video models",
                    "description": "Each model family: installed here or not, its variants (a job's `model`), "
                                   "capabilities (input slots, LoRAs, preview, long videos) and limits (frame rule, "
                                   "size multiple, bounds, defaults).",
                    "responses": {"200": {"description": "The models", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/ModelList"}}}}, **_errors(401)}},
        },
        "/api/v1/openapi.json": {
            "get": {"operationId": "openapi", "tags": ["service"], "summary": "This document", "security": [{}],
                    "responses": {"200": {"description": "OpenAPI 3.1",
                                          "content": {"application/json": {"schema": {"type": "object"}}}}}},
        },
        "/api/v1/docs": {
            "get": {"operationId": "docs", "tags": ["service"], "summary": "This document as a web page",
                    "security": [{}],
                    "responses": {"200": {"description": "HTML", "content": {"text/html": {
                        "schema": {"type": "string"}}}}}},
        },
        "/": {
            "post": {
                "operationId": "submitPrototypeForm", "tags": ["jobs"],
                "summary": "Submit a job with the first prototype's form (answers at once)",
                "description": "The first prototype's frontend posts here: `id` (kept as params.client_id), `prompt`, "
                               "`video` (a URL or a file), `lang` 1/0, optionally `step`/`guidance_scale`; every "
                               "name /generate takes. 202 with the job at once, never waiting for the video. With "
                               "TEXT2VIDEO_SEND_URL set, a job with an `id` that succeeds is POSTed there "
                               "(multipart `id` + `video` file, Standard Webhooks signature headers); its state is "
                               "the job's `deliveries.push`. GET / is the web UI.",
                "requestBody": legacy_body,
                "responses": {"202": _job_response("Queued", True), **_errors(400, 401, 413, 415, 422, 429, 503)},
            },
        },
        "/generate": {
            "post": {
                "operationId": "generateSync", "tags": ["jobs"], "summary": "Generate and wait (synchronous)",
                "description": f"For curl and the first prototype's frontend: same queue, waits up to "
                               f"{settings.sync_wait_s:g} s, then returns the MP4 (or the job with "
                               "`Accept: application/json`). On timeout: 202 with the job and its URL; the job "
                               "goes on.",
                "requestBody": legacy_body,
                "responses": {
                    "200": {"description": "The generated video (or the job, with Accept: application/json)",
                            "headers": {"Location": {"schema": {"type": "string"}},
                                        "X-Job-Id": {"schema": {"type": "string"}}},
                            "content": {"video/mp4": {"schema": {"type": "string", "format": "binary"}},
                                        "application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}},
                    "202": _job_response("Still running after the wait; poll the Location", True),
                    **_errors(400, 401, 409, 413, 415, 422, 429, 503),
                    "500": _problem_response("The job failed (the problem's code says why)"),
                },
            },
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Text2Video API", "version": VERSION,
                 "description": "A reference video + a prompt (Vietnamese or English) -> a new character performing "
                                "the same motion (the models: GET /api/v1/models). Submit a job, follow its "
                                "progress, download the results. Errors are RFC 9457 problem details.",
                 "license": {"name": "MIT", "identifier": "MIT"}},
        "servers": [{"url": "/"}],
        "security": [{}, {"bearer": []}, {"apiKey": []}] if not settings.api_key_list else
        [{"bearer": []}, {"apiKey": []}],
        "tags": [{"name": "jobs"}, {"name": "service"}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
            "schemas": {
                "JobCreate": request_schema(settings, multipart=False),
                "Job": object_schema({**JOB_FIELDS, **LINK_FIELDS}),
                "JobPage": {"type": "object", "required": ["items", "page", "per_page", "total", "pages"],
                            "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Job"}},
                                           "page": {"type": "integer"}, "per_page": {"type": "integer"},
                                           "total": {"type": "integer"}, "pages": {"type": "integer"},
                                           "links": {"type": "object",
                                                     "additionalProperties": {"type": "string"}}}},
                "Problem": {"type": "object", "required": ["type", "title", "status", "detail"], "properties": {
                    "type": {"type": "string", "format": "uri"}, "title": {"type": "string"},
                    "status": {"type": "integer"}, "detail": {"type": "string"}, "code": {"type": "string"},
                    "instance": {"type": "string"},
                    "errors": {"type": "object", "additionalProperties": {"type": "string"},
                               "description": "Message per request field"}}},
                "LoraList": {"type": "object", "required": ["loras", "max_per_job", "weight"], "properties": {
                    "loras": {"type": "array", "items": {"type": "object", "required": ["name", "usable"],
                                                         "properties": {
                        "name": {"type": "string", "description": "File name without .safetensors"},
                        "size_bytes": {"type": "integer"},
                        "format": {"type": ["string", "null"], "enum": ["kohya", "diffusers", None]},
                        "parts": {"type": "array", "items": {"type": "string", "enum": ["unet", "text_encoder"]}},
                        "usable": {"type": "boolean"},
                        "problem": {"type": ["string", "null"], "description": "Why it cannot be used"}}}},
                    "max_per_job": {"type": "integer"},
                    "weight": {"type": "object", "properties": {"minimum": {"type": "number"},
                                                                "maximum": {"type": "number"},
                                                                "default": {"type": "number"}}}}},
                "ModelList": MODELS_SCHEMA,
                "Health": {"type": "object", "required": ["status"], "properties": {
                    "status": {"type": "string", "enum": ["ok", "degraded", "unavailable"]},
                    "auth_required": {"type": "boolean"}, "problems": {"type": "array", "items": {"type": "string"}},
                    "device": {"type": "object"}, "models": {"type": "object"}, "workers": {"type": "object"},
                    "queue": {"type": "object"}, "jobs": {"type": ["object", "null"]}, "disk": {"type": "object"}}},
            },
        },
    }


__all__ = ["build_openapi", "VERSION"]
