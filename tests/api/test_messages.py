"""problem+json carries its detail and per-field errors as code + params (``messages``), for a UI in another
language; the English ``detail`` stays as it was."""

from __future__ import annotations

from io import BytesIO

from tests.api.helpers import expect_problem as problem, submit


def test_a_bad_field_names_its_kind_field_value_and_hint(client, sample_bytes):
    body = problem(submit(client, sample_bytes, steps="0"), 422)
    coded = [{"code": "field.between", "params": {"field": "steps", "value": "'0'", "min": "1", "max": "150"}},
             {"code": "hint.between", "params": {"min": "1", "max": "150"}}]
    assert body["messages"] == {"detail": coded, "errors": {"steps": coded}}
    assert body["detail"] == "steps must be between 1 and 150, not '0'. Pick a value between 1 and 150."


def test_each_of_several_fields_has_its_code(client, sample_bytes):
    resp = client.post("/api/v1/jobs", data={"video": (BytesIO(sample_bytes), "a.mp4"), "width": "65",
                                             "stepz": "3"}, content_type="multipart/form-data")
    body = problem(resp, 422)
    assert body["messages"]["detail"] == [{"code": "error.invalid_request", "params": {}}]
    assert body["messages"]["errors"] == {
        "prompt": [{"code": "error.prompt_required", "params": {}}],
        "width": [{"code": "field.multiple", "params": {"field": "width", "value": 65, "multiple": 64}},
                  {"code": "hint.multiple", "params": {"lower": 64, "upper": 128}}],
        # a message without its own code: the generic one, naming the field
        "stepz": [{"code": "error.invalid_field", "params": {"field": "stepz"}}]}


def test_http_errors_and_unexpected_ones_have_codes(app, client):
    @app.get("/api/v1/boom")
    def boom():
        raise RuntimeError("secret")

    assert problem(client.get("/api/v1/nothing"), 404)["messages"]["detail"] == [
        {"code": "error.not_found", "params": {}}]
    assert problem(client.get("/api/v1/boom"), 500)["messages"] == {"detail": [{"code": "error.error", "params": {}}]}
