"""A job's files as the API lists them agree with its folder: a canceled or failed run removes what it wrote, and
neither the job JSON nor the 404 of a file link may still name those files (issue 13 item 2)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.api.helpers import settings_of, store_of, submit
from tests.service import wait_for
from text2video.jobs.tasks import execute_job

SKELETON = Path(__file__).resolve().parents[2] / "assets" / "sample_skeleton.mp4"


def _listed_files_exist(client, job: dict) -> None:
    folder = settings_of(client.application).jobs_dir / job["id"]
    on_disk = sorted(p.name for p in folder.iterdir() if p.name != "input.mp4" and not p.name.startswith("."))
    assert sorted(job["files"]) == on_disk, f"listed {sorted(job['files'])}, folder has {on_disk}"
    for name, url in job["files"].items():
        assert client.get(url).status_code == 200, name


def _missing_file_detail(client, job_id: str, name: str) -> str:
    resp = client.get(f"/api/v1/jobs/{job_id}/files/{name}")
    assert resp.status_code == 404 and resp.mimetype == "application/problem+json"
    body = resp.get_json()
    return body["detail"]


@pytest.mark.usefixtures("one_torch_thread")
def test_canceled_real_run_lists_no_file_it_removed(client, demo_models):
    """The reported case: the real engine writes skeleton.mp4 and a preview, is canceled while denoising, and
    removes them; the job JSON must not keep listing them."""
    from text2video.engine import Engine

    resp = submit(client, SKELETON.read_bytes(), "skeleton.mp4", input_type="skeleton", steps=150, frames=4,
                  width=64, height=64, seed=3)
    assert resp.status_code == 202, resp.get_data(as_text=True)
    job_id = resp.get_json()["id"]
    engine = Engine(demo_models, device="cpu", dtype="fp32")
    outcome: list[str] = []
    run = threading.Thread(target=lambda: outcome.append(execute_job(
        job_id, settings=settings_of(client.application), store=store_of(client.application),
        get_engine=lambda: engine, worker="test-worker")))
    run.start()
    try:
        wait_for(lambda: {"skeleton.mp4", "preview.gif"} <= set(client.get(f"/api/v1/jobs/{job_id}").get_json()
                                                                ["files"]), 120, what="the skeleton and a preview")
        assert client.post(f"/api/v1/jobs/{job_id}/cancel").status_code == 202
    finally:
        run.join(120)
    job = client.get(f"/api/v1/jobs/{job_id}").get_json()
    assert outcome == ["canceled"] and job["status"] == "canceled"
    _listed_files_exist(client, job)
    assert job["files"] == {}
    detail = _missing_file_detail(client, job_id, "skeleton.mp4")
    assert detail.endswith(f"job {job_id} has no skeleton.mp4. It has: no files."), detail


def test_failed_run_lists_only_what_is_left(client, sample_bytes, hand_worker):
    """A failing run as the worker makes it: files written, removed again on failure, then the failure stored.
    What the folder still holds (a file of an earlier attempt) stays listed and downloadable."""
    job_id = submit(client, sample_bytes).get_json()["id"]
    store, folder = store_of(client.application), settings_of(client.application).jobs_dir / job_id
    hand_worker.claim(job_id)
    hand_worker.write_outputs(job_id)  # skeleton, keypoints, result, side_by_side
    store.update_progress(job_id, hand_worker.worker, stage="generating")
    for name in ("skeleton.mp4", "result.mp4", "side_by_side.mp4"):  # the run removes what it wrote
        (folder / name).unlink()
    assert store.mark_failed(job_id, "internal_error", "boom", worker=hand_worker.worker)
    job = client.get(f"/api/v1/jobs/{job_id}").get_json()
    assert job["status"] == "failed"
    _listed_files_exist(client, job)
    assert set(job["files"]) == {"keypoints.json"}
    detail = _missing_file_detail(client, job_id, "skeleton.mp4")
    assert detail.endswith(f"job {job_id} has no skeleton.mp4. It has: keypoints.json."), detail


def test_files_are_served_with_the_default_relative_data_folder(tmp_path, monkeypatch, sample_bytes, sample_video):
    """Issue 20 item 1: the default ``data_dir`` is the relative ``data``; Flask's send_file resolves a relative
    path against the app package, so every job file answered 500. Run from a temporary working directory."""
    from tests.api.helpers import HandWorker, base_config
    from text2video.api import create_app

    monkeypatch.chdir(tmp_path)
    app = create_app(base_config(tmp_path, data_dir="data"))
    client = app.test_client()
    job_id = submit(client, sample_bytes).get_json()["id"]
    HandWorker(app, sample_video).succeed(job_id)
    job = client.get(f"/api/v1/jobs/{job_id}").get_json()
    folder = tmp_path / "data" / "jobs" / job_id
    assert job["files"], job
    for name, url in job["files"].items():
        whole = client.get(url)
        assert whole.status_code == 200, (name, whole.get_data(as_text=True))
        assert whole.data == (folder / name).read_bytes(), name
        part = client.get(url, headers={"Range": "bytes=0-9"})
        assert part.status_code == 206 and part.data == (folder / name).read_bytes()[:10], name
