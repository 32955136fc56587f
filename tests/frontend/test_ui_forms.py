"""The Create form's errors (client-side checks worded like the server's, and server problems shown next to the
field they name), the interface languages, the settings panel, phone layout and labels/keyboard access."""

from __future__ import annotations

import base64
import re

import pytest

pytestmark = pytest.mark.browser


def no_request_sent(page, action) -> list[str]:
    """Run action(); return the POST /api/v1/jobs requests it made (client-side checks must make none)."""
    posts: list[str] = []
    handler = lambda req: req.method == "POST" and "/api/v1/jobs" in req.url and posts.append(req.url)  # noqa: E731
    page.on("request", handler)
    action()
    page.wait_for_timeout(300)
    page.remove_listener("request", handler)
    return posts


def test_missing_prompt_is_shown_next_to_the_prompt(page, skeleton_video, artifacts_dir):
    page.set_input_files("#video", str(skeleton_video))
    posts = no_request_sent(page, lambda: page.click("#submit"))
    assert not posts
    assert "prompt is required" in page.text_content("#prompt-error")
    assert page.get_attribute("#prompt", "aria-invalid") == "true"
    assert page.evaluate("document.activeElement.id") == "prompt"  # focus goes to the field to fix
    page.screenshot(path=str(artifacts_dir / "ui-error-prompt-desktop.png"), full_page=True)


def test_non_video_file_refused_with_the_servers_message(page, live_ui, tmp_path, artifacts_dir):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a video")
    page.set_input_files("#video", str(notes))
    shown = page.text_content("#video-error")
    # the same file sent to the API directly: the server's 415 says the same thing
    with open(notes, "rb") as fh:
        resp = live_ui.api("POST", "/api/v1/jobs", data={"prompt": "a dancer"}, files={"video": ("notes.txt", fh)})
    assert resp.status_code == 415
    assert shown == resp.json()["detail"], (shown, resp.json())
    assert page.is_hidden("#preview")
    page.screenshot(path=str(artifacts_dir / "ui-error-filetype-desktop.png"), full_page=True)

    # too large for the server's limit (read from its OpenAPI document): refused before uploading
    limit_mb = int(re.search(r"at most (\d+) MB", page.text_content("#video-accepts")).group(1))
    big = tmp_path / "big.mp4"
    big.write_bytes(b"\0" * (limit_mb * 1024 * 1024 + 1))
    page.set_input_files("#video", str(big))
    assert f"{limit_mb} MB limit" in page.text_content("#video-error")


def test_server_error_is_shown_next_to_its_field(page, tmp_path):
    """A text file named .mp4 passes the browser's checks; the server's probe refuses it and names `video`."""
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(b"this is not a video at all\n" * 50)
    page.set_input_files("#video", str(fake))
    page.fill("#prompt", "a dancer")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/api/v1/jobs")) as info:
        page.click("#submit")
    resp = info.value
    assert resp.status in (415, 422) and resp.headers["content-type"].startswith("application/problem+json")
    problem = resp.json()
    page.wait_for_function("document.getElementById('video-error').textContent.length > 0")
    assert list(problem["errors"]) == ["video"]
    assert page.text_content("#video-error") == problem["detail"]  # the message and the server's hint
    assert "#/jobs/" not in page.url

    # a URL to a local address: the server's SSRF guard refuses it, and the message lands at the URL field
    page.click("#clear-video")
    page.fill("#video_url", "http://127.0.0.1:9/clip.mp4")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/api/v1/jobs")) as info:
        page.click("#submit")
    problem = info.value.json()
    assert info.value.status == 422 and "video_url" in problem["errors"], problem
    page.wait_for_function("document.getElementById('video_url-error').textContent.length > 0")
    assert page.text_content("#video_url-error") == problem["detail"]


def test_number_limits_come_from_the_server(page, live_ui):
    doc = live_ui.api("GET", "/api/v1/openapi.json").json()
    props = doc["paths"]["/api/v1/jobs"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]
    assert page.get_attribute("#steps", "max") == str(props["steps"]["maximum"])
    assert page.input_value("#steps") == str(props["steps"]["default"])
    assert page.get_attribute("#width", "step") == str(props["width"]["multipleOf"])
    assert page.eval_on_selector_all("#scheduler option", "o => o.map(x => x.value)") == props["scheduler"]["enum"]
    page.click("#advanced > summary")
    page.fill("#steps", str(props["steps"]["maximum"] + 1))
    page.fill("#width", "100")
    page.fill("#prompt", "x")
    page.fill("#video_url", "https://example.com/a.mp4")
    assert not no_request_sent(page, lambda: page.click("#submit"))
    assert f"between {props['steps']['minimum']} and {props['steps']['maximum']}" in page.text_content("#steps-error")
    assert "multiple of 64" in page.text_content("#width-error")


