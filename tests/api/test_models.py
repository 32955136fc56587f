"""``GET /api/v1/models`` and a job's ``model`` and ``reference_image``: what the families declare, over HTTP.

The made-up second family (tests/made_up_family.py) takes a character photo; Follow-Your-Pose does not."""

from __future__ import annotations

from io import BytesIO

import pytest
from PIL import Image

from tests.api.helpers import expect_problem, store_of
from tests.made_up_family import registered

PROMPT = "a girl dancing on a mountain"


@pytest.fixture(autouse=True)
def made_up_family():
    with registered():
        yield


def photo(width: int = 40, height: int = 20, fmt: str = "JPEG", orientation: int | None = None) -> bytes:
    image = Image.new("RGB", (width, height), (200, 30, 30))
    image.paste((30, 30, 200), (0, 0, width // 2, height))  # left half blue: the rotation can be seen
    out = BytesIO()
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    image.save(out, format=fmt, exif=exif.tobytes() if orientation is not None else b"")
    return out.getvalue()


def post(client, video: bytes, image: bytes | None = None, name: str = "me.jpg", **fields):
    data = {"prompt": PROMPT, **{k: str(v) for k, v in fields.items()}, "video": (BytesIO(video), "dance.mp4")}
    if image is not None:
        data["reference_image"] = (BytesIO(image), name)
    return client.post("/api/v1/jobs", data=data, content_type="multipart/form-data")


def test_models_lists_families_variants_capabilities_and_limits(make_app, tmp_path):
    models = tmp_path / "models"
    (models / "made-up-1b").mkdir(parents=True)  # only this variant's weights are here
    body = make_app(models_dir=str(models)).test_client().get("/api/v1/models").get_json()
    families = {f["name"]: f for f in body["families"]}
    assert body["default"] == "follow-your-pose" and list(families) == ["follow-your-pose", "wan-vace", "made-up"]
    fyp, made_up = families["follow-your-pose"], families["made-up"]
    assert not fyp["installed"] and made_up["installed"]
    assert [(v["name"], v["installed"]) for v in made_up["variants"]] == [("made-up-1b", True), ("made-up-9b", False)]
    assert fyp["capabilities"] == {"slots": ["video"], "loras": True, "preview": True, "long_video": True}
    assert made_up["capabilities"]["slots"] == ["video", "reference_image"] and not made_up["capabilities"]["loras"]
    assert made_up["limits"]["frame_rule"] == {"step": 4, "offset": 1, "text": "4k+1"}
    wan = families["wan-vace"]
    assert wan["capabilities"]["preview"] and wan["capabilities"]["long_video"]
    assert wan["limits"]["frame_rule"] == {"step": 4, "offset": 1, "any_above_window": True, "text": (
        "4k+1 up to one window (81 frames), any count above (made in windows)")}
    assert wan["limits"]["window"]["default"] == 81 and wan["limits"]["window_overlap"]["default"] == 17
    assert (fyp["limits"]["size_multiple"], made_up["limits"]["size_multiple"]) == (64, 16)
    assert made_up["limits"]["width"] == {"minimum": 16, "maximum": 1280, "multiple_of": 16, "default": 320}
    assert fyp["params"]["scheduler"]["enum"] == ["ddim", "dpm++"] and made_up["params"]["scheduler"]["enum"] == ["ddim"]
    assert "loras" not in made_up["params"] and "loras" in made_up["refuses"]
    assert fyp["params"]["translate"]["default"] is True and made_up["params"]["translate"]["default"] is False


def test_a_demo_folder_has_every_family(make_app):
    body = make_app(models_dir="demo").test_client().get("/api/v1/models").get_json()
    assert all(f["installed"] for f in body["families"])


def test_a_character_photo_is_stored_upright_and_shown_in_the_job(make_app, sample_bytes):
    app = make_app()
    resp = post(app.test_client(), sample_bytes, photo(40, 20, orientation=6), model="made-up-1b", frames=5,
                stride=1)  # the 12-frame sample gives 5 frames only at stride 1
    assert resp.status_code == 202, resp.get_data(as_text=True)
    job = resp.get_json()
    assert job["model"] == "made-up-1b"
    assert job["inputs"] == {"video": "input.mp4", "reference_image": "reference.png"}
    stored = app.extensions["text2video"].settings.jobs_dir / job["id"] / "reference.png"
    with Image.open(stored) as image:  # EXIF orientation 6 = turned 90 degrees: stored 20 x 40, left half on top
        assert image.size == (20, 40) and image.format == "PNG"
        assert image.getpixel((10, 5))[2] > 150 and image.getpixel((10, 35))[0] > 150
    assert sorted(p.name for p in stored.parent.iterdir()) == ["input.mp4", "reference.png"]


def test_a_model_without_the_slot_refuses_the_photo_naming_those_that_take_it(make_app, sample_bytes):
    app = make_app()
    body = expect_problem(post(app.test_client(), sample_bytes, photo()), 422)
    assert "reference_image" in body["errors"] and "made-up-1b, made-up-9b" in body["errors"]["reference_image"]
    url = app.test_client().post("/api/v1/jobs", json={"prompt": PROMPT, "video_url": "https://example.com/a.mp4",
                                                       "reference_image_url": "https://example.com/me.png"})
    assert "reference_image" in expect_problem(url, 422)["errors"]
    assert store_of(app).list()[1] == 0


@pytest.mark.parametrize("image,name,overrides,status", [
    (b"not an image at all", "me.png", {}, 415),
    (photo(), "me.gif", {}, 415),
    (photo(fmt="BMP"), "me.png", {}, 415),
    (photo(40, 20), "me.jpg", {"max_image_pixels": 799}, 422),
    (photo(40, 20), "me.jpg", {"max_image_mb": 0.0001}, 413),
], ids=["not-an-image", "wrong-extension", "bmp-inside", "too-many-pixels", "too-many-bytes"])
def test_a_bad_photo_gets_a_clear_4xx_and_no_job(make_app, sample_bytes, image, name, overrides, status):
    app = make_app(**overrides)
    body = expect_problem(post(app.test_client(), sample_bytes, image, name, model="made-up-1b"), status)
    assert "reference_image" in body["errors"]
    assert store_of(app).list()[1] == 0
    assert not any(app.extensions["text2video"].settings.jobs_dir.glob("*/*"))  # nothing left behind


def test_a_private_photo_url_is_refused(make_app):
    resp = make_app().test_client().post("/api/v1/jobs", json={
        "prompt": PROMPT, "model": "made-up-1b", "video_url": "https://example.com/a.mp4",
        "reference_image_url": "http://127.0.0.1/me.png"})
    assert "reference_image_url" in expect_problem(resp, 422)["errors"]


def test_both_a_photo_and_its_url_are_refused(make_app, sample_bytes):
    resp = post(make_app().test_client(), sample_bytes, photo(), model="made-up-1b",
                reference_image_url="https://example.com/me.png")
    assert "reference_image_url" in expect_problem(resp, 422)["errors"]


def test_a_photo_by_url_is_downloaded_checked_and_stored(make_app, local_server, sample_bytes):
    app = make_app(url_allow_private=True)
    local_server.file("/dance.mp4", sample_bytes, content_type="video/mp4")
    local_server.file("/me", photo(30, 10, fmt="PNG"), content_type="image/png")
    local_server.file("/notes.png", b"just text", content_type="image/png")
    resp = app.test_client().post("/api/v1/jobs", json={
        "prompt": PROMPT, "model": "made-up-1b", "video_url": local_server.url("/dance.mp4"),
        "reference_image_url": local_server.url("/me")})
    assert resp.status_code == 202, resp.get_data(as_text=True)
    folder = app.extensions["text2video"].settings.jobs_dir / resp.get_json()["id"]
    with Image.open(folder / "reference.png") as image:
        assert image.size == (30, 10)
    bad = app.test_client().post("/api/v1/jobs", json={
        "prompt": PROMPT, "model": "made-up-1b", "video_url": local_server.url("/dance.mp4"),
        "reference_image_url": local_server.url("/notes.png")})
    assert "reference_image_url" in expect_problem(bad, 415)["errors"]
    assert store_of(app).list()[1] == 1


def test_wan_vace_takes_a_photo_and_follow_your_pose_refuses_it_naming_wan(make_app, sample_bytes):
    app = make_app()
    ok = post(app.test_client(), sample_bytes, photo(40, 20), model="wan-vace-1.3b", frames=5, width=64, height=64)
    assert ok.status_code == 202, ok.get_data(as_text=True)
    assert ok.get_json()["model"] == "wan-vace-1.3b"
    assert ok.get_json()["inputs"] == {"video": "input.mp4", "reference_image": "reference.png"}
    refused = expect_problem(post(app.test_client(), sample_bytes, photo(), model="follow-your-pose"), 422)
    assert "wan-vace-1.3b, wan-vace-14b" in refused["errors"]["reference_image"]
    off_rule = expect_problem(post(app.test_client(), sample_bytes, photo(), model="wan-vace-1.3b", frames=8), 422)
    assert "the closest is 9" in off_rule["errors"]["frames"]
    assert store_of(app).list()[1] == 1  # only the good one is a job


def test_the_photo_used_is_served_back_as_an_input_file_with_the_same_signing(make_app, sample_bytes):
    app = make_app(api_keys="k")
    client = app.test_client()
    key = {"X-API-Key": "k"}
    data = {"prompt": PROMPT, "model": "made-up-1b", "frames": "5", "stride": "1",
            "video": (BytesIO(sample_bytes), "dance.mp4"), "reference_image": (BytesIO(photo(40, 20)), "me.jpg")}
    job = client.post("/api/v1/jobs", data=data, content_type="multipart/form-data", headers=key).get_json()
    link = job["input_files"]["reference_image"]
    assert link.startswith(f"/api/v1/jobs/{job['id']}/files/reference.png?") and "sig=" in link
    assert "reference.png" not in job["files"]  # the outputs stay the outputs
    resp = client.get(link)  # an <img src>: no headers, the signature is the key
    stored = app.extensions["text2video"].settings.jobs_dir / job["id"] / "reference.png"
    assert resp.status_code == 200 and resp.mimetype == "image/png" and resp.get_data() == stored.read_bytes()
    expect_problem(client.get(f"/api/v1/jobs/{job['id']}/files/reference.png"), 401)
    expect_problem(client.get(link.replace("reference.png", "result.mp4")), 401)  # signed per file
    assert client.get(f"/api/v1/jobs/{job['id']}/files/input.mp4", headers=key).status_code == 404  # not served
    no_photo = client.post("/api/v1/jobs", data={"prompt": PROMPT, "video": (BytesIO(sample_bytes), "d.mp4")},
                           content_type="multipart/form-data", headers=key).get_json()
    assert no_photo["input_files"] == {}
