"""The job page draws the pose report as a picture: one row per part, runs coloured by status, frame ranges."""

from __future__ import annotations

from tests.frontend.test_ui_flow import fill_job, submit_job


def _runs(status: str) -> list[tuple[str, int, int]]:
    runs: list[tuple[str, int, int]] = []
    for i, letter in enumerate(status):
        if runs and runs[-1][0] == letter:
            runs[-1] = (letter, runs[-1][1], i)
        else:
            runs.append((letter, i, i))
    return runs


def test_pose_chart_rows_match_keypoints_json(new_page, live_ui, skeleton_video, artifacts_dir):
    page = new_page(locale="vi-VN")
    fill_job(page, skeleton_video, "Cô gái nhảy trên núi")
    page.select_option("#input_type", "video")  # read as a filmed person: the demo pose models find its limbs
    job_id = submit_job(page)
    page.wait_for_selector("#job-status.status-succeeded", timeout=90_000)
    page.wait_for_selector("#pose-chart .pose-chart-row", timeout=15_000)
    job = live_ui.api("GET", f"/api/v1/jobs/{job_id}").json()
    timeline = live_ui.api("GET", job["files"]["keypoints.json"]).json()["part_status"]
    rows = page.eval_on_selector_all("#pose-chart .pose-chart-row", """rows => rows.map(r => ({
        part: r.dataset.part, label: r.querySelector('.pose-chart-label').textContent,
        runs: [...r.querySelectorAll('.pose-run')].map(s => [s.dataset.status, +s.dataset.start, +s.dataset.end]),
        title: r.querySelector('.pose-run').title}))""")
    assert [r["part"] for r in rows] == [r["part"] for r in timeline["rows"]]
    assert [r["label"] for r in rows][:3] == ["Đầu", "Tay trái", "Tay phải"]  # the report's part names, in Vietnamese
    for shown, row in zip(rows, timeline["rows"]):
        assert [tuple(r) for r in shown["runs"]] == _runs(row["status"])
        first = _runs(row["status"])[0]
        assert shown["title"].startswith(shown["label"] + ": ") and f"khung {first[1]}" in shown["title"]
    page.click("#pose-chart .pose-run")  # a tap shows what the hover title says
    assert page.text_content(".pose-chart-readout") == rows[0]["title"]
    page.screenshot(path=str(artifacts_dir / "ui-vi-pose-chart.png"), full_page=True)
    live_ui.api("DELETE", f"/api/v1/jobs/{job_id}")
