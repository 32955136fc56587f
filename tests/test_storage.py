"""Job folders, atomic writes, uploads, retention and the disk floor (real files in a temp data folder)."""

from __future__ import annotations

import io
import os
import time
from datetime import timedelta

import pytest

from text2video import storage
from text2video.exceptions import InvalidInput, NotFound, PayloadTooLarge, ServiceUnavailable
from text2video.jobs.retention import cleanup_expired
from text2video.jobs.tables import utcnow


def test_job_dir_and_file_names_are_safe(service_settings):
    jid = "a" * 32
    assert storage.job_dir(service_settings, jid) == service_settings.data_dir / "jobs" / jid
    for bad in ("../x", "A" * 32, "a" * 31, "", None):
        with pytest.raises(NotFound):
            storage.job_dir(service_settings, bad)
    assert storage.job_file(service_settings, jid, "result.mp4").name == "result.mp4"
    for bad in ("../db", "..", "/etc/passwd", ".hidden", "a/b", "x" * 100):
        with pytest.raises(NotFound):
            storage.job_file(service_settings, jid, bad)


def test_atomic_write_never_leaves_partial_files(tmp_path):
    target = tmp_path / "out" / "result.mp4"
    storage.atomic_write_bytes(target, b"old")
    with pytest.raises(RuntimeError):
        with storage.atomic_write(target) as fh:
            fh.write(b"half of the new")
            raise RuntimeError("encoder crashed")
    assert target.read_bytes() == b"old"
    assert os.listdir(target.parent) == ["result.mp4"]  # the temporary is gone
    storage.atomic_write_text(target, "new")
    assert target.read_text() == "new"


def test_save_upload_uses_generated_names_and_limits(service_settings):
    jid = "b" * 32
    name = storage.save_upload(service_settings, jid, io.BytesIO(b"x" * 5000), "../../evil name.MOV")
    assert name == "input.mov"
    assert (service_settings.jobs_dir / jid / "input.mov").read_bytes() == b"x" * 5000
    assert storage.save_upload(service_settings, jid, b"abc", "noext") == "input.mp4"
    assert storage.save_upload(service_settings, jid, b"abc", "x.weird-extension!") == "input.mp4"
    with pytest.raises(PayloadTooLarge) as exc:
        storage.save_upload(service_settings, "c" * 32, io.BytesIO(b"y" * 3000), "a.mp4", max_bytes=1000)
    assert exc.value.http_status == 413 and exc.value.field == "video"
    assert not (service_settings.jobs_dir / ("c" * 32) / "input.mp4").exists()
    with pytest.raises(InvalidInput):
        storage.save_upload(service_settings, "d" * 32, b"", "a.mp4")


def test_existing_files_and_delete(service_settings):
    jid = "e" * 32
    folder = storage.job_dir(service_settings, jid, create=True)
    storage.atomic_write_bytes(folder / "result.mp4", b"v")
    (folder / ".result.gif.123.part").write_bytes(b"partial")
    assert storage.existing_files(service_settings, jid) == ["result.mp4"]
    assert storage.delete_job_files(service_settings, jid) and not folder.exists()
    assert not storage.delete_job_files(service_settings, jid)


def test_cleanup_expired_removes_old_finished_jobs_only(service_settings, store):
    def job(finished_days_ago=None, status="succeeded"):
        j = store.create({}, {"video": "input.mp4"}, "p")
        storage.save_upload(service_settings, j.id, b"data", "a.mp4")
        if status != "queued":
            store.claim(j.id, "w", 1)
        if status == "succeeded":
            store.mark_succeeded(j.id, "w")
        if finished_days_ago is not None:
            store.set_fields(j.id, finished_at=utcnow() - timedelta(days=finished_days_ago))
        return j.id

    old, recent, running, queued = job(8), job(1), job(status="running"), job(status="queued")
    # an old folder without a row (a crash between deleting the row and its files) is swept too
    orphan = storage.job_dir(service_settings, "f" * 32, create=True)
    past = time.time() - 8 * 86400
    os.utime(orphan, (past, past))
    assert cleanup_expired(store, service_settings) == 1
    assert store.get(old) is None and not storage.job_dir(service_settings, old).exists()
    assert not orphan.exists()
    for keep in (recent, running, queued):
        assert store.get(keep) is not None and storage.job_dir(service_settings, keep).exists()
    assert cleanup_expired(store, service_settings.replace(retention_days=0)) == 0


def test_disk_floor(service_settings):
    free = storage.free_disk_mb(service_settings)
    assert free > 0
    storage.check_disk_floor(service_settings)  # floor 1 MB in tests
    with pytest.raises(ServiceUnavailable) as exc:
        storage.check_disk_floor(service_settings.replace(min_free_disk_mb=int(free) + 10**6))
    assert exc.value.http_status == 503 and "MB free" in str(exc.value) and "RETENTION" in str(exc.value)
    with pytest.raises(ServiceUnavailable):
        storage.save_upload(service_settings.replace(min_free_disk_mb=int(free) + 10**6), "a" * 32, b"x", "a.mp4")
