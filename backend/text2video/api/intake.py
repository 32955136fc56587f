"""Turning a submission (multipart form or JSON) into a stored, probed, queued job. Shared by POST /api/v1/jobs,
POST /generate and POST / (the last two read the first prototype's form: ``read_submission(legacy=True)``).

Order matters: validate every field first (cheap, all errors at once), then check capacity (disk floor, per-key
limit), then store the video under a generated name in a fresh job folder and PROBE it (a real decode, not the
extension), and only then create the row and send the message. Anything failing on the way removes the folder.
The capacity check up front only saves a doomed upload; creating the row counts and inserts in one locked
transaction, so parallel submissions cannot pass the per-key limit together.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import request
from werkzeug.datastructures import FileStorage

from .. import netguard, storage
from ..exceptions import (BadRequest, InvalidInput, RateLimited, ServiceUnavailable, Text2VideoError,
                          UnsupportedMedia)
from ..families import family_for
from ..jobs.store import QueueFull
from ..jobs.tables import Job
from ..messages import Message
from ..request import DEFAULTED, check_frames_available, check_loras, check_slots, lora_defaults
from ..video.image import IMAGE_EXTENSIONS, store_reference_image
from .schemas import VIDEO_EXTENSIONS, JobRequest, validate_job_request
from .services import services

log = logging.getLogger(__name__)

_CONTENT_TYPE_EXT = {"video/mp4": "mp4", "video/quicktime": "mov", "video/x-msvideo": "avi", "video/avi": "avi",
                     "video/x-matroska": "mkv", "video/webm": "webm", "video/x-ms-wmv": "wmv", "video/x-m4v": "m4v"}


FILE_FIELDS = ("video", "reference_image")  # the input slots a form may upload (text2video.families.Slot)


@dataclass
class Submission:
    request: JobRequest
    upload: FileStorage | None
    image: FileStorage | None = None  # the reference_image upload


def _form_fields() -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key in request.form:
        values = request.form.getlist(key)
        if len(values) > 1:
            raise InvalidInput(f"{key} was given {len(values)} times", field=key, value=values[:3],
                               hint="Send each field once.")
        # Werkzeug decodes form text as UTF-8 with errors replaced: a U+FFFD is where bytes were not UTF-8 (a
        # legacy-encoded prompt would otherwise be translated as "c� g�i" and detected as English)
        if "\ufffd" in values[0]:
            raise InvalidInput(Message("error.not_utf8", field=key), field=key, value=values[0][:60],
                               hint=Message("hint.utf8", field=key))
        data[key] = values[0]
    return data


_JSON_EXAMPLE = '{"prompt": "...", "video_url": "https://..."}'


def _json_body() -> dict[str, Any]:
    """The JSON object of the body; a 400 telling which of not UTF-8, not JSON or not an object it is."""
    import json

    raw = request.get_data(cache=True)  # within MAX_CONTENT_LENGTH, as get_json would read it
    hint = Message("hint.json_object", example=_JSON_EXAMPLE)
    try:
        text = raw.decode("utf-8-sig")  # JSON is UTF-8 (RFC 8259); a leading BOM is tolerated
    except UnicodeDecodeError as exc:
        raise BadRequest(Message("error.json_not_utf8", position=exc.start), field="body", hint=hint) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadRequest(Message("error.json_invalid", reason=exc.msg, line=exc.lineno, column=exc.colno),
                         field="body", hint=hint) from None
    if not isinstance(data, dict):
        raise BadRequest(Message("error.json_not_object", start=text.strip()[:20] or "''"), field="body", hint=hint)
    return data


def read_submission(*, legacy: bool = False) -> Submission:
    """The job-create fields of this request, validated (422 naming every bad field), and the uploaded file."""
    mimetype = request.mimetype
    upload: FileStorage | None = None
    image: FileStorage | None = None
    if request.is_json:
        data = _json_body()
    elif mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        data = _form_fields()  # reading the form enforces MAX_CONTENT_LENGTH (-> 413)
        uploads = _form_files()
        upload, image = uploads.get("video"), uploads.get("reference_image")
    else:
        raise UnsupportedMedia(f"the request body is {mimetype or 'missing'}; send multipart/form-data (with a video "
                               "file) or application/json (with video_url)", field="Content-Type", value=mimetype,
                               hint="With curl: -F prompt=... -F video=@dance.mp4")
    data = dict(data)
    if legacy and isinstance(data.get("video"), str):
        data.setdefault("video_url", data.pop("video"))  # the old form sent a URL in the `video` field too
    for slot in FILE_FIELDS:
        if slot in data:
            raise InvalidInput(f"{slot} must be a file upload (multipart/form-data)", field=slot,
                               hint=f"Upload the file as '{slot}', or give its address as '{slot}_url'.")
    req = validate_job_request(data, services().settings, legacy=legacy)
    _check_image_slot(req, image)
    if upload is not None and req.video_url:
        raise InvalidInput("both a video file and video_url were given", field="video_url",
                           hint="Send one of them.")
    if upload is not None:
        _upload_extension(upload)  # 415 for a .txt before anything else is looked at
    if upload is None and not req.video_url:
        raise InvalidInput("no reference video: upload a file as 'video' or give 'video_url'", field="video",
                           hint="With curl: -F video=@dance.mp4")
    settings = services().settings
    # installed, usable LoRA files made for this model (else 422); a step-distillation LoRA's steps / guidance for
    # the ones the request left out, so the job row says what will run
    loras = check_loras(req.model, req.params.get("loras") or [], settings.models_dir)
    req.params.update(lora_defaults(req.model, loras, req.params.get(DEFAULTED) or ())[0])
    policy = netguard.Policy.from_settings(settings)
    for url, name in ((req.video_url, "video_url"), (req.reference_image_url, "reference_image_url")):
        if url:
            netguard.parse_url(url, field=name, policy=policy)
    if req.callback_url:
        netguard.validate_url(req.callback_url, field="callback_url", policy=policy)
    return Submission(request=req, upload=upload, image=image)


def _form_files() -> dict[str, FileStorage]:
    """The form's file fields (one file each, only the slots a job takes)."""
    uploads: dict[str, FileStorage] = {}
    for key in request.files:
        files = request.files.getlist(key)
        if key not in FILE_FIELDS:
            raise InvalidInput(f"unexpected file field {key!r}", field=key,
                               hint="Send the reference video in the field named 'video' (and a character photo "
                                    "as 'reference_image', for the models that take one).")
        if len(files) > 1:
            what = "video" if key == "video" else key.replace("_", " ")
            raise InvalidInput(f"more than one {what} was sent", field=key, hint=f"Send one {what} per job.")
        if files and files[0].filename:
            uploads[key] = files[0]
    return uploads


