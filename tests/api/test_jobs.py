"""Following, listing, canceling, deleting jobs and downloading their files (a hand worker moves the jobs)."""

from __future__ import annotations

import io
import time

import av

from tests.api.helpers import expect_problem, settings_of, store_of, submit


def _new_job(client, sample_bytes, **fields) -> str:
    resp = submit(client, sample_bytes, **fields)
    assert resp.status_code == 202, resp.get_data(as_text=True)
    return resp.get_json()["id"]


def test_progress_then_success_then_files(client, sample_bytes, hand_worker):
    job_id = _new_job(client, sample_bytes, steps=2)
    hand_worker.claim(job_id)
    hand_worker.progress(job_id, 1, 2)
    job = client.get(f"/api/v1/jobs/{job_id}").get_json()
    assert job["status"] == "running" and job["stage"] == "generating" and job["step"] == 1
    assert job["total_steps"] == 2 and 0 < job["progress"] < 1 and job["eta_seconds"] == 1.0
    assert job["files"] == {} and job["links"]["cancel"].endswith("/cancel")
    expect_problem(client.get(f"/api/v1/jobs/{job_id}/files/result.mp4"), 404)  # not produced yet
    files = hand_worker.write_outputs(job_id)
    store_of(client.application).mark_succeeded(job_id, hand_worker.worker, english_prompt="a girl",
                                                language="en")
    job = client.get(f"/api/v1/jobs/{job_id}").get_json()
    assert job["status"] == "succeeded" and job["progress"] == 1 and job["english_prompt"] == "a girl"
    assert set(job["files"]) == set(files) and "cancel" not in job["links"]

    resp = client.get(job["files"]["result.mp4"])
    assert resp.status_code == 200 and resp.mimetype == "video/mp4" and resp.headers["Accept-Ranges"] == "bytes"
    full = resp.get_data()
    assert full == sample_bytes
    with av.open(io.BytesIO(full)) as container:  # it plays: every frame decodes
        assert sum(1 for _ in container.decode(video=0)) == 12
    ranged = client.get(job["files"]["result.mp4"], headers={"Range": "bytes=100-299"})
    assert ranged.status_code == 206 and ranged.get_data() == full[100:300]
    assert ranged.headers["Content-Range"] == f"bytes 100-299/{len(full)}"
    tail = client.get(job["files"]["result.mp4"], headers={"Range": "bytes=-50"})
    assert tail.status_code == 206 and tail.get_data() == full[-50:]
    assert client.get(job["files"]["result.mp4"], headers={"Range": f"bytes={len(full) + 10}-"}).status_code == 416
    meta = client.get(job["files"]["keypoints.json"])
    assert meta.mimetype == "application/json" and meta.get_json() == {"frames": []}
    etag = resp.headers["ETag"]
    assert client.get(job["files"]["result.mp4"], headers={"If-None-Match": etag}).status_code == 304
    attachment = client.get(job["files"]["result.mp4"] + "?download=1")
    assert "attachment" in attachment.headers["Content-Disposition"]


def test_live_preview_link_while_running_with_range_and_revalidation(client, sample_bytes, hand_worker):
    import numpy as np

    from text2video import storage
    from text2video.video import write_gif

    job_id = _new_job(client, sample_bytes, steps=10)
    hand_worker.claim(job_id)
    preview = storage.job_dir(settings_of(client.application), job_id, create=True) / storage.PREVIEW_FILE
    write_gif(np.full((3, 16, 16, 3), 40, np.uint8), preview, 6.0)  # what the worker writes after step 5
    store_of(client.application).update_progress(job_id, hand_worker.worker, stage="generating", step=5,
                                                 total_steps=10)
    job = client.get(f"/api/v1/jobs/{job_id}").get_json()
    assert job["status"] == "running" and set(job["files"]) == {"preview.gif"}
    first = client.get(job["files"]["preview.gif"])
    assert first.status_code == 200 and first.mimetype == "image/gif" and first.get_data() == preview.read_bytes()
    assert first.headers["Accept-Ranges"] == "bytes" and first.headers["Cache-Control"] == "no-cache"
    head = client.get(job["files"]["preview.gif"], headers={"Range": "bytes=0-5"})
    assert head.status_code == 206 and head.get_data() == b"GIF89a"
    etag = first.headers["ETag"]
    assert client.get(job["files"]["preview.gif"], headers={"If-None-Match": etag}).status_code == 304

    write_gif(np.full((3, 16, 16, 3), 200, np.uint8), preview, 6.0)  # the next preview replaces it
    newer = client.get(job["files"]["preview.gif"], headers={"If-None-Match": etag})
    assert newer.status_code == 200 and newer.headers["ETag"] != etag and newer.get_data() == preview.read_bytes()


def test_file_names_are_an_allow_list(client, sample_bytes, hand_worker):
    job_id = _new_job(client, sample_bytes)
    hand_worker.succeed(job_id)
    for name in ("input.mp4", "..%2F..%2Ftext2video.db", "result.gif", "x.mp4"):
        expect_problem(client.get(f"/api/v1/jobs/{job_id}/files/{name}"), 404)
    assert client.get(f"/api/v1/jobs/{job_id}/files/../../../../etc/passwd").status_code == 404
    expect_problem(client.get(f"/api/v1/jobs/{'f' * 32}/files/result.mp4"), 404)
    expect_problem(client.get("/api/v1/jobs/not-an-id"), 404)


