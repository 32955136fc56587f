"""A newcomer's first service run (issue 20): a fresh clone, the README's own service command
``python manage.py --models demo`` run from the clone's root with NO setting (so the default, relative ``data``
folder), a job submitted with the README's curl line, and every file of it downloaded with the README's curl line
(plain and with Range): 200, the right content type, the bytes of the job folder's file. The synchronous
``POST /generate`` answers the MP4. Every job file answered 500 here while every other test passed an absolute
temporary data folder."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from tests.service import fresh_clone, newcomer_env, start_readme_service, wait_for

CURL = shutil.which("curl")
pytestmark = pytest.mark.skipif(CURL is None, reason="the README's commands use curl, which is not installed")
# the README's curl line (prompt, video, steps) plus what keeps demo weights quick on a shared CPU (README: 15 s a
# step at the default 512 x 512 x 24 frames)
SMALL = ("-F", "width=64", "-F", "height=64", "-F", "frames=4", "-F", "seed=1")
CONTENT_TYPES = {".mp4": "video/mp4", ".gif": "image/gif", ".json": "application/json"}


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, demo_models):
    clone = fresh_clone(tmp_path_factory.mktemp("first-run") / "Text2Video")
    proc, url = start_readme_service(clone, newcomer_env() | {"OMP_NUM_THREADS": "1"})
    try:
        wait_for(lambda: requests.get(f"{url}/api/v1/health", timeout=10).json()["workers"]["alive"], 120,
                 interval=0.5, what="the worker serve started")
        yield clone, proc, url
    finally:
        proc.stop()


def curl(*args: str, cwd: Path) -> bytes:
    done = subprocess.run([CURL, "-sS", "--fail-with-body", *args], cwd=str(cwd), capture_output=True, timeout=300)
    assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])
    return done.stdout


def test_the_banner_names_the_default_data_folder_inside_the_clone(first_run):
    clone, proc, _ = first_run
    assert f"Data: {(clone / 'data').resolve()}" in proc.output(), proc.output()[-2000:]
    assert (clone / "data" / "text2video.db").is_file()


def test_readme_job_and_every_file_downloads(first_run):
    import json

    clone, proc, url = first_run
    shutil.copy(clone / "assets" / "sample_skeleton.mp4", clone / "dance.mp4")
    job = json.loads(curl("-F", "prompt=Cô gái nhảy trên núi", "-F", "video=@dance.mp4", "-F", "steps=2", *SMALL,
                          f"{url}/api/v1/jobs", cwd=clone))
    job = wait_for(lambda: (j := requests.get(f"{url}/api/v1/jobs/{job['id']}", timeout=10).json())["status"]
                   in ("succeeded", "failed", "canceled") and j, 180, interval=0.5, what="the README job")
    assert job["status"] == "succeeded", (job, proc.output()[-3000:])
    folder = clone / "data" / "jobs" / job["id"]
    assert {"result.mp4", "result.gif", "side_by_side.mp4", "skeleton.mp4"} <= set(job["files"]), job["files"]
    downloads = clone / "downloads"
    downloads.mkdir()
    for name, path in job["files"].items():
        link = url + path
        curl("-O", link, cwd=downloads)  # the README's `curl -O .../files/result.mp4`
        on_disk = (folder / name).read_bytes()
        assert (downloads / name).read_bytes() == on_disk, name
        whole = requests.get(link, timeout=30)
        assert whole.status_code == 200 and whole.content == on_disk, (name, whole.status_code, whole.text[:300])
        assert whole.headers["Content-Type"].split(";")[0] == CONTENT_TYPES[Path(name).suffix], name
        part = requests.get(link, headers={"Range": "bytes=4-99"}, timeout=30)
        assert part.status_code == 206 and part.content == on_disk[4:100], (name, part.status_code)
        assert part.headers["Content-Range"] == f"bytes 4-{min(99, len(on_disk) - 1)}/{len(on_disk)}", name


def test_readme_synchronous_generate_answers_an_mp4(first_run):
    import av

    clone, _, url = first_run
    shutil.copy(clone / "assets" / "sample_skeleton.mp4", clone / "dance.mp4")
    curl("-F", "prompt=a robot", "-F", "video=@dance.mp4", "-F", "steps=2", *SMALL, f"{url}/generate", "-o",
         "out.mp4", cwd=clone)
    with av.open(str(clone / "out.mp4")) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert sum(1 for _ in container.decode(video=0)) == 4


def test_the_log_after_a_job_has_no_celery_noise(first_run):
    """Issue 20 item 7: as root the log showed Celery's banner and superuser warning, and tqdm bars from model
    loading came out as WARNING celery.redirected. (Runs after the jobs above: the engine has loaded by then.)"""
    import os

    _, proc, _ = first_run
    log = proc.output()
    assert "ready." in log, log[-2000:]
    for noise in ("celery.redirected", "superuser privileges", "[queues]", "-------------- ", "it/s]"):
        assert noise not in log, (noise, log[-3000:])
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        pytest.skip("not root: the superuser warning cannot appear here anyway")
