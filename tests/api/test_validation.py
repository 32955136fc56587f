"""Bad input is refused with a problem document naming the field, the value and the fix."""

from __future__ import annotations

from io import BytesIO

import pytest

from tests.api.helpers import expect_problem as problem, store_of, submit
from text2video.api.schemas import URL_PARAMS, validate_job_request
from text2video.exceptions import InvalidInput
from text2video.request import REQUEST_PARAMS
from text2video.settings import Settings


def test_missing_prompt(client, sample_bytes):
    resp = client.post("/api/v1/jobs", data={"video": (BytesIO(sample_bytes), "a.mp4")},
                       content_type="multipart/form-data")
    body = problem(resp, 422)
    assert "prompt" in body["errors"] and "required" in body["errors"]["prompt"]


@pytest.mark.parametrize("field,value,words", [
    ("steps", "0", "between 1 and 150"),
    ("steps", "151", "between 1 and 150"),
    ("steps", "abc", "whole number"),
    ("steps", "12.5", "whole number"),
    ("guidance_scale", "31", "between 1 and 30"),
    ("guidance_scale", "nan", "finite"),
    ("width", "100", "multiple of 64"),
    ("height", "1088", "between 64 and 1024"),
    ("scheduler", "euler", "ddim, dpm++"),
    ("lang", "fr", "auto, vi, en"),
    ("input_type", "image", "auto, video, skeleton"),
    ("seed", "-1", "between 0"),
    ("stride", "0", "between 1 and 60"),
])
def test_bad_field_is_named(client, sample_bytes, field, value, words):
    body = problem(submit(client, sample_bytes, **{field: value}), 422)
    assert set(body["errors"]) == {field}
    assert words in body["errors"][field] and value in body["detail"]
    assert store_of(client.application).list()[1] == 0  # nothing was stored


def test_several_bad_fields_reported_together(client):
    body = problem(client.post("/api/v1/jobs", json={"prompt": " ", "steps": 0, "width": 65, "stepz": 3}), 422)
    assert set(body["errors"]) == {"prompt", "steps", "width", "stepz"}
    assert "did you mean 'steps'" in body["errors"]["stepz"]


def test_prompt_checks_use_prompt_stage_rules(client, sample_bytes):
    body = problem(submit(client, sample_bytes, prompt="a girl\x00 dancing"), 422)
    assert "control character" in body["errors"]["prompt"]
    body = problem(submit(client, sample_bytes, prompt="x" * 501), 422)
    assert "501 characters" in body["errors"]["prompt"]
    body = problem(submit(client, sample_bytes, negative_prompt="\x07"), 422)
    assert set(body["errors"]) == {"negative_prompt"}


def test_json_types_are_checked(client):
    body = problem(client.post("/api/v1/jobs", json={"prompt": "a", "video_url": "https://example.com/a.mp4",
                                                     "steps": True, "prompt_x": None}), 422)
    assert "whole number" in body["errors"]["steps"]
    body = problem(client.post("/api/v1/jobs", json=["prompt"]), 400)
    assert body["code"] == "bad_request"
    body = problem(client.post("/api/v1/jobs", data="{not json", content_type="application/json"), 400)


def test_body_must_be_form_or_json(client):
    body = problem(client.post("/api/v1/jobs", data="prompt=x", content_type="text/plain"), 415)
    assert "multipart/form-data" in body["detail"]


def test_video_required_and_exclusive(client, sample_bytes):
    body = problem(client.post("/api/v1/jobs", data={"prompt": "a girl"}), 422)
    assert "video" in body["errors"]
    body = problem(submit(client, sample_bytes, video_url="https://example.com/a.mp4"), 422)
    assert "both" in body["detail"]


def test_unknown_routes_and_methods_are_problems(client):
    body = problem(client.get("/api/v1/nothing"), 404)
    assert body["code"] == "not_found"
    resp = client.put("/api/v1/jobs")
    body = problem(resp, 405)
    assert "POST" in resp.headers["Allow"] and "POST" in body["detail"]
    problem(client.get("/api/v1/jobs/" + "0" * 32), 404)
    problem(client.get("/api/v1/jobs?status=done"), 422)
    problem(client.get("/api/v1/jobs?per_page=1000"), 422)


