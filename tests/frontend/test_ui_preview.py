"""The live preview on the job page (headless Chromium, ``manage.py serve``, demo weights): it animates while the
video is denoised, changes from step to step, and gives way to the result at the end."""

from __future__ import annotations

import pytest

from tests.frontend.test_ui_flow import fill_job, submit_job

pytestmark = pytest.mark.browser

PREVIEW = "img#job-preview"


def shown_preview(page, after_step: int = 0) -> dict:
    """Wait until the page shows a preview fetched after ``after_step``; what it shows."""
    page.wait_for_function("""after => { const img = document.querySelector('img#job-preview');
        return img && img.complete && img.naturalWidth > 0 && Number(img.dataset.step) > after; }""",
                           arg=after_step, timeout=60_000)
    return page.eval_on_selector(PREVIEW, """img => ({step: Number(img.dataset.step), src: img.src,
        width: img.naturalWidth, height: img.naturalHeight,
        caption: img.closest('figure').querySelector('figcaption').textContent})""")


def test_running_job_shows_the_preview_changing_then_the_result(new_page, live_ui, skeleton_video, artifacts_dir):
    page = new_page()
    # previews come every 5 steps, at most one a second: the job must run for some seconds to show several. 20 steps
    # at 128x128 took 1 s on a fast 2-core CPU (one preview, then the result); 100 steps take about 5 s there.
    fill_job(page, skeleton_video, "a robot dancing", steps="100", width="128", height="128")
    job_id = submit_job(page)

    first = shown_preview(page)
    assert (first["width"], first["height"]) == (32, 32)  # 1/4 of the output size, drawn large
    assert f"Step {first['step']}/100" in first["caption"] and "Live preview" in first["caption"], first
    pixels_first = page.locator(PREVIEW).screenshot()
    page.screenshot(path=str(artifacts_dir / "ui-job-preview-1-desktop.png"), full_page=True)

    second = shown_preview(page, first["step"])
    assert second["step"] > first["step"] and second["src"] != first["src"], (first, second)
    assert f"Step {second['step']}/100" in second["caption"]
    assert page.locator(PREVIEW).screenshot() != pixels_first  # another picture, not just another URL
    page.screenshot(path=str(artifacts_dir / "ui-job-preview-2-desktop.png"), full_page=True)

    page.wait_for_selector("#job-status.status-succeeded", timeout=90_000)
    page.wait_for_selector("video[data-file='result.mp4']")
    assert page.locator(PREVIEW).count() == 0  # the result took its place
    live_ui.api("DELETE", f"/api/v1/jobs/{job_id}")