def _check_image_slot(req: JobRequest, image: FileStorage | None) -> None:
    """A character photo only for a model whose family takes one (422 naming those that do); one source of it."""
    if image is None and not req.reference_image_url:
        return
    check_slots(req.model, ["reference_image"])
    if image is not None and req.reference_image_url:
        raise InvalidInput("both a reference_image file and reference_image_url were given",
                           field="reference_image_url", hint="Send one of them.")
    if image is not None:
        ext = Path(image.filename or "").suffix.lower().lstrip(".")
        if ext not in IMAGE_EXTENSIONS:
            raise UnsupportedMedia(f"{Path(image.filename or '').name!r} is not an accepted image file type "
                                   f"(.{ext or '?'})", field="reference_image", value=image.filename,
                                   hint=f"Upload one of: {', '.join('.' + e for e in IMAGE_EXTENSIONS)}.")


def _upload_extension(upload: FileStorage) -> str:
    name = upload.filename or ""
    ext = Path(name).suffix.lower().lstrip(".")
    if ext not in VIDEO_EXTENSIONS:
        raise UnsupportedMedia(f"{Path(name).name!r} is not an accepted video file type (.{ext or '?'})",
                               field="video", value=name, hint=_upload_types_hint())
    return ext


def _upload_types_hint() -> Message:
    """The file types an upload may have (the probe alone reads a few more, refused here by their extension)."""
    return Message("hint.video_file", types=", ".join("." + e for e in VIDEO_EXTENSIONS))


def _url_extension(url: str, content_type: str) -> str:
    ext = Path(url.split("?", 1)[0].split("#", 1)[0]).suffix.lower().lstrip(".")
    if ext in VIDEO_EXTENSIONS:
        return ext
    return _CONTENT_TYPE_EXT.get(content_type, "mp4")  # the probe reads the content, not the name


def check_capacity(api_key_id: str | None) -> None:
    """Refuse early (before the upload is stored) when the disk is full or the key is at its limit; the limit is
    enforced for good when the row is created (:meth:`JobStore.create` counts and inserts atomically)."""
    svc = services()
    storage.check_disk_floor(svc.settings)
    limit = svc.settings.max_queued_per_key
    if limit > 0 and svc.store.count_active(api_key_id) >= limit:
        raise _over_limit(limit, api_key_id)


def _over_limit(limit: int, api_key_id: str | None) -> RateLimited:
    who = "this API key already has" if api_key_id else "there are already"
    return RateLimited(f"{who} {limit} jobs queued or running (the limit per key)", field="Authorization",
                       hint="Wait for some to finish, or cancel some (POST /api/v1/jobs/{id}/cancel).")


