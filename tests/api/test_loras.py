"""``GET /api/v1/loras`` and the job field ``loras``: only installed, usable files, at most 3, weights -2..2."""

from __future__ import annotations

import pytest

from tests.api.helpers import expect_problem, store_of, submit
from tests.lora_files import SD2_TARGETS, models_with_loras, write_lora


@pytest.fixture
def models(demo_models, tmp_path):
    root = models_with_loras(demo_models, tmp_path / "models")
    write_lora(root / "loras" / "ink.safetensors", "kohya")
    write_lora(root / "loras" / "wash.safetensors", "peft")
    write_lora(root / "loras" / "sd2-style.safetensors", "kohya", SD2_TARGETS)
    (root / "loras" / "torn.safetensors").write_bytes(b"\x00" * 12)
    return root


@pytest.fixture
def client(make_app, models):
    return make_app(models_dir=str(models)).test_client()


def test_lists_the_installed_loras(client):
    body = client.get("/api/v1/loras").get_json()
    by_name = {item["name"]: item for item in body["loras"]}
    assert list(by_name) == ["ink", "sd2-style", "torn", "wash"]
    assert by_name["ink"]["usable"] and by_name["ink"]["format"] == "kohya"
    assert by_name["wash"]["parts"] == ["unet", "text_encoder"] and by_name["wash"]["format"] == "diffusers"
    assert not by_name["sd2-style"]["usable"] and "SD-2.x" in by_name["sd2-style"]["problem"]
    assert "damaged" in by_name["torn"]["problem"]
    assert body["max_per_job"] == 3 and body["weight"] == {"minimum": -2.0, "maximum": 2.0, "default": 1.0}


def test_an_empty_list_without_a_loras_folder(make_app, tmp_path):
    body = make_app(models_dir=str(tmp_path / "empty")).test_client().get("/api/v1/loras").get_json()
    assert body["loras"] == []


def test_needs_a_key_when_keys_are_on(make_app, models):
    client = make_app(models_dir=str(models), api_keys="k1").test_client()
    expect_problem(client.get("/api/v1/loras"), 401)
    assert client.get("/api/v1/loras", headers={"X-API-Key": "k1"}).status_code == 200


def test_a_job_stores_its_choices_from_a_form_and_from_json(make_app, models, local_server, sample_bytes):
    client = make_app(models_dir=str(models), url_allow_private=True).test_client()
    resp = submit(client, sample_bytes, loras="ink:0.8, wash")
    assert resp.status_code == 202, resp.get_json()
    assert resp.get_json()["params"]["loras"] == [{"name": "ink", "weight": 0.8}, {"name": "wash", "weight": 1.0}]
    local_server.file("/a.mp4", sample_bytes)
    resp = client.post("/api/v1/jobs", json={"prompt": "a robot", "video_url": local_server.url("/a.mp4"),
                                             "loras": [{"name": "wash", "weight": -0.5}, "ink:2"]})
    assert resp.status_code == 202, resp.get_json()
    job = store_of(client.application).get(resp.get_json()["id"])
    assert job.params["loras"] == [{"name": "wash", "weight": -0.5}, {"name": "ink", "weight": 2.0}]


@pytest.mark.parametrize("loras, words", [
    ("sketch", ["no LoRA named 'sketch'", "installed: ink, sd2-style, torn, wash"]),
    ("../ink", ["'../ink' is not a LoRA name", "paths are not accepted"]),
    ("sd2-style", ["sd2-style.safetensors cannot be used", "SD-2.x", "1024"]),
    ("torn", ["torn.safetensors cannot be used", "damaged"]),
    ("ink:2.5", ["outside -2..2"]),
    ("ink:-3", ["outside -2..2"]),
    ("ink,wash,ink:0.5", ["named twice"]),
])
def test_bad_choices_are_422_naming_the_field(client, sample_bytes, loras, words):
    body = expect_problem(submit(client, sample_bytes, loras=loras), 422)
    assert set(body["errors"]) == {"loras"}
    for word in words:
        assert word in body["detail"]


def test_more_than_three_is_422(client):
    resp = client.post("/api/v1/jobs", json={"prompt": "a robot", "video_url": "https://127.0.0.1:9/a.mp4",
                                             "loras": ["ink", "wash", "a", "b"]})
    assert "at most 3" in expect_problem(resp, 422)["errors"]["loras"]


