"""Where things are on the API: the URLs of a job, of its files and actions, and the job JSON that carries them.

The store returns data; URLs are made here only. ``base_url`` empty gives URLs relative to the server (what the API
answers); the webhook sender gives its public base so receivers get absolute URLs.
"""

from __future__ import annotations

from typing import Any

from ..jobs.fields import Field, job_data
from ..jobs.status import JobStatus

API_PREFIX = "/api/v1"


def job_location(job_id: str, base_url: str = "") -> str:
    return f"{base_url.rstrip('/')}{API_PREFIX}/jobs/{job_id}"


def _file_links(job: Any, base_url: str) -> dict[str, str]:
    where = job_location(job.id, base_url)
    return {name: f"{where}/files/{name}" for name in (job.files or [])}


def _action_links(job: Any, base_url: str) -> dict[str, str]:
    where = job_location(job.id, base_url)
    return {"self": where} if JobStatus(job.status).finished else {"self": where, "cancel": f"{where}/cancel"}


_URL_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
LINK_FIELDS: dict[str, Field] = {
    "files": Field(_file_links, dict(_URL_MAP, description="Output file name -> URL, only the files that exist now"),
                   required=True),
    "links": Field(_action_links, _URL_MAP, required=True),
}


def job_document(job: Any, base_url: str = "") -> dict[str, Any]:
    """The job JSON of the service contract: its fields (:mod:`text2video.jobs.fields`) and its links."""
    return {**job_data(job), **{name: field.read(job, base_url) for name, field in LINK_FIELDS.items()}}


__all__ = ["API_PREFIX", "LINK_FIELDS", "job_document", "job_location"]