def create_job(sub: Submission, api_key_id: str | None) -> Job:
    """Store the video, probe it, create the row and enqueue it. Returns the queued job."""
    svc = services()
    settings = svc.settings
    check_capacity(api_key_id)
    req = sub.request
    job_id = uuid.uuid4().hex
    folder = storage.job_dir(settings, job_id, create=True)
    field = "video" if sub.upload is not None else "video_url"
    try:
        if sub.upload is not None:
            input_name = storage.save_upload(  # the client's name gives the extension (checked above) only
                settings, job_id, sub.upload.stream, sub.upload.filename)
        else:
            storage.check_disk_floor(settings)
            tmp = folder / ".download.part"
            result = netguard.fetch(req.video_url, tmp, field="video_url",
                                    max_bytes=int(settings.max_upload_mb * 1024 * 1024),
                                    timeout_s=settings.url_fetch_timeout_s, max_redirects=settings.url_max_redirects,
                                    policy=netguard.Policy.from_settings(settings))
            input_name = f"input.{_url_extension(result.final_url, result.content_type)}"
            result.path.rename(folder / input_name)
        # a real decode: a renamed text file never reaches a worker; errors name the file as the client knows it
        shown = Path(sub.upload.filename).name if sub.upload is not None else req.video_url
        video = _probe(folder / input_name, field, shown)
        # nothing that will certainly fail later is accepted: the frames this video can give (422 with the number)
        family, _ = family_for(req.model)
        # (no stride: the family samples at its own fps, as the engine does)
        check_frames_available(req.params.get("frames"), req.params.get("stride") or 1, video, family.default_fps)
        inputs = {"video": input_name}
        if sub.image is not None or req.reference_image_url:
            inputs["reference_image"] = _store_image(sub, job_id, folder)
        try:
            job = svc.store.create(dict(req.params), inputs, req.prompt, req.negative_prompt,
                                   api_key_id=api_key_id, callback_url=req.callback_url, video_url=req.video_url,
                                   job_id=job_id, push_url=_push_url(req, settings.send_url),
                                   max_active=settings.max_queued_per_key, model=req.model)
        except QueueFull as full:  # others took the last slots while this upload was stored and probed
            raise _over_limit(full.limit, api_key_id) from None
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    try:
        svc.enqueue(job.id, job.model)
    except ServiceUnavailable as exc:
        # Fail it rather than leave a job the client was told did not start (a retry would then run it twice).
        svc.store.mark_failed(job.id, exc.code, str(exc))
        raise
    log.info("job %s queued (%s, key %s)", job.id, "upload" if sub.upload is not None else "url",
             api_key_id or "-")
    return job


def _store_image(sub: Submission, job_id: str, folder: Path) -> str:
    """The character photo (upload or URL, size-limited) decoded and stored upright as reference.png."""
    settings = services().settings
    max_bytes = int(settings.max_image_mb * 1024 * 1024)
    if sub.image is not None:
        field = "reference_image"
        raw = folder / storage.save_upload(settings, job_id, sub.image.stream, sub.image.filename,
                                           max_bytes=max_bytes, stem="reference-upload", field=field)
    else:
        field = "reference_image_url"
        storage.check_disk_floor(settings)
        result = netguard.fetch(sub.request.reference_image_url, folder / ".reference.part", field=field,
                                max_bytes=max_bytes, timeout_s=settings.url_fetch_timeout_s,
                                max_redirects=settings.url_max_redirects,
                                policy=netguard.Policy.from_settings(settings))
        raw = result.path
    try:
        store_reference_image(raw, folder / storage.REFERENCE_IMAGE_FILE, max_pixels=settings.max_image_pixels, field=field)
    finally:
        raw.unlink(missing_ok=True)
    return storage.REFERENCE_IMAGE_FILE


def _push_url(req: JobRequest, send_url: str) -> str | None:
    """Where the result goes when the job succeeds: the prototype's ``send_url``, for a job with its client ``id``."""
    return (send_url or None) if "client_id" in req.params else None


def _probe(path: Path, field: str, name: str):
    from ..video import probe_video

    settings = services().settings
    try:
        return probe_video(path, max_pixels=settings.max_video_pixels, max_fps=settings.max_video_fps,
                           max_seconds=settings.max_video_seconds, name=name, count_frames=True)
    except Text2VideoError as exc:
        if exc.field == "video" and isinstance(exc.hint, Message) and exc.hint.items[0]["code"] == "hint.video_file":
            exc.hint = _upload_types_hint()  # what this API accepts, not every type the probe reads
        if field != "video" and exc.field == "video":  # name the field the client actually used
            exc.field = field
            exc.errors = {field: exc.message}
        raise


__all__ = ["Submission", "read_submission", "create_job", "check_capacity"]
