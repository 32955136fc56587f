"""POST /generate: the synchronous endpoint (old form fields and new names, MP4 or JSON, timeout -> 202)."""

from __future__ import annotations

import io

import av

from tests.api.helpers import expect_problem, store_of


def _form(video_bytes, **fields):
    data = {"prompt": "Cô gái nhảy trên núi", **fields}
    if video_bytes is not None:
        data["video"] = (io.BytesIO(video_bytes), "dance.mp4")
    return data


def test_returns_the_mp4(client, sample_bytes, hand_worker):
    hand_worker.succeed_next(0.2)
    resp = client.post("/generate", data=_form(sample_bytes, step="7", lang="1", guidance_scale="9", id="req-42"),
                       content_type="multipart/form-data")
    assert resp.status_code == 200 and resp.mimetype == "video/mp4", resp.get_data(as_text=True)[:300]
    with av.open(io.BytesIO(resp.get_data())) as container:
        assert sum(1 for _ in container.decode(video=0)) == 12
    job = store_of(client.application).get(resp.headers["X-Job-Id"])
    assert resp.headers["Location"] == f"/api/v1/jobs/{job.id}"
    assert job.params["steps"] == 7 and job.params["lang"] == "vi" and job.params["guidance_scale"] == 9.0
    assert job.params["client_id"] == "req-42" and job.prompt == "Cô gái nhảy trên núi"


def test_returns_the_job_as_json(client, sample_bytes, hand_worker):
    hand_worker.succeed_next(0.2)
    resp = client.post("/generate", data=_form(sample_bytes, steps="3", lang="en"),
                       headers={"Accept": "application/json"}, content_type="multipart/form-data")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    body = resp.get_json()
    assert body["status"] == "succeeded" and "result.mp4" in body["files"] and body["params"]["steps"] == 3


def test_timeout_answers_202_and_the_job_goes_on(make_app, sample_bytes):
    client = make_app(sync_wait_s=0.5).test_client()
    resp = client.post("/generate", data=_form(sample_bytes), content_type="multipart/form-data")
    assert resp.status_code == 202 and resp.headers["Location"].startswith("/api/v1/jobs/")
    assert resp.get_json()["status"] == "queued"
    assert client.get(resp.headers["Location"]).get_json()["status"] == "queued"  # still there, still queued


def test_video_as_url_text_field(make_app, local_server, sample_bytes):
    client = make_app(url_allow_private=True, sync_wait_s=0.3).test_client()
    local_server.file("/d.mp4", sample_bytes)
    resp = client.post("/generate", data={"prompt": "a robot", "video": local_server.url("/d.mp4")})
    assert resp.status_code == 202, resp.get_data(as_text=True)
    job = store_of(client.application).get(resp.get_json()["id"])
    assert job.video_url == local_server.url("/d.mp4") and local_server.hits == ["/d.mp4"]


def test_failed_job_is_a_problem_with_its_code(client, sample_bytes, hand_worker):
    def fail_next():
        import time
        store = store_of(client.application)
        for _ in range(200):
            ids = store.queued_ids()
            if ids:
                hand_worker.fail(ids[0], "no_person", "No person found in 9 of 10 frames.")
                return
            time.sleep(0.02)
    hand_worker.later(0.1, fail_next)
    resp = client.post("/generate", data=_form(sample_bytes), content_type="multipart/form-data")
    body = expect_problem(resp, 422)
    assert body["code"] == "no_person" and "9 of 10" in body["detail"] and body["job"].startswith("/api/v1/jobs/")


def test_bad_input_same_errors_as_the_jobs_api(client, sample_bytes):
    body = expect_problem(client.post("/generate", data=_form(sample_bytes, step="0"),
                                      content_type="multipart/form-data"), 422)
    assert set(body["errors"]) == {"step"}
    body = expect_problem(client.post("/generate", data=_form(None, lang="2")), 422)
    assert set(body["errors"]) == {"lang"}
    resp = client.post("/generate", data={"prompt": "x", "video": (io.BytesIO(b"plain text"), "a.txt")},
                       content_type="multipart/form-data")
    expect_problem(resp, 415)
