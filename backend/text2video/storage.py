"""Job files on disk: ``<data_dir>/jobs/<id>/`` holds ``input.<ext>``, ``skeleton.mp4``, ``keypoints.json``,
``result.mp4``, ``result.gif``, ``side_by_side.mp4``.

Every path is derived from ``settings.data_dir`` and the job id (never from a client's filename), so several
machines can share the data folder over a network filesystem (NFS, SMB, a mounted bucket with POSIX rename) as
long as they all point ``TEXT2VIDEO_DATA_DIR`` at the same place. Files are written to a temporary name in the
same folder and renamed when complete: a reader never sees half a file.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

from .exceptions import InvalidInput, NotFound, ServiceUnavailable
from .messages import Message
from .settings import Settings

log = logging.getLogger(__name__)

PREVIEW_FILE = "preview.gif"  # live preview while the video is denoised (text2video.diffusion.preview)
OUTPUT_FILES = ("skeleton.mp4", "keypoints.json", "result.mp4", "result.gif", "side_by_side.mp4", PREVIEW_FILE)
REFERENCE_IMAGE_FILE = "reference.png"  # the character photo as the API stores it (decoded, upright)
# Inputs a client may fetch back (the job page shows the photo used); the uploaded video is not served.
INPUT_FILES = (REFERENCE_IMAGE_FILE,)
SERVED_FILES = OUTPUT_FILES + INPUT_FILES
# Upload extensions we keep (the API probes the content too); anything else is stored as .bin and probed.
_EXT_RE = re.compile(r"^\.[a-z0-9]{1,5}$")
_JOB_ID_RE = re.compile(r"^[0-9a-f]{32}$")
_FILE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# Temporary names of the atomic writers: ``.result.gif.k3j2.part`` (atomic_write below) and
# ``.result.1a2b3c4d.part.gif`` (video.writer). A process killed mid-write leaves one behind.
_TEMP_RE = re.compile(r"^\..+\.part(\.[A-Za-z0-9]{1,5})?$")


def is_job_id(name: object) -> bool:
    """A uuid4 hex, the only form of job id that may become a folder name."""
    return isinstance(name, str) and bool(_JOB_ID_RE.match(name))


def job_dir(settings: Settings, job_id: str, create: bool = False) -> Path:
    """``<data_dir>/jobs/<job_id>``; the id must be a uuid4 hex (it becomes a path)."""
    if not is_job_id(job_id):
        raise NotFound(f"job {job_id!r} does not exist", field="id", value=job_id,
                       hint="Job ids are 32 hexadecimal characters, as returned by POST /api/v1/jobs.")
    path = settings.jobs_dir / job_id
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def job_file(settings: Settings, job_id: str, name: str) -> Path:
    """A file of a job by its bare name (``result.mp4``); refuses anything that could leave the job folder."""
    if not isinstance(name, str) or not _FILE_NAME_RE.match(name) or ".." in name:
        raise NotFound(f"file {name!r} does not exist", field="name", value=name,
                       hint=f"Job files are named like {', '.join(OUTPUT_FILES)}.")
    return job_dir(settings, job_id) / name


@contextmanager
def atomic_write(path: str | Path, mode: str = "wb") -> Iterator[IO]:
    """Write ``path`` through a temporary file in the same folder, renamed over it on success (fsync'd first so a
    network filesystem or a crash never exposes a truncated file). On error the temporary file is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    with atomic_write(path, "wb") as fh:
        fh.write(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def upload_extension(filename: str | None, default: str = ".mp4") -> str:
    """The lower-case extension of a client's filename when it is a plain one (``.mp4``), else ``default``."""
    ext = Path(filename or "").suffix.lower()
    return ext if _EXT_RE.match(ext) else default


def save_upload(settings: Settings, job_id: str, stream: IO[bytes] | bytes, filename: str | None = None, *,
                max_bytes: int | None = None, chunk_size: int = 1 << 20, stem: str = "input",
                field: str = "video") -> str:
    """Store an uploaded or downloaded file as ``<stem>.<ext>`` in the job folder (the client's filename only
    contributes its extension) and return that name, relative to the job folder.

    ``max_bytes`` (default ``settings.max_upload_mb``) is enforced while streaming: nothing bigger is kept.
    ``field``: the form field it came in (named by the errors: ``video``, ``reference_image``)."""
    from .exceptions import PayloadTooLarge

    check_disk_floor(settings)
    limit = int(settings.max_upload_mb * 1024 * 1024) if max_bytes is None else int(max_bytes)
    what = "video" if field == "video" else field.replace("_", " ")
    name = stem + upload_extension(filename)
    dest = job_dir(settings, job_id, create=True) / name
    written = 0
    with atomic_write(dest) as out:
        if isinstance(stream, (bytes, bytearray, memoryview)):
            stream = _BytesReader(bytes(stream))
        while True:
            chunk = stream.read(chunk_size)
            if not chunk:
                break
            written += len(chunk)
            if written > limit:
                if field != "video":
                    raise PayloadTooLarge(f"the {what} is larger than {limit / (1024 * 1024):g} MB", field=field,
                                          value=f"> {limit} bytes", hint="Send a smaller file.")
                raise PayloadTooLarge(f"the video is larger than {limit // (1024 * 1024)} MB", field="video",
                                      value=f"> {limit} bytes",
                                      hint="Send a shorter or more compressed video, or raise TEXT2VIDEO_MAX_UPLOAD_MB.")
            out.write(chunk)
    if written == 0:
        dest.unlink(missing_ok=True)
        shown = Path(filename).name if filename else name
        raise InvalidInput(Message("video.empty", name=shown), field=field, value=shown,
                           hint=Message("hint.attach_again"))
    return name


class _BytesReader:
    def __init__(self, data: bytes):
        self._data, self._pos = data, 0

    def read(self, n: int) -> bytes:
        chunk = self._data[self._pos:self._pos + n]
        self._pos += len(chunk)
        return chunk


def existing_files(settings: Settings, job_id: str) -> list[str]:
    """Output files of a job present on disk now (complete files only: temporaries start with a dot)."""
    folder = job_dir(settings, job_id)
    return [name for name in OUTPUT_FILES if (folder / name).is_file()]


def remove_temporary_files(settings: Settings, job_id: str, older_than_s: float = 0.0) -> list[str]:
    """Remove the temporary files a killed writer left in a job's folder (only those untouched for
    ``older_than_s``: a live writer keeps its file fresh); returns their names. Call it only when no attempt of
    the job is writing (retry, reaper)."""
    import time

    folder = job_dir(settings, job_id)
    cutoff = time.time() - older_than_s
    removed = []
    for path in folder.iterdir() if folder.is_dir() else ():
        try:
            if _TEMP_RE.match(path.name) and path.is_file() and path.stat().st_mtime <= cutoff:
                path.unlink()
                removed.append(path.name)
        except FileNotFoundError:  # gone meanwhile (its writer finished or aborted)
            pass
    if removed:
        log.info("job %s: removed temporary files %s", job_id, ", ".join(sorted(removed)))
    return removed


def sweep_temporary_files(settings: Settings, older_than_s: float) -> int:
    """:func:`remove_temporary_files` over every job folder (a killed upload or encode, whatever came after)."""
    root = settings.jobs_dir
    folders = [p.name for p in root.iterdir() if _JOB_ID_RE.match(p.name)] if root.is_dir() else []
    return sum(len(remove_temporary_files(settings, job_id, older_than_s)) for job_id in folders)


def delete_job_files(settings: Settings, job_id: str) -> bool:
    """Remove a job's folder; True when something was removed."""
    folder = job_dir(settings, job_id)
    if not folder.exists():
        return False
    shutil.rmtree(folder, ignore_errors=True)
    return not folder.exists()


def free_disk_mb(settings: Settings) -> float:
    """Free space (MB) on the filesystem holding the data folder."""
    path = Path(settings.data_dir)
    path.mkdir(parents=True, exist_ok=True)
    return shutil.disk_usage(path).free / (1024 * 1024)


def check_disk_floor(settings: Settings) -> None:
    """Raise ServiceUnavailable (503) when free space is under ``settings.min_free_disk_mb``."""
    free = free_disk_mb(settings)
    if free < settings.min_free_disk_mb:
        raise ServiceUnavailable(
            f"only {free:.0f} MB free in {settings.data_dir} (the floor is "
            f"{settings.min_free_disk_mb} MB); new jobs are refused until space is freed",
            hint="Delete old jobs (DELETE /api/v1/jobs/{id}), lower TEXT2VIDEO_RETENTION_DAYS, or free disk space.")


__all__ = ["OUTPUT_FILES", "PREVIEW_FILE", "REFERENCE_IMAGE_FILE", "INPUT_FILES", "SERVED_FILES", "job_dir", "job_file", "atomic_write", "atomic_write_bytes", "atomic_write_text",
           "upload_extension", "save_upload", "existing_files", "remove_temporary_files", "sweep_temporary_files", "delete_job_files", "free_disk_mb",
           "check_disk_floor", "is_job_id"]
