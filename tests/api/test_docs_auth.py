"""OpenAPI document (valid, covers every route, generated from the validating schemas), docs page, auth, health,
and the static frontend."""

from __future__ import annotations

import re

import pytest

from tests.api.helpers import expect_problem, submit
from text2video.api.schemas import URL_PARAMS
from text2video.jobs.workers import WorkerRegistry
from text2video.request import all_params


def _routes(app) -> set[tuple[str, str]]:
    out = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("frontend.") or rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            out.add((path, method.lower()))
    return out


def _resolve(doc, ref):
    node = doc
    for part in ref.lstrip("#/").split("/"):
        node = node[part]
    return node


def _walk_refs(doc, node):
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"]
        for value in node.values():
            yield from _walk_refs(doc, value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk_refs(doc, value)


def test_openapi_covers_every_route_and_is_well_formed(app, client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1") and doc["info"]["title"] and doc["info"]["version"]
    documented = {(path, method) for path, item in doc["paths"].items() for method in item if method != "parameters"}
    assert _routes(app) == documented
    op_ids = [op["operationId"] for item in doc["paths"].values() for m, op in item.items() if m != "parameters"]
    assert len(op_ids) == len(set(op_ids))
    for path, item in doc["paths"].items():
        declared = {p["name"] for p in item.get("parameters", [])}
        for method, op in item.items():
            if method == "parameters":
                continue
            assert op["responses"], (path, method)
            names = declared | {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert set(re.findall(r"{(\w+)}", path)) <= names, path
    for ref in _walk_refs(doc, doc):
        _resolve(doc, ref)  # every $ref points somewhere


def test_openapi_request_schema_is_the_validation_schema(make_app):
    client = make_app(steps=40, prompt_max_chars=300, max_output_frames=200).test_client()
    doc = client.get("/api/v1/openapi.json").get_json()
    schema = doc["paths"]["/api/v1/jobs"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    props = schema["properties"]
    # every parameter of every registered family (the shared ones and each family's own)
    assert set(all_params()) | {p.name for p in URL_PARAMS} | {"video", "reference_image"} == set(props)
    assert schema["required"] == ["prompt"]
    # the form's bounds are the default model's; each model's own are under x-models (and GET /api/v1/models)
    assert schema["x-models"]["follow-your-pose"]["width"] == {k: v for k, v in props["width"].items()}
    assert props["steps"] == {"type": "integer", "description": props["steps"]["description"], "minimum": 1,
                              "maximum": 150, "default": 40}
    assert props["width"]["multipleOf"] == 64 and props["width"]["maximum"] == 1024
    assert props["scheduler"]["enum"] == ["ddim", "dpm++"] and props["prompt"]["maxLength"] == 300
    assert props["frames"]["maximum"] == 200
    assert props["video"]["x-extensions"] == ["mp4", "mov", "avi", "mkv", "webm", "wmv", "m4v"]
    assert props["video"]["x-max-upload-mb"] == 500 and props["video"]["x-max-seconds"] == 600
    legacy = doc["paths"]["/generate"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert {"step", "id", "video"} <= set(legacy["properties"]) and "1" in legacy["properties"]["lang"]["enum"]
    # a value the document allows is accepted, one just outside is refused, by the same numbers
    assert "steps" in expect_problem(client.post("/api/v1/jobs", json={"prompt": "x", "steps": 151}), 422)["errors"]


def test_openapi_job_schema_is_the_job_json(app, client, sample_bytes, hand_worker):
    doc = client.get("/api/v1/openapi.json").get_json()
    schema = doc["components"]["schemas"]["Job"]
    queued = submit(client, sample_bytes).get_json()
    done_id = submit(client, sample_bytes).get_json()["id"]
    hand_worker.succeed(done_id)
    failed_id = submit(client, sample_bytes).get_json()["id"]
    hand_worker.fail(failed_id, "no_person", "nobody in the video")
    jobs = [queued] + [client.get(f"/api/v1/jobs/{i}").get_json() for i in (done_id, failed_id)]
    assert jobs[1]["files"] and jobs[2]["error"]  # links and errors filled, not only nulls
    for job in jobs:
        assert set(job) == set(schema["properties"]), job["status"]  # every key documented, every documented key sent
        assert set(schema["required"]) <= set(job)
    jsonschema = pytest.importorskip("jsonschema")
    for job in jobs:
        jsonschema.Draft202012Validator(schema).validate(job)


def test_openapi_with_external_validator(client):
    import openapi_spec_validator as validator

    validator.validate(client.get("/api/v1/openapi.json").get_json())


def test_docs_page_lists_every_operation(client):
    resp = client.get("/api/v1/docs")
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    page = resp.get_data(as_text=True)
    doc = client.get("/api/v1/openapi.json").get_json()
    for item in doc["paths"].values():
        for method, op in item.items():
            if method != "parameters":
                assert f"id='{op['operationId']}'" in page
    assert "<script" not in page and "http://cdn" not in page and "https://cdn" not in page
    # Markdown code spans of the descriptions are code, not raw backticks (issue 20 item 6)
    assert "`" not in page.split("<h2>Example</h2>")[0], [line for line in page.split("<p>") if "`" in line][:3]
    assert "<code>video_url</code>" in page


def test_auth_on(make_app, sample_bytes):
    app = make_app(api_keys="s3cret-key,other-key")
    client = app.test_client()
    for resp in (client.get("/api/v1/jobs"), client.get("/api/v1/jobs", headers={"X-API-Key": "wrong"}),
                 client.get("/api/v1/jobs", headers={"Authorization": "Bearer s3cret-ke"}),
                 client.post("/api/v1/jobs", json={"prompt": "x"}), client.post("/generate", data={"prompt": "x"})):
        body = expect_problem(resp, 401)
        assert body["code"] == "unauthorized" and "Authorization" in body["detail"]
    good = {"Authorization": "Bearer s3cret-key"}
    assert client.get("/api/v1/jobs", headers=good).status_code == 200
    assert client.get("/api/v1/jobs", headers={"X-API-Key": "s3cret-key"}).status_code == 200
    job = submit(client, sample_bytes, headers=good).get_json()
    row = app.extensions["text2video"].store.get(job["id"])
    assert row.api_key_id and "s3cret" not in row.api_key_id and len(row.api_key_id) == 16
    # another key neither sees nor touches it
    other = {"X-API-Key": "other-key"}
    expect_problem(client.get(f"/api/v1/jobs/{job['id']}", headers=other), 404)
    expect_problem(client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=other), 404)
    assert client.get("/api/v1/jobs", headers=other).get_json()["total"] == 0
    assert client.get("/api/v1/jobs", headers=good).get_json()["total"] == 1
    # public: health (summary only), the API description
    public = client.get("/api/v1/health").get_json()
    assert public["auth_required"] is True and set(public) == {"auth_required", "status"}
    detailed = client.get("/api/v1/health", headers=good).get_json()
    assert {"workers", "queue", "models", "device"} <= set(detailed)
    assert client.get("/api/v1/openapi.json").status_code == 200
    assert client.get("/api/v1/docs").status_code == 200


def test_signed_file_links_work_without_headers(make_app, sample_bytes, sample_video):
    from tests.api.helpers import HandWorker
    app = make_app(api_keys="k")
    client = app.test_client()
    job_id = submit(client, sample_bytes, headers={"X-API-Key": "k"}).get_json()["id"]
    HandWorker(app, sample_video).succeed(job_id)
    job = client.get(f"/api/v1/jobs/{job_id}", headers={"X-API-Key": "k"}).get_json()
    link = job["files"]["result.mp4"]
    assert "sig=" in link and "exp=" in link
    resp = client.get(link, headers={"Range": "bytes=0-9"})  # a <video> element: no headers, seeks by range
    assert resp.status_code == 206 and resp.get_data() == sample_bytes[:10]
    expect_problem(client.get(link.replace("result.mp4", "side_by_side.mp4")), 401)  # signature is per file
    expect_problem(client.get(link[:-3] + "AAA"), 401)
    expect_problem(client.get(f"/api/v1/jobs/{job_id}/files/result.mp4"), 401)
    expired = re.sub(r"exp=\d+", "exp=1000", link)
    expect_problem(client.get(expired), 401)
    assert client.get(f"/api/v1/jobs/{job_id}/files/result.mp4", headers={"X-API-Key": "k"}).status_code == 200


def test_health_without_auth_reports_details(client):
    body = client.get("/api/v1/health").get_json()
    assert body["status"] in ("ok", "degraded") and body["queue"]["depth"] == 0
    assert body["workers"]["alive"] == 0 and any("no worker" in p for p in body["problems"])
    assert set(body["models"]["parts"]) == {"stable-diffusion-v1-4", "follow-your-pose", "envit5-translation", "pose"}


def test_health_sees_models_and_workers(make_app, tmp_path):
    models = tmp_path / "models"  # the real layout, empty files: health only looks, never loads
    sd = ("model_index.json", "tokenizer/vocab.json", "tokenizer/merges.txt", "text_encoder/config.json",
          "text_encoder/model.safetensors", "vae/config.json", "vae/diffusion_pytorch_model.safetensors",
          "unet/config.json", "scheduler/scheduler_config.json")
    for rel in (*(f"stable-diffusion-v1-4/{f}" for f in sd), "follow-your-pose/followyourpose_checkpoint-1000/"
                "pytorch_model.bin", "follow-your-pose/pose_encoder.pth", "envit5-translation/config.json",
                "pose/yolox_m.onnx", "pose/rtmpose_m.onnx", "DEMO"):
        (models / rel).parent.mkdir(parents=True, exist_ok=True)
        (models / rel).write_bytes(b"")
    app = make_app(models_dir=str(models))
    WorkerRegistry(app.extensions["text2video"].store).heartbeat("w1", hostname="h", pid=1, device="cpu")
    body = app.test_client().get("/api/v1/health").get_json()
    assert body["models"]["present"] is True and body["models"]["demo"] is True
    assert body["workers"]["alive"] == 1 and body["device"]["workers"] == ["cpu"] and body["status"] == "ok"


def test_frontend_served_with_spa_fallback(tmp_path, make_app):
    from text2video.api import create_app
    from tests.api.helpers import base_config
    ui = tmp_path / "ui"
    ui.mkdir()
    (ui / "index.html").write_text("<!doctype html><title>T2V</title>")
    (ui / "app.js").write_text("console.log(1)")
    client = create_app(base_config(tmp_path), frontend_dir=str(ui)).test_client()
    assert client.get("/").get_data(as_text=True).startswith("<!doctype html>")
    assert client.get("/app.js").mimetype in ("text/javascript", "application/javascript")
    assert "T2V" in client.get("/jobs/123").get_data(as_text=True)  # client-side route
    expect_problem(client.get("/missing.css"), 404)
    expect_problem(client.get("/api/v1/unknown"), 404)  # never the page for an API path
    assert expect_problem(client.get("/generate"), 405)["code"] == "method_not_allowed"
    for path in ("/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fetc/passwd"):
        assert b"root:" not in client.get(path).get_data()