def test_openapi_documents_the_field_and_the_list(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["paths"]["/api/v1/loras"]["get"]["operationId"] == "listLoras"
    field = doc["components"]["schemas"]["JobCreate"]["properties"]["loras"]
    assert field["type"] == "array" and field["maxItems"] == 3
    form = doc["paths"]["/api/v1/jobs"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["properties"]["loras"]["type"] == "string"  # a form sends "NAME:WEIGHT,NAME2"


# --- Wan LoRAs: the family each file fits, refused on the other family, distillation defaults ----------------------

@pytest.fixture
def wan_client(make_app, demo_models, tmp_path):
    from tests.lora_files import write_demo_wan_lora, write_wan_lora

    root = models_with_loras(demo_models, tmp_path / "wan-models")
    write_lora(root / "loras" / "ink.safetensors", "kohya")
    write_demo_wan_lora(root / "loras" / "wan-style.safetensors", "diffusers")
    write_demo_wan_lora(root / "loras" / "causvid_demo.safetensors", "original")
    write_wan_lora(root / "loras" / "big-14b.safetensors", "kohya", blocks=1, width=5120, ffn=8, rank=1)
    return make_app(models_dir=str(root)).test_client()


def test_each_lora_is_listed_with_the_family_and_models_it_fits(wan_client):
    by_name = {item["name"]: item for item in wan_client.get("/api/v1/loras").get_json()["loras"]}
    assert (by_name["ink"]["fits"], by_name["ink"]["models"]) == ("sd1", ["follow-your-pose"])
    wan = by_name["wan-style"]
    assert wan["usable"] and wan["fits"] == "wan" and wan["format"] == "diffusers" and wan["parts"] == ["transformer"]
    assert wan["models"] == ["wan-vace-1.3b", "wan-vace-14b"]  # a width no variant declares (the demo's 24)
    assert by_name["causvid_demo"]["format"] == "original"
    assert (by_name["big-14b"]["width"], by_name["big-14b"]["models"]) == (5120, ["wan-vace-14b"])


@pytest.mark.parametrize("model, lora, words", [
    ("wan-vace-1.3b", "ink", ["ink.safetensors is a Follow-Your-Pose LoRA", "wan-vace-1.3b takes Wan2.1 VACE",
                              "use it with follow-your-pose"]),
    ("follow-your-pose", "wan-style", ["wan-style.safetensors is a Wan2.1 VACE LoRA",
                                       "follow-your-pose takes Follow-Your-Pose LoRAs"]),
    ("wan-vace-1.3b", "big-14b", ["big-14b.safetensors was made for wan-vace-14b", "5120 wide",
                                  "wan-vace-1.3b's are 1536"]),
])
def test_a_lora_of_another_family_or_size_is_422_naming_the_file(wan_client, sample_bytes, model, lora, words):
    body = expect_problem(submit(wan_client, sample_bytes, model=model, loras=lora, frames=5), 422)
    assert set(body["errors"]) == {"loras"}
    for word in words:
        assert word in body["detail"] + " " + body.get("hint", "")


def test_a_distillation_lora_job_stores_the_steps_and_guidance_it_was_made_for(wan_client, sample_bytes):
    resp = submit(wan_client, sample_bytes, model="wan-vace-1.3b", loras="causvid_demo", frames=5)
    assert resp.status_code == 202, resp.get_json()
    job = store_of(wan_client.application).get(resp.get_json()["id"])
    assert (job.params["steps"], job.params["guidance_scale"], job.total_steps) == (4, 1.0, 4)
    assert job.params["defaulted"] == ["steps", "guidance_scale"]
    resp = submit(wan_client, sample_bytes, model="wan-vace-1.3b", loras="causvid_demo", frames=5, steps=9)
    job = store_of(wan_client.application).get(resp.get_json()["id"])
    assert (job.params["steps"], job.params["guidance_scale"], job.params["defaulted"]) == (9, 1.0,
                                                                                            ["guidance_scale"])
    styled, plain = (store_of(wan_client.application).get(submit(wan_client, sample_bytes, model="wan-vace-1.3b",
                                                                 frames=5, **extra).get_json()["id"])
                     for extra in ({"loras": "wan-style"}, {}))
    assert (styled.params["steps"], styled.params["guidance_scale"]) == (plain.params["steps"], 5.0) != (4, 1.0)
