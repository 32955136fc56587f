"""The retention period: finished jobs older than ``settings.retention_days`` go, row and files (run by the reaper)."""

from __future__ import annotations

import logging
import shutil
import time

from ..settings import Settings
from ..storage import delete_job_files, is_job_id
from .store import JobStore

log = logging.getLogger(__name__)


def cleanup_expired(store: JobStore, settings: Settings) -> int:
    """Delete finished jobs older than ``settings.retention_days`` (row and files); return how many.

    Also removes job folders that have no row any more (a crash between deleting the row and the files).
    ``retention_days <= 0`` keeps everything."""
    if settings.retention_days <= 0:
        return 0
    removed = 0
    for job in store.expired(settings.retention_days):
        delete_job_files(settings, job.id)
        if store.delete(job.id):
            removed += 1
    removed_orphans = _remove_orphan_folders(store, settings)
    if removed or removed_orphans:
        log.info("retention: removed %d expired jobs and %d orphan folders (older than %.1f days)", removed,
                 removed_orphans, settings.retention_days)
    return removed


def _remove_orphan_folders(store: JobStore, settings: Settings) -> int:
    root = settings.jobs_dir
    if not root.is_dir():
        return 0
    cutoff = time.time() - settings.retention_days * 86400
    count = 0
    for entry in root.iterdir():
        # Only old folders: a brand-new folder may belong to a job whose row is being written right now.
        if is_job_id(entry.name) and entry.is_dir() and entry.stat().st_mtime < cutoff \
                and store.get(entry.name) is None:
            shutil.rmtree(entry, ignore_errors=True)
            count += 1
    return count


__all__ = ["cleanup_expired"]
