"""The job's JSON fields: one table, read by :func:`job_data` (the values) and by the OpenAPI builder (the schema).

Each entry says how to read a job row (a :class:`~text2video.jobs.tables.Job` or anything with its attributes)
and what JSON Schema the value has. Links (``files``, ``links``) are URLs and belong to the API
(``text2video.api.links``), which declares them the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from .outbox import describe
from .status import JobStage, JobStatus
from .tables import isoformat


@dataclass(frozen=True)
class Field:
    read: Callable[..., Any]  # (job, ...) -> JSON value
    schema: dict[str, Any]
    required: bool = False


_NULLABLE_STR = {"type": ["string", "null"]}
_TIME = {"type": "string", "format": "date-time"}
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
_DELIVERY = {"type": "object", "required": ["status", "attempts"], "properties": {
    "status": {"type": "string", "enum": ["scheduled", "pending", "delivering", "delivered", "failed", "skipped"]},
    "attempts": {"type": "integer"}, "error": _NULLABLE_STR, "next_attempt_at": _NULLABLE_TIME}}
_ERROR = {"oneOf": [{"type": "null"}, {"type": "object", "required": ["code", "message"], "properties": {
    "code": {"type": "string"}, "message": {"type": "string"}}}]}


def _coded(job: Any) -> dict[str, Any]:
    """The job's pose summary, warnings and error message as code + params (None: English only), for clients that
    show them in another language (see :mod:`text2video.messages`)."""
    texts = job.texts or {}
    return {"pose_summary": texts.get(job.pose_summary or ""), "warnings": [texts.get(w) for w in job.warnings or []],
            "error": texts.get(job.error_message or "") if job.error_code else None}


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)


JOB_FIELDS: dict[str, Field] = {
    "id": Field(lambda j: j.id, {"type": "string"}, required=True),
    "status": Field(lambda j: JobStatus(j.status).value, {"type": "string", "enum": [s.value for s in JobStatus]},
                    required=True),
    "stage": Field(lambda j: JobStage(j.stage).value if j.stage else None,
                   {"type": ["string", "null"], "enum": [s.value for s in JobStage] + [None]}),
    "progress": Field(lambda j: _rounded(j.progress or 0.0, 4), {"type": "number", "minimum": 0, "maximum": 1},
                      required=True),
    "step": Field(lambda j: j.step or 0, {"type": "integer"}),
    "total_steps": Field(lambda j: j.total_steps or 0, {"type": "integer"}),
    "eta_seconds": Field(lambda j: _rounded(j.eta_seconds, 1), {"type": ["number", "null"]}),
    "prompt": Field(lambda j: j.prompt, {"type": "string"}),
    "english_prompt": Field(lambda j: j.english_prompt, _NULLABLE_STR),
    "language": Field(lambda j: j.language, _NULLABLE_STR),
    "negative_prompt": Field(lambda j: j.negative_prompt, _NULLABLE_STR),
    "model": Field(lambda j: j.model, {**_NULLABLE_STR, "description": "The model that makes the video "
                                                                         "(GET /api/v1/models)"}),
    "inputs": Field(lambda j: dict(j.inputs or {}), {"type": "object", "additionalProperties": {"type": "string"},
                                                      "description": "The input files by slot (video, "
                                                                     "reference_image): names in the job folder"}),
    "params": Field(lambda j: dict(j.params or {}), {
        "type": "object",
        "description": "The validated parameters (see JobCreate); POST /generate adds `client_id` (its `id` field)"},
        required=True),
    "input_kind": Field(lambda j: j.input_kind, _NULLABLE_STR),
    "pose_summary": Field(lambda j: j.pose_summary, _NULLABLE_STR),
    "fps": Field(lambda j: j.fps, {"type": ["number", "null"]}),
    "device": Field(lambda j: j.device, _NULLABLE_STR),
    "memory_preset": Field(lambda j: j.memory_preset, _NULLABLE_STR),
    "demo": Field(lambda j: bool(j.demo), {"type": "boolean"}),
    "warnings": Field(lambda j: list(j.warnings or []), {"type": "array", "items": {"type": "string"}}),
    "messages": Field(_coded, {"type": "object", "description": "pose_summary, warnings (one entry each, null = "
                               "English only) and error as code + params lists ({code, params} or {code: null, "
                               "text}), to show them in another language; codes and English templates: "
                               "text2video/messages.py"}),
    "created_at": Field(lambda j: isoformat(j.created_at), _TIME, required=True),
    "started_at": Field(lambda j: isoformat(j.started_at), _NULLABLE_TIME),
    "finished_at": Field(lambda j: isoformat(j.finished_at), _NULLABLE_TIME),
    "error": Field(lambda j: j.error, _ERROR),
    "cancel_requested": Field(lambda j: bool(j.cancel_requested), {"type": "boolean"}),
    "attempts": Field(lambda j: j.attempts or 0, {"type": "integer"}),
    "deliveries": Field(lambda j: {d.kind: describe(d) for d in j.deliveries or ()}, {
        "type": "object", "properties": {"webhook": _DELIVERY, "push": _DELIVERY}, "additionalProperties": False,
        "description": "What the job still owes or has sent: `webhook` (to its callback_url), `push` (its MP4 to "
                       "the server's TEXT2VIDEO_SEND_URL, for a succeeded job with a client `id`)"}),
}


def job_data(job: Any) -> dict[str, Any]:
    """The job's JSON values, without URLs."""
    return {name: field.read(job) for name, field in JOB_FIELDS.items()}


def object_schema(fields: Mapping[str, Field]) -> dict[str, Any]:
    """The JSON Schema of an object made of ``fields``."""
    return {"type": "object", "required": [name for name, f in fields.items() if f.required],
            "properties": {name: f.schema for name, f in fields.items()}}


__all__ = ["Field", "JOB_FIELDS", "job_data", "object_schema"]