def test_unexpected_error_is_a_500_problem_without_internals(app, client):
    @app.get("/api/v1/boom")
    def boom():
        raise RuntimeError("secret internal detail /etc/shadow")

    body = problem(client.get("/api/v1/boom"), 500)
    assert "secret" not in body["detail"] and "Traceback" not in body["detail"]


def test_schema_defaults_come_from_settings():
    settings = Settings.load({"steps": 30, "width": 256}, environ={})
    req = validate_job_request({"prompt": "a girl"}, settings)
    assert req.params["steps"] == 30 and req.params["width"] == 256 and req.params["height"] == 512
    assert "seed" not in req.params and "frames" not in req.params  # absent = the engine decides
    assert {p.name for p in REQUEST_PARAMS + URL_PARAMS} >= {"prompt", "steps", "guidance_scale", "width", "height", "scheduler",
                                            "lang", "input_type", "seed", "frames", "stride", "callback_url"}


def test_legacy_names_only_on_generate():
    settings = Settings.load({}, environ={})
    req = validate_job_request({"prompt": "cô gái", "step": "20", "lang": "1", "id": "abc"}, settings, legacy=True)
    assert req.params["steps"] == 20 and req.params["lang"] == "vi" and req.params["client_id"] == "abc"
    with pytest.raises(InvalidInput) as info:
        validate_job_request({"prompt": "x", "step": "20"}, settings)
    assert "step" in info.value.errors
    with pytest.raises(InvalidInput):
        validate_job_request({"prompt": "x", "lang": "1"}, settings)


def _multipart(fields: dict[str, bytes], video: bytes) -> tuple[bytes, str]:
    """A multipart body with these raw field bytes (a client in a legacy encoding sends them as they are)."""
    boundary = "t2vboundary"
    parts = [b"--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n" % (boundary.encode(), k.encode(), v)
             for k, v in fields.items()]
    parts.append(b"--%s\r\nContent-Disposition: form-data; name=\"video\"; filename=\"dance.mp4\"\r\n"
                 b"Content-Type: video/mp4\r\n\r\n%s\r\n--%s--\r\n" % (boundary.encode(), video, boundary.encode()))
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def test_a_prompt_that_is_not_utf8_is_refused_naming_the_field_and_the_encoding(client, sample_bytes):
    """Issue 20 item 3: Windows-1252/Latin-1 bytes were accepted (202) and became U+FFFD ("c� g�i")."""
    body, content_type = _multipart({"prompt": "cô gái nhảy".encode("cp1258", "replace"), "steps": b"2"},
                                    sample_bytes)
    result = problem(client.post("/api/v1/jobs", data=body, content_type=content_type), 422)
    assert set(result["errors"]) == {"prompt"}
    assert "prompt is not UTF-8 text" in result["detail"] and "UTF-8" in result["errors"]["prompt"]
    assert result["messages"]["detail"][0] == {"code": "error.not_utf8", "params": {"field": "prompt"}}
    ok, content_type = _multipart({"prompt": "cô gái nhảy".encode()}, sample_bytes)
    assert client.post("/api/v1/jobs", data=ok, content_type=content_type).status_code == 202


@pytest.mark.parametrize("raw, expected", [
    (b'{"prompt": "a robot",', "not valid JSON: Expecting property name enclosed in double quotes (line 1, column 22)"),
    ('{"prompt": "cô gái"}'.encode("latin-1"), "not UTF-8 (byte 13 is not valid UTF-8)"),
    (b'["prompt"]', "not a JSON object (it starts with ["),
])
def test_a_broken_json_body_is_told_what_is_wrong(client, raw, expected):
    """Issue 20 item 5: broken and non-UTF-8 JSON were both reported as "not a JSON object"."""
    body = problem(client.post("/api/v1/jobs", data=raw, content_type="application/json"), 400)
    assert expected in body["detail"] and body["errors"].keys() == {"body"}, body["detail"]
