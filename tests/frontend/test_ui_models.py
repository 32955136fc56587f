"""The model picker, the character photo and the per-model limits (headless Chromium, ``manage.py serve``, demo
weights): the page offers the installed models of GET /api/v1/models, Follow-Your-Pose stays the default with no
photo zone, picking Wan VACE brings its limits (4k+1 frames, multiples of 16, its defaults, no stride/sampler) and
the photo zone; a Wan job with a dropped photo runs to the end and its page shows the model and the photo."""

from __future__ import annotations

import base64
import io
import re

import pytest
from PIL import Image

from tests.frontend.test_ui_flow import english_shown, submit_job, wait_playable
from tests.frontend.test_ui_forms import no_request_sent

pytestmark = pytest.mark.browser

WAN = "wan-vace-1.3b"
FYP = "follow-your-pose"
WAN_TINY = {"steps": "2", "width": "64", "height": "64", "frames": "5", "seed": "3"}  # Wan: 4k+1, multiples of 16


def photo_png() -> bytes:
    """A character photo: a figure on a plain background (what the help text asks for)."""
    image = Image.new("RGB", (96, 128), (235, 230, 220))
    image.paste((200, 40, 60), (36, 30, 60, 100))  # body
    image.paste((240, 190, 160), (40, 8, 56, 28))  # head
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def models(live_ui) -> dict:
    return live_ui.api("GET", "/api/v1/models").json()


def family(catalog: dict, name: str) -> dict:
    return next(f for f in catalog["families"] if any(v["name"] == name for v in f["variants"]))


def radio(name: str) -> str:
    return f"input[name='model'][value='{name}']"


def pick(page, name: str) -> None:
    page.click(f"label.model-card[data-model='{name}']")
    assert page.is_checked(radio(name))


def drop_photo(page, data: bytes, name: str = "me.png", mime: str = "image/png") -> None:
    transfer = page.evaluate_handle("""([b64, name, mime]) => {
        const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], name, {type: mime}));
        return dt; }""", [base64.b64encode(data).decode("ascii"), name, mime])
    page.dispatch_event("#photo-dropzone", "dragenter", {"dataTransfer": transfer})
    assert "dragging" in page.get_attribute("#photo-dropzone", "class")
    page.dispatch_event("#photo-dropzone", "drop", {"dataTransfer": transfer})


def test_the_picker_offers_the_installed_models_and_follow_your_pose_stays_the_default(page, live_ui):
    catalog = models(live_ui)
    installed = [v for f in catalog["families"] for v in f["variants"] if v["installed"]]
    cards = page.eval_on_selector_all("label.model-card", "cards => cards.map(c => [c.dataset.model, c.innerText])")
    assert [name for name, _ in cards] == [v["name"] for v in installed]
    for (_, text), variant in zip(cards, installed):
        assert variant["title"] in text and variant["description"] in text
        assert f"about {round(variant['vram_gb'])} GB of GPU memory" in text, text
    assert catalog["default"] == FYP and page.is_checked(radio(FYP))
    assert "(default)" in dict(cards)[FYP]
    # Follow-Your-Pose as before: no photo zone, its stride and sampler, its bounds and defaults
    fyp = family(catalog, FYP)
    assert not page.is_visible("#field-reference_image")
    page.click("#advanced > summary")
    assert page.is_visible("#stride") and page.is_visible("#scheduler") and not page.is_visible("#conditioning_scale")
    assert page.input_value("#width") == str(fyp["limits"]["width"]["default"])
    assert page.get_attribute("#width", "step") == str(fyp["limits"]["width"]["multiple_of"])
    assert page.input_value("#steps") == str(fyp["limits"]["steps"]["default"])


