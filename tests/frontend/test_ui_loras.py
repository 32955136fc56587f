"""The style picker in Advanced options: hidden without LoRAs; with them, choose one and a weight, the job runs
with it on the real worker."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.frontend.test_ui_flow import fill_job, submit_job
from tests.lora_files import write_demo_wan_lora, write_lora

pytestmark = pytest.mark.browser


@pytest.fixture
def installed_lora(live_ui):
    """A kohya LoRA in the live service's (demo) models folder for this test only."""
    folder = Path(os.environ["TEXT2VIDEO_DEMO_MODELS_DIR"]) / "loras"
    path = write_lora(folder / "ink.safetensors", "kohya")
    wan = write_demo_wan_lora(folder / "wan-style.safetensors", "diffusers")  # fits Wan only: not offered here
    yield path
    path.unlink()
    wan.unlink()
    folder.rmdir()


def test_no_picker_without_loras(page, live_ui):
    page.click("#advanced > summary")
    assert live_ui.api("GET", "/api/v1/loras").json()["loras"] == []
    assert page.is_hidden("#field-loras")


def test_pick_a_lora_with_a_weight_and_the_job_uses_it(installed_lora, new_page, live_ui, skeleton_video,
                                                       artifacts_dir):
    page = new_page()
    fill_job(page, skeleton_video, "a robot dancing", frames="2")
    assert page.is_visible("#field-loras")
    # the Wan LoRA is installed but does not fit the form's (default) model: not offered
    assert page.eval_on_selector_all("#loras option", "o => o.map(x => x.value)") == ["", "ink"]
    page.select_option("#loras", "ink")
    page.fill("#lora-0-weight", "3")
    page.click("#submit")
    assert "between -2 and 2" in page.text_content("#loras-error")  # refused in the browser, as the server would
    page.fill("#lora-0-weight", "0.8")
    page.screenshot(path=str(artifacts_dir / "ui-loras-desktop.png"), full_page=True)
    job_id = submit_job(page)
    page.wait_for_selector("#job-status.status-succeeded", timeout=90_000)
    job = live_ui.api("GET", f"/api/v1/jobs/{job_id}").json()
    assert job["params"]["loras"] == [{"name": "ink", "weight": 0.8}]


def test_picker_speaks_vietnamese(installed_lora, new_page):
    page = new_page(locale="vi-VN")
    page.click("#advanced > summary")
    assert page.text_content("#field-loras legend") == "Phong cách (LoRA)"
    assert page.eval_on_selector("#loras option", "o => o.textContent") == "— không dùng —"