def test_server_error_is_shown_in_vietnamese(new_page, tmp_path):
    """The same refused upload in the Vietnamese interface: the server's problem is rendered from its code."""
    page = new_page(locale="vi-VN")
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(b"this is not a video at all\n" * 50)
    page.set_input_files("#video", str(fake))
    page.fill("#prompt", "Cô gái nhảy trên núi")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/api/v1/jobs")) as info:
        page.click("#submit")
    problem = info.value.json()
    page.wait_for_function("document.getElementById('video-error').textContent.length > 0")
    assert [m["code"] for m in problem["messages"]["detail"]] == ["video.not_video", "hint.video_file"]
    shown = page.text_content("#video-error")
    assert shown.startswith("'fake.mp4' không phải video: nội dung của tệp không phải định dạng video"), shown
    assert "Hãy dùng tệp video: .mp4, .mov" in shown, shown

    # a refused video_url keeps its reason in Vietnamese (issue 20 item 5: only the generic text was left)
    page.click("#clear-video")
    page.fill("#video_url", "http://127.0.0.1:9/clip.mp4")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/api/v1/jobs")) as info:
        page.click("#submit")
    assert info.value.status == 422
    page.wait_for_function("document.getElementById('video_url-error').textContent.length > 0")
    shown = page.text_content("#video_url-error")
    assert "bị từ chối: địa chỉ 127.0.0.1 không được phép: đây là địa chỉ loopback (chính máy chủ này)" in shown, shown
    assert "URL http(s) công khai của tệp video" in shown, shown


def test_language_follows_the_browser_and_switches(new_page, artifacts_dir):
    page = new_page(locale="vi-VN")
    assert page.evaluate("document.documentElement.lang") == "vi"
    assert page.text_content("#nav-create") == "Tạo video"
    assert page.get_attribute("#prompt", "placeholder") == "Cô gái nhảy trên núi"
    assert "Tự nhận diện" in page.text_content("#lang")
    page.click("#submit")  # errors in the interface language
    assert "Hãy nhập câu mô tả" in page.text_content("#prompt-error")
    page.screenshot(path=str(artifacts_dir / "ui-create-vi-desktop.png"), full_page=True)

    page.select_option("#ui-lang", "en")
    assert page.text_content("#nav-create") == "Create"
    assert page.text_content("#create-title") == "New video"
    assert "Detect automatically" in page.text_content("#lang")
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    assert page.text_content("#nav-history") == "History"  # the choice is remembered

    english = new_page(locale="en-US")
    assert english.text_content("#nav-create") == "Create"
    # every string exists in both languages
    missing = english.evaluate("""async () => { const m = await import('./js/i18n.js');
        const vi = Object.keys(m._strings.vi), en = Object.keys(m._strings.en);
        return [vi.filter(k => !en.includes(k)), en.filter(k => !vi.includes(k))]; }""")
    assert missing == [[], []]


def test_settings_panel_stores_backend_and_key(page, live_ui):
    page.click("#settings-toggle")
    assert page.get_attribute("#settings-toggle", "aria-expanded") == "true"
    page.fill("#set-backend", "not a url")
    page.click("#settings-form button[type=submit]")
    assert "http://" in page.text_content("#set-backend-error")
    page.keyboard.press("Escape")  # closes without saving, focus back on the toggle
    assert page.is_hidden("#settings-panel") and page.evaluate("document.activeElement.id") == "settings-toggle"
    assert page.evaluate("localStorage.getItem('t2v.backend')") is None
    page.click("#settings-toggle")
    page.fill("#set-backend", live_ui.url + "/")  # the backend explicitly (as on a static host), trailing slash ok
    page.fill("#set-key", "secret-key")
    page.click("#settings-form button[type=submit]")
    assert page.is_hidden("#settings-panel")
    stored = page.evaluate("[localStorage.getItem('t2v.backend'), localStorage.getItem('t2v.apiKey')]")
    assert stored == [live_ui.url, "secret-key"]
    # requests now carry the key (this server has none configured, so it is simply accepted)
    with page.expect_request(lambda r: "/api/v1/jobs?" in r.url) as info:
        page.click("#nav-history")
    assert info.value.headers.get("authorization") == "Bearer secret-key"


def _submit_tiny(live_ui, video, prompt: str, **fields) -> str:
    with open(video, "rb") as fh:
        resp = live_ui.api("POST", "/api/v1/jobs", files={"video": (video.name, fh, "video/mp4")},
                           data={"prompt": prompt, "steps": "2", "width": "64", "height": "64", "frames": "2",
                                 "input_type": "skeleton", **fields})
    assert resp.status_code == 202, resp.text
    return resp.json()["id"]


