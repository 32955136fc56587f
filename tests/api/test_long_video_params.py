"""Long-video parameters (window, window_overlap, anchor_first_frame) are validated and reach the engine request."""

from __future__ import annotations

from tests.api.helpers import expect_problem as problem, settings_of, store_of, submit
from text2video.jobs.tasks import build_request


def test_window_params_reach_the_engine_request(client, sample_bytes):
    resp = submit(client, sample_bytes, window="16", window_overlap="4", anchor_first_frame="false")
    assert resp.status_code == 202, resp.get_json()
    job = store_of(client.application).get(resp.get_json()["id"])
    assert job.params["window"] == 16 and job.params["window_overlap"] == 4
    assert job.params["anchor_first_frame"] is False
    request = build_request(job, settings_of(client.application))
    assert (request.window, request.window_overlap, request.anchor_first_frame) == (16, 4, False)


def test_anchor_defaults_to_true_and_windows_to_the_pipeline_default(client, sample_bytes):
    resp = submit(client, sample_bytes)
    job = store_of(client.application).get(resp.get_json()["id"])
    request = build_request(job, settings_of(client.application))
    assert request.anchor_first_frame is True and request.window is None and request.window_overlap is None


def test_overlap_not_smaller_than_window_is_named(client, sample_bytes):
    body = problem(submit(client, sample_bytes, window="8", window_overlap="8"), 422)
    assert set(body["errors"]) == {"window_overlap"} and "smaller than the window (8)" in body["detail"]


def test_anchor_must_be_a_boolean(client, sample_bytes):
    body = problem(submit(client, sample_bytes, anchor_first_frame="maybe"), 422)
    assert set(body["errors"]) == {"anchor_first_frame"} and "true or false" in body["detail"]