def test_the_form_follows_the_chosen_model(page, live_ui):
    wan = family(models(live_ui), WAN)
    limits = wan["limits"]
    page.click("#advanced > summary")
    page.fill("#steps", "7")  # changed by the user: a model switch keeps it
    pick(page, WAN)
    assert page.is_visible("#field-reference_image")
    for refused in ("stride", "scheduler"):
        assert refused in wan["refuses"] and not page.is_visible(f"#field-{refused}")
    assert page.is_visible("#conditioning_scale")
    assert page.input_value("#conditioning_scale") == str(int(limits["conditioning_scale"]["default"]))
    assert (page.input_value("#width"), page.input_value("#height")) == (
        str(limits["width"]["default"]), str(limits["height"]["default"]))
    assert page.get_attribute("#width", "step") == str(limits["size_multiple"])
    assert page.get_attribute("#frames", "max") == str(limits["frames"]["maximum"])
    assert page.get_attribute("#frames", "step") == str(limits["frame_rule"]["step"])
    assert page.input_value("#guidance_scale") == str(int(limits["guidance_scale"]["default"]))
    assert page.input_value("#steps") == "7"
    assert "4k+1" in page.text_content("#frames-help")
    assert f"default {limits['default_frames']}" in page.text_content("#frames-help")
    # a frames count off the rule is marked at the field with the closest allowed one, and nothing is sent
    page.fill("#frames", "8")
    assert "closest allowed is 9" in page.text_content("#frames-error")
    assert page.get_attribute("#frames", "aria-invalid") == "true"
    page.fill("#prompt", "x")
    page.fill("#video_url", "https://example.com/a.mp4")
    assert not no_request_sent(page, lambda: page.click("#submit"))
    assert "closest allowed is 9" in page.text_content("#frames-error")
    page.fill("#frames", "9")
    assert page.text_content("#frames-error") == "" and page.get_attribute("#frames", "aria-invalid") is None
    page.fill("#width", "100")  # a multiple of 16 for Wan
    assert not no_request_sent(page, lambda: page.click("#submit"))
    assert "multiple of 16" in page.text_content("#width-error")
    # back to Follow-Your-Pose: its defaults where the user changed nothing, no photo zone
    pick(page, FYP)
    assert not page.is_visible("#field-reference_image") and page.is_visible("#stride")
    assert page.input_value("#height") == "512" and page.input_value("#steps") == "7"


def test_a_photo_that_is_not_an_image_is_refused_at_the_zone(page, live_ui):
    pick(page, WAN)
    drop_photo(page, b"GIF89a not really", "me.gif", "image/gif")
    assert "PNG, JPEG or WebP" in page.text_content("#reference_image-error")
    assert "invalid" in page.get_attribute("#photo-dropzone", "class")
    assert not page.is_visible("#photo-preview")


def _fill_wan(page, video, with_photo: bytes | None) -> None:
    pick(page, WAN)
    if with_photo:
        drop_photo(page, with_photo)
        page.wait_for_function("document.getElementById('photo-img').naturalWidth > 0")
        assert re.search(r"me\.png · .+ · 96×128", page.text_content("#photo-info"))
    page.set_input_files("#video", str(video))
    page.fill("#prompt", "Cô gái nhảy trên núi")
    page.click("#advanced > summary")
    for name, value in WAN_TINY.items():
        page.fill(f"#{name}", value)
    page.select_option("#input_type", "skeleton")


def _watch_preview(page) -> None:
    """Record whether the live preview showed (2 steps have no preview step; the test below follows one)."""
    page.evaluate("""() => { window.__previewSeen = false;
        new MutationObserver(() => { if (document.getElementById('job-preview')) window.__previewSeen = true; })
          .observe(document.body, {subtree: true, childList: true}); }""")


