"""The worker with the REAL Engine on the tiny demo weights: a job produces playable files, and a slow real job
whose worker child is SIGKILLed is retried once, then failed with the exit code."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from text2video.jobs.fields import job_data
from text2video.jobs.status import JobStatus
from text2video.storage import existing_files

from tests.service import Harness, kill_when_denoising, make_settings, start_worker_process

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "assets" / "sample_skeleton.mp4"


@pytest.fixture(scope="module")
def demo_worker(tmp_path_factory, demo_models):
    root = tmp_path_factory.mktemp("demo-worker")
    settings = make_settings(root / "data", models_dir="demo", device="cpu")
    worker = start_worker_process(settings, "demo-worker", root, engine_factory=None)
    yield worker
    worker.proc.stop()


def create_skeleton_job(h: Harness, steps: int) -> str:
    from text2video.jobs.queue import enqueue
    from text2video.storage import save_upload

    params = {"steps": steps, "frames": 4, "width": 64, "height": 64, "seed": 3, "input_type": "skeleton"}
    job = h.store.create(params, None, "a robot dancing")
    h.store.set_fields(job.id, inputs={"video": save_upload(h.settings, job.id, SAMPLE.read_bytes(), "skeleton.mp4")})
    enqueue(h.celery_app, job.id)
    return job.id


def test_real_engine_job_produces_playable_files(demo_worker):
    job = demo_worker.wait_status(create_skeleton_job(demo_worker, steps=2), timeout=120)
    assert job.status == JobStatus.SUCCEEDED, (job_data(job), demo_worker.proc.output()[-3000:])
    assert job.demo and job.input_kind == "skeleton" and job.params["seed"] == 3
    files = set(existing_files(demo_worker.settings, job.id))
    assert {"result.mp4", "result.gif", "side_by_side.mp4", "skeleton.mp4"} <= files
    with av.open(str(demo_worker.settings.jobs_dir / job.id / "result.mp4")) as container:
        frames = list(container.decode(video=0))
    assert len(frames) == 4 and (frames[0].width, frames[0].height) == (64, 64)
    assert job.step == job.total_steps == 2


def test_real_wan_vace_job_with_a_character_photo(demo_worker):
    """The second family through the same worker: its own queue, its demo weights, 4k+1 frames at the asked size."""
    from PIL import Image

    from text2video.jobs.queue import enqueue
    from text2video.storage import job_dir, save_upload

    h = demo_worker
    params = {"steps": 2, "frames": 5, "width": 80, "height": 64, "seed": 3, "input_type": "skeleton"}
    job = h.store.create(params, None, "a robot dancing", model="wan-vace-1.3b")
    Image.new("RGB", (30, 40), (200, 30, 30)).save(job_dir(h.settings, job.id, create=True) / "reference.png")
    h.store.set_fields(job.id, inputs={"video": save_upload(h.settings, job.id, SAMPLE.read_bytes(), "s.mp4"),
                                       "reference_image": "reference.png"})
    enqueue(h.celery_app, job.id)
    job = h.wait_status(job.id, timeout=180)
    assert job.status == JobStatus.SUCCEEDED, (job_data(job), h.proc.output()[-3000:])
    assert job.model == "wan-vace-1.3b"
    with av.open(str(h.settings.jobs_dir / job.id / "result.mp4")) as container:
        frames = list(container.decode(video=0))
    assert len(frames) == 5 and (frames[0].width, frames[0].height) == (80, 64)


def test_real_slow_job_killed_twice_fails_with_exit_code(demo_worker):
    job_id = create_skeleton_job(demo_worker, steps=150)
    pids = []
    for attempt in (1, 2):
        pids.append(kill_when_denoising(demo_worker, job_id, attempt, 90))
    job = demo_worker.wait_status(job_id, "failed", timeout=30)
    assert pids[0] != pids[1]
    assert job.error_code == "worker_lost" and job.attempts == 2
    assert job.error_message.startswith("worker lost (exit code -9 = SIGKILL, possibly out of memory)")
    assert "attempt 1: worker lost (exit code -9" in job.warnings[0]
