"""The same files served by a plain static file server on another origin, pointed at the backend through the
settings panel (CORS), as on GitHub Pages or any static host."""

from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture
def static_host():
    handler = functools.partial(_QuietHandler, directory=str(FRONTEND))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_static_host_talks_to_the_backend(new_page, static_host, live_ui, skeleton_video):
    page = new_page(base=static_host)
    # no backend configured: the static host has no API, and the banner says where to fix it
    assert "Cannot reach the server" in page.text_content("#banner") or "404" in page.text_content("#banner")
    page.click("#settings-toggle")
    page.fill("#set-backend", live_ui.url)
    page.click("#settings-form button[type=submit]")
    page.wait_for_function("document.getElementById('banner').textContent.includes('Demo mode')")
    # the options now come from the backend's OpenAPI document (cross-origin)
    limit = live_ui.api("GET", "/api/v1/openapi.json").json()["paths"]["/api/v1/jobs"]["post"]
    steps = limit["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]["steps"]
    page.wait_for_function(f"document.getElementById('steps').max === '{steps['maximum']}'")
    # a cross-origin upload works, and the job screen follows it
    page.set_input_files("#video", str(skeleton_video))
    page.fill("#prompt", "a dancer on a static host")
    page.click("#advanced > summary")
    page.fill("#steps", "1")
    page.fill("#width", "64")
    page.fill("#height", "64")
    page.fill("#frames", "2")
    page.select_option("#input_type", "skeleton")
    page.click("#submit")
    page.wait_for_selector("#job-status.status-succeeded", timeout=60_000)
    page.wait_for_function("""() => { const v = document.querySelector("video[data-file='result.mp4']");
        return v && v.readyState >= 2 && v.duration > 0 && v.currentSrc.startsWith(arguments[0]); }""".replace(
        "arguments[0]", repr(live_ui.url)))
    job_id = page.url.rsplit("/", 1)[1]
    live_ui.api("DELETE", f"/api/v1/jobs/{job_id}")
