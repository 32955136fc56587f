"""Where things are on the API: the URLs of a job, of its files and actions, and the job JSON that carries them.

The store returns data; URLs are made here only. ``base_url`` empty gives URLs relative to the server (what the API
answers); the webhook sender gives its public base so receivers get absolute URLs. A job's ``files`` are the output
files in its folder at the moment the document is made (:func:`text2video.storage.existing_files`): a run that fails
or is canceled removes what it wrote, so a list kept anywhere else could name files that are gone.
"""

from __future__ import annotations

from typing import Any

from .. import storage
from ..jobs.fields import Field, job_data
from ..jobs.status import JobStatus
from ..settings import Settings

API_PREFIX = "/api/v1"


def job_location(job_id: str, base_url: str = "") -> str:
    return f"{base_url.rstrip('/')}{API_PREFIX}/jobs/{job_id}"


def _file_links(_job: Any, where: str, files: list[str]) -> dict[str, str]:
    return {name: f"{where}/files/{name}" for name in files}


def _input_links(job: Any, where: str, _files: list[str]) -> dict[str, str]:
    # stored at submission, before the job row exists, and kept until the job is deleted: no disk check needed
    return {slot: f"{where}/files/{name}" for slot, name in (job.inputs or {}).items() if name in storage.INPUT_FILES}


def _action_links(job: Any, where: str, _files: list[str]) -> dict[str, str]:
    return {"self": where} if JobStatus(job.status).finished else {"self": where, "cancel": f"{where}/cancel"}


_URL_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
LINK_FIELDS: dict[str, Field] = {
    "files": Field(_file_links, dict(_URL_MAP, description="Output file name -> URL, only the files that exist now"),
                   required=True),
    "input_files": Field(_input_links, dict(_URL_MAP, description="Input slot -> URL of the inputs served back "
                                                                  "(reference_image: the character photo used)")),
    "links": Field(_action_links, _URL_MAP, required=True),
}


def job_document(job: Any, settings: Settings, base_url: str = "") -> dict[str, Any]:
    """The job JSON of the service contract: its fields (:mod:`text2video.jobs.fields`) and its links, the file
    links for what is in its folder now (``settings.data_dir``)."""
    where, files = job_location(job.id, base_url), storage.existing_files(settings, job.id)
    return {**job_data(job), **{name: field.read(job, where, files) for name, field in LINK_FIELDS.items()}}


__all__ = ["API_PREFIX", "LINK_FIELDS", "job_document", "job_location"]