def test_phone_layout_labels_keyboard(new_page, live_ui, skeleton_video, artifacts_dir):
    page = new_page(phone=True, locale="vi-VN")
    page.click("#advanced > summary")
    page.screenshot(path=str(artifacts_dir / "ui-create-phone.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "horizontal scrolling on a phone"
    # every control has a label (a <label>, or aria-labelledby naming visible text)
    unlabeled = page.evaluate("""() => [...document.querySelectorAll('input, select, textarea')].filter(c =>
        !(c.labels && c.labels.length) && !c.getAttribute('aria-labelledby') && !c.getAttribute('aria-label'))
        .map(c => c.id || c.name)""")
    assert unlabeled == []
    # keyboard: Tab walks through the form in reading order, with a visible focus ring
    page.focus("#ui-lang")  # the last control of the header
    order = []
    for _ in range(40):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id"))
        if order[-1] == "submit":
            break
    assert [i for i in order if i in ("video", "video_url", "prompt", "steps", "submit")] == \
        ["video", "video_url", "prompt", "steps", "submit"], order
    page.focus("#video")
    assert page.eval_on_selector("#dropzone", "e => getComputedStyle(e).outlineStyle") != "none"

    job_id = _submit_tiny(live_ui, skeleton_video, "Chú robot nhảy múa")
    page.goto(f"{live_ui.url}/#/jobs/{job_id}")
    page.wait_for_selector("#job-status.status-succeeded", timeout=60_000)
    page.wait_for_function("""() => { const v = document.querySelector("video[data-file='result.mp4']");
        return v && v.readyState >= 2; }""")
    page.screenshot(path=str(artifacts_dir / "ui-job-succeeded-phone.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.goto(live_ui.url + "/#/history")
    page.wait_for_selector(f"li.card[data-job-id='{job_id}'] img.thumb")
    page.screenshot(path=str(artifacts_dir / "ui-history-phone.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    live_ui.api("DELETE", f"/api/v1/jobs/{job_id}")


def test_history_pages(page, live_ui, skeleton_video):
    ids = [_submit_tiny(live_ui, skeleton_video, f"page test {i}") for i in range(13)]
    for job_id in ids:  # queued ones are canceled at once; they stay in the history
        live_ui.api("POST", f"/api/v1/jobs/{job_id}/cancel")
    try:
        page.click("#nav-history")
        page.wait_for_selector("li.card")
        first = page.eval_on_selector_all("li.card", "cards => cards.map(c => c.dataset.jobId)")
        assert len(first) == 12 and first[0] == ids[-1]  # newest first
        assert page.is_disabled("#history-prev") and page.is_enabled("#history-next")
        page.click("#history-next")
        page.wait_for_url(re.compile(r".*#/history\?page=2$"))
        page.wait_for_function("document.getElementById('history-page').textContent.startsWith('Page 2')")
        second = page.eval_on_selector_all("li.card", "cards => cards.map(c => c.dataset.jobId)")
        assert ids[0] in second and not set(second) & set(first)
        page.select_option("#history-status", "canceled")  # filter: back to page 1 of the canceled ones
        page.wait_for_url(re.compile(r".*#/history\?status=canceled$"))
        page.wait_for_function("""() => { const cards = [...document.querySelectorAll('li.card')];
            return cards.length > 0 && cards.every(c => c.dataset.status === 'canceled'); }""")
        assert page.is_disabled("#history-prev")
    finally:
        for job_id in ids:
            live_ui.api("DELETE", f"/api/v1/jobs/{job_id}")


def test_drag_and_drop_a_video(page, skeleton_video):
    data = base64.b64encode(skeleton_video.read_bytes()).decode("ascii")
    transfer = page.evaluate_handle("""([b64, name]) => {
        const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], name, {type: 'video/mp4'}));
        return dt; }""", [data, skeleton_video.name])
    page.dispatch_event("#dropzone", "dragenter", {"dataTransfer": transfer})
    assert "dragging" in page.get_attribute("#dropzone", "class")
    page.dispatch_event("#dropzone", "drop", {"dataTransfer": transfer})
    page.wait_for_function("document.getElementById('preview-info').textContent.includes('×')")
    assert skeleton_video.name in page.text_content("#preview-info") and page.is_visible("#preview-video")
    assert "dragging" not in page.get_attribute("#dropzone", "class")


def test_path_style_links_open_the_app(page, live_ui):
    page.goto(live_ui.url + "/history")
    page.wait_for_selector("body[data-ready='true']")
    assert page.url.endswith("/#/history") and page.is_visible("#view-history")


def test_unknown_job_in_the_url(page, live_ui):
    page.goto(live_ui.url + "/#/jobs/" + "0" * 32)
    page.wait_for_selector("#view-job .error-box")
    assert "0" * 32 in page.text_content("#view-job")
