"""jobs/tasks.py: what a running job's row shows while the real Engine (demo weights) reports progress."""

from __future__ import annotations

from pathlib import Path

import pytest

from text2video.engine import Engine, GenerationRequest
from text2video.jobs.status import JobStage
from text2video.jobs.tasks import _ProgressWriter

SAMPLE = Path(__file__).resolve().parents[2] / "assets" / "sample_skeleton.mp4"

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_the_row_shows_denoising_counters_only(store, demo_models, tmp_path):
    # Issue 13: after entering "generating" the job showed the pose stage's counter ("step 4 of 4") until the
    # first denoising step; step/total_steps mean denoising steps (the UI's "step i/N").
    if not SAMPLE.is_file():
        pytest.skip(f"{SAMPLE} is missing")
    job = store.create({"steps": 2}, None, "a robot dancing")
    store.claim(job.id, "w", 1)
    writer = _ProgressWriter(store, job.id, "w")
    rows = []

    def on_progress(p) -> None:
        writer(p)
        row = store.get(job.id)
        rows.append((row.stage, row.step, row.total_steps))

    engine = Engine(demo_models, device="cpu", dtype="fp32")  # a fresh one: it reports loading the model too
    engine.generate(GenerationRequest(video=SAMPLE, prompt="a robot dancing", input_type="skeleton", steps=2,
                                      frames=5, stride=4, width=64, height=64, seed=3), tmp_path,
                    on_progress=on_progress)
    assert (JobStage.EXTRACTING_POSE, 0, 2) in rows
    assert all(total == 2 and 0 <= step <= 2 for _, step, total in rows), rows
    assert rows[-1] == (JobStage.ENCODING, 2, 2)  # "2 of 2" stays visible while encoding
