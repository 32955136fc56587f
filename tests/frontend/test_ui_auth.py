"""The UI against a backend that requires an API key and has no worker: the banner asks for the key, the key from
the settings panel unlocks the API, a submitted job waits in the queue (said in words), signed file links."""

from __future__ import annotations

import re
import threading

import pytest

pytestmark = pytest.mark.browser

KEY = "test-key-123"


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory):
    """The app under waitress in this process (API-only node: no worker), with one API key configured."""
    from waitress import create_server

    from text2video.api import create_app
    from text2video.settings import Settings

    root = tmp_path_factory.mktemp("frontend-keyed")
    settings = Settings.load({"data_dir": root / "data", "api_keys": KEY, "min_free_disk_mb": 1,
                              "models_dir": "demo"}, environ={})
    server = create_server(create_app(settings), host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()


def test_api_key_from_settings_and_a_queued_job(new_page, keyed_server, skeleton_video, artifacts_dir):
    page = new_page(base=keyed_server)
    assert "needs an API key" in page.text_content("#banner")
    page.click("#nav-history")
    page.wait_for_function("document.getElementById('history-message').textContent.includes('401')")

    page.click("#settings-toggle")
    page.fill("#set-key", "wrong")
    page.click("#settings-form button[type=submit]")
    page.wait_for_function("document.getElementById('banner').textContent.includes('not valid')")

    page.click("#settings-toggle")
    page.fill("#set-key", KEY)
    page.click("#settings-form button[type=submit]")
    page.wait_for_function("document.getElementById('banner').textContent.includes('No worker')")
    page.wait_for_function("document.getElementById('history-message').textContent.includes('No jobs')")

    page.click("#nav-create")
    page.set_input_files("#video", str(skeleton_video))
    page.fill("#prompt", "a girl dancing on a mountain")
    page.click("#submit")
    page.wait_for_url(re.compile(r".*#/jobs/[0-9a-f]{32}$"))
    page.wait_for_selector("#job-status.status-queued")
    assert "Waiting for a worker" in page.text_content("#job-progress-text")
    assert page.evaluate("!document.getElementById('job-progress').hasAttribute('value')")  # indeterminate
    page.screenshot(path=str(artifacts_dir / "ui-job-queued-desktop.png"), full_page=True)

    page.click("#job-cancel")  # a queued job is canceled at once
    page.wait_for_selector("#job-status.status-canceled")
    page.click("#nav-history")
    page.wait_for_selector("li.card[data-status='canceled']")
