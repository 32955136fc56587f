"""Uploads: size limit, extension allow-list AND a real probe, generated names, capacity limits."""

from __future__ import annotations

import os

from tests.api.helpers import expect_problem as problem, settings_of, store_of, submit
from text2video import storage


def test_good_upload_is_stored_under_a_generated_name_and_queued(client, sample_bytes):
    resp = submit(client, sample_bytes, filename="../../etc/évil name.MP4", steps=3, seed=7)
    assert resp.status_code == 202, resp.get_data(as_text=True)
    job = resp.get_json()
    assert resp.headers["Location"] == f"/api/v1/jobs/{job['id']}"
    assert job["status"] == "queued" and job["params"]["steps"] == 3 and job["params"]["seed"] == 7
    folder = storage.job_dir(settings_of(client.application), job["id"])
    assert sorted(os.listdir(folder)) == ["input.mp4"]  # the client's filename is never used
    assert (folder / "input.mp4").read_bytes() == sample_bytes
    row = store_of(client.application).get(job["id"])
    assert row.inputs == {"video": "input.mp4"} and row.prompt == "a girl dancing on a mountain"
    # the message reached the broker (the SQLite transport's table holds it until a worker takes it)
    import sqlite3
    broker = settings_of(client.application).broker_url.split("sqlite:///", 1)[1]
    with sqlite3.connect(broker) as db:
        payloads = [row[0] for row in db.execute("select payload from kombu_message")]
    assert any(job["id"] in (p.decode() if isinstance(p, bytes) else p) for p in payloads)


def test_non_video_with_mp4_name_is_415(client):
    body = problem(submit(client, b"this is not a video at all" * 100, filename="clip.mp4"), 415)
    assert body["errors"].get("video") and body["code"] == "unsupported_media"
    assert not any(storage.job_dir(settings_of(client.application), "0" * 32).parent.glob("*/input.*"))


def test_renamed_text_file_names_the_users_file_not_the_server_path(client):
    """Issue 20 item 2: the 415 showed our job path, an FFmpeg errno and called the file input.mp4."""
    body = problem(submit(client, b"this is not a video at all" * 100, filename="holiday dance.mp4"), 415)
    data_dir = str(settings_of(client.application).data_dir)
    for text in (body["detail"], body["errors"]["video"]):
        assert "'holiday dance.mp4' is not a video" in text, text
        assert "input.mp4" not in text and data_dir not in text and "Errno" not in text and "file:/" not in text
    assert body["messages"]["detail"][0] == {"code": "video.not_video", "params": {"name": "holiday dance.mp4"}}
    assert ".mp4, .mov" in body["detail"] and ".gif" not in body["detail"]  # the types this API accepts


def test_empty_upload_names_the_file_and_lists_no_refused_type(client):
    body = problem(submit(client, b"", filename="empty.mp4"), 422)
    assert body["detail"].startswith("The file 'empty.mp4' is empty (0 bytes)."), body["detail"]
    assert "gif" not in body["detail"] and "input.mp4" not in body["detail"]
    assert body["messages"]["detail"][0] == {"code": "video.empty", "params": {"name": "empty.mp4"}}


def test_text_file_is_415_naming_the_extension(client):
    body = problem(submit(client, b"hello", filename="notes.txt"), 415)
    assert ".txt" in body["detail"] and ".mp4" in body["detail"]


def test_too_big_is_413(make_app, sample_bytes):
    client = make_app(max_upload_mb=1).test_client()
    body = problem(submit(client, os.urandom(1024 * 1024 + 10), filename="big.mp4"), 413)
    assert "1 MB" in body["detail"]


def test_video_over_probe_limits_is_422(make_app, sample_bytes):
    client = make_app(max_video_seconds=0.2).test_client()
    body = problem(submit(client, sample_bytes), 422)
    assert "video" in body["errors"] and "0.2" in body["detail"]


def test_disk_floor_is_503(make_app, sample_bytes):
    client = make_app(min_free_disk_mb=10**9).test_client()
    resp = submit(client, sample_bytes)
    body = problem(resp, 503)
    assert "free" in body["detail"] and resp.headers.get("Retry-After")


def test_per_key_limit_is_429(make_app, sample_bytes, hand_worker):
    app = make_app(max_queued_per_key=2, api_keys="k1,k2")
    client = app.test_client()
    k1, k2 = {"X-API-Key": "k1"}, {"Authorization": "Bearer k2"}
    first = submit(client, sample_bytes, headers=k1)
    assert first.status_code == 202
    assert submit(client, sample_bytes, headers=k1).status_code == 202
    resp = submit(client, sample_bytes, headers=k1)
    body = problem(resp, 429)
    assert "2 jobs" in body["detail"] and resp.headers["Retry-After"]
    assert submit(client, sample_bytes, headers=k2).status_code == 202  # another key has its own budget
    client.post(f"/api/v1/jobs/{first.get_json()['id']}/cancel", headers=k1)  # a finished job frees a slot
    assert submit(client, sample_bytes, headers=k1).status_code == 202


def test_more_frames_than_the_video_gives_are_refused_at_submission(client, sample_bytes):
    """Issue 20 item 4: accepted (202) and failed later in the worker. The sample has 12 frames: stride 5 gives 3."""
    body = problem(submit(client, sample_bytes, frames=8, stride=5), 422)
    assert set(body["errors"]) == {"frames"}
    assert "The video gives only 3 frames with stride 5 (12 frames in all); 8 were asked for" in body["detail"]
    assert "Ask for at most 3 frames" in body["detail"]
    assert [m["code"] for m in body["messages"]["detail"]] == ["error.too_few_frames_of", "hint.too_few_frames_of"]
    assert not list(settings_of(client.application).jobs_dir.glob("*/input.*"))  # nothing stored
    assert submit(client, sample_bytes, frames=3, stride=5).status_code == 202
    assert submit(client, sample_bytes, frames=12, stride=1).status_code == 202