def test_pick_wan_drop_a_photo_submit_and_follow_the_job_to_the_end(new_page, live_ui, skeleton_video, artifacts_dir):
    page = new_page()
    photo = photo_png()
    _fill_wan(page, skeleton_video, photo)
    page.evaluate("""() => { const send = XMLHttpRequest.prototype.send;  // what the form sends, as sent
        XMLHttpRequest.prototype.send = function (body) {
            if (body instanceof FormData) window.__sent = [...body.entries()].map(([k, v]) => [k, v.name ?? v]);
            return send.call(this, body); }; }""")
    _watch_preview(page)
    job_id = submit_job(page)
    sent = dict(page.evaluate("window.__sent"))
    assert sent["model"] == WAN and sent["reference_image"] == "me.png"
    assert "stride" not in sent and "scheduler" not in sent  # what Wan refuses is not sent
    page.wait_for_selector("#job-status.status-succeeded", timeout=120_000)
    result = wait_playable(page, "video[data-file='result.mp4']")
    assert (result["width"], result["height"], result["error"]) == (64, 64, None), result
    job = live_ui.api("GET", f"/api/v1/jobs/{job_id}").json()
    assert job["model"] == WAN and job["inputs"]["reference_image"] == "reference.png"
    assert job["params"]["frames"] == 5
    # the job page: the model's title and the photo used
    title = next(v["title"] for v in family(models(live_ui), WAN)["variants"] if v["name"] == WAN)
    page.wait_for_function("t => document.getElementById('job-model')?.textContent.includes(t)", arg=title)
    assert page.text_content("#job-model") == f"Model: {title}"
    page.wait_for_function("document.getElementById('job-photo').naturalWidth > 0")
    shown = page.eval_on_selector("#job-photo", "img => [img.naturalWidth, img.naturalHeight, img.alt]")
    assert shown == [96, 128, "The character photo this job used"]
    # a preview (none at 2 steps: see the next test) gives way to the result
    if page.evaluate("window.__previewSeen"):
        assert page.locator("#job-preview").count() == 0
    _screens_in_every_layout(new_page, skeleton_video, photo, job_id, title, job["english_prompt"], artifacts_dir)


def _screens_in_every_layout(new_page, video, photo, job_id, title, english_prompt, artifacts_dir) -> None:
    """The create page with Wan and a photo, and the finished Wan job page, on desktop and phone in both languages."""
    words = {"en-US": ("Character photo", "Model"), "vi-VN": ("Ảnh nhân vật", "Mô hình")}
    for locale, (photo_word, model_word) in words.items():
        lang = locale[:2]
        for phone in (False, True):
            where = "phone" if phone else "desktop"
            page = new_page(locale=locale, phone=phone)
            if not phone:
                page.set_viewport_size({"width": 1280, "height": 800})
            _fill_wan(page, video, photo)
            page.evaluate("document.activeElement.blur()")
            assert photo_word in page.text_content("#field-reference_image")
            page.screenshot(path=str(artifacts_dir / f"ui-wan-create-{lang}-{where}.png"), full_page=True)
            page.goto(page.url.split("#")[0] + f"#/jobs/{job_id}")
            page.wait_for_selector("#job-status.status-succeeded")
            wait_playable(page, "video[data-file='result.mp4']")
            page.wait_for_function("document.getElementById('job-photo')?.naturalWidth > 0")
            page.wait_for_function("t => document.getElementById('job-model')?.textContent.includes(t)", arg=title)
            assert page.text_content("#job-model").startswith(f"{model_word}: ")
            assert page.text_content(".photo-thumb figcaption") == photo_word
            if lang == "vi":  # the Wan job's page says it all in Vietnamese (the English prompt aside)
                assert not english_shown(page, english_prompt), page.evaluate("document.body.innerText")
            page.screenshot(path=str(artifacts_dir / f"ui-wan-job-{lang}-{where}.png"), full_page=True)
            page.context.close()


def test_a_wan_job_shows_its_live_preview_changing_then_the_result(new_page, live_ui, skeleton_video):
    from tests.frontend.test_ui_preview import PREVIEW, shown_preview

    page = new_page()
    _fill_wan(page, skeleton_video, photo_png())
    page.fill("#steps", "150")  # previews come every 5 steps, at most one a second: the job must run some seconds
    job_id = submit_job(page)
    first = shown_preview(page)
    assert f"Step {first['step']}/150" in first["caption"] and "Live preview" in first["caption"], first
    pixels_first = page.locator(PREVIEW).screenshot()
    second = shown_preview(page, first["step"])
    assert second["step"] > first["step"] and second["src"] != first["src"], (first, second)
    assert page.locator(PREVIEW).screenshot() != pixels_first  # another picture, not just another URL
    page.wait_for_selector("#job-status.status-succeeded", timeout=120_000)
    wait_playable(page, "video[data-file='result.mp4']")
    assert page.locator(PREVIEW).count() == 0  # the result took its place
    live_ui.api("DELETE", f"/api/v1/jobs/{job_id}")