def test_history_paging_and_status_filter(client, sample_bytes, hand_worker):
    ids = []
    for _ in range(5):
        ids.append(_new_job(client, sample_bytes))
        time.sleep(0.002)  # distinct creation times
    hand_worker.succeed(ids[1])
    hand_worker.fail(ids[3], "no_person", "no person found")
    page1 = client.get("/api/v1/jobs?per_page=2").get_json()
    assert [j["id"] for j in page1["items"]] == [ids[4], ids[3]]  # newest first
    assert page1["total"] == 5 and page1["pages"] == 3 and "next" in page1["links"] and "prev" not in page1["links"]
    assert page1["links"]["next"] == "/api/v1/jobs?page=2&per_page=2"
    page3 = client.get("/api/v1/jobs?page=3&per_page=2").get_json()
    assert [j["id"] for j in page3["items"]] == [ids[0]] and "next" not in page3["links"]
    assert client.get("/api/v1/jobs?page=9").get_json()["items"] == []
    done = client.get("/api/v1/jobs?status=succeeded").get_json()
    assert [j["id"] for j in done["items"]] == [ids[1]] and done["total"] == 1
    failed = client.get("/api/v1/jobs?status=failed").get_json()["items"]
    assert failed[0]["error"] == {"code": "no_person", "message": "no person found"}
    assert client.get("/api/v1/jobs?status=queued").get_json()["total"] == 3


def test_cancel_queued_running_and_finished(client, sample_bytes, hand_worker):
    queued = _new_job(client, sample_bytes)
    resp = client.post(f"/api/v1/jobs/{queued}/cancel")
    assert resp.status_code == 202 and resp.get_json()["status"] == "canceled"

    running = _new_job(client, sample_bytes)
    hand_worker.claim(running)
    resp = client.post(f"/api/v1/jobs/{running}/cancel")
    body = resp.get_json()
    assert resp.status_code == 202 and body["status"] == "running" and body["cancel_requested"] is True
    assert store_of(client.application).is_cancel_requested(running)  # what the worker polls every step
    store_of(client.application).mark_canceled(running, hand_worker.worker)
    assert client.get(f"/api/v1/jobs/{running}").get_json()["status"] == "canceled"

    done = _new_job(client, sample_bytes)
    hand_worker.succeed(done)
    body = expect_problem(client.post(f"/api/v1/jobs/{done}/cancel"), 409)
    assert "succeeded" in body["detail"]
    expect_problem(client.post(f"/api/v1/jobs/{'a' * 32}/cancel"), 404)


def test_delete_removes_row_and_files(client, sample_bytes, hand_worker):
    job_id = _new_job(client, sample_bytes)
    hand_worker.succeed(job_id)
    folder = settings_of(client.application).jobs_dir / job_id
    assert (folder / "result.mp4").is_file()
    assert client.delete(f"/api/v1/jobs/{job_id}").status_code == 204
    assert not folder.exists() and store_of(client.application).get(job_id) is None
    expect_problem(client.get(f"/api/v1/jobs/{job_id}"), 404)
    expect_problem(client.delete(f"/api/v1/jobs/{job_id}"), 404)
    running = _new_job(client, sample_bytes)
    hand_worker.claim(running)
    assert client.delete(f"/api/v1/jobs/{running}").status_code == 204
    assert store_of(client.application).is_cancel_requested(running)  # the worker stops (row gone = stop)


def test_prefer_wait_returns_when_finished(client, sample_bytes, hand_worker):
    hand_worker.succeed_next(delay=0.3)
    started = time.monotonic()
    resp = submit(client, sample_bytes, headers={"Prefer": "respond-async, wait=20"})
    assert time.monotonic() - started < 10
    assert resp.status_code == 200 and resp.get_json()["status"] == "succeeded"
    assert resp.headers["Preference-Applied"] == "wait=20" and resp.headers["Location"]
    assert not hand_worker.events


def test_prefer_wait_times_out_and_is_capped(client, sample_bytes, hand_worker):
    started = time.monotonic()
    resp = submit(client, sample_bytes, headers={"Prefer": "wait=1"})
    assert 0.9 < time.monotonic() - started < 5
    assert resp.status_code == 202 and resp.get_json()["status"] == "queued"
    job_id = resp.get_json()["id"]
    hand_worker.later(0.3, hand_worker.succeed, job_id)
    resp = client.get(f"/api/v1/jobs/{job_id}", headers={"Prefer": "wait=600"})  # capped to 60; done in 0.3 s
    assert resp.headers["Preference-Applied"] == "wait=60" and resp.get_json()["status"] == "succeeded"
    assert client.get(f"/api/v1/jobs/{job_id}").headers.get("Preference-Applied") is None


def test_cors_for_a_separate_frontend(make_app):
    client = make_app(cors_origins="https://ui.example").test_client()
    pre = client.options("/api/v1/jobs", headers={"Origin": "https://ui.example",
                                                  "Access-Control-Request-Method": "POST",
                                                  "Access-Control-Request-Headers": "Authorization, Prefer"})
    assert pre.headers["Access-Control-Allow-Origin"] == "https://ui.example"
    assert "prefer" in pre.headers["Access-Control-Allow-Headers"].lower()
    resp = client.get("/api/v1/jobs", headers={"Origin": "https://ui.example"})
    assert "Location" in resp.headers["Access-Control-Expose-Headers"]
    other = client.get("/api/v1/jobs", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
