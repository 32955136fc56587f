"""bench/gpu_check.py's dry run (CPU, tiny sizes): every part runs its real code path, or is skipped with a reason,
so the script is known to work before a GPU is lent; a part over its limit is killed and the check goes on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "gpu_check.py"
PARTS = ["env", "pytest-gpu", "fyp-eager", "preview", "wan-vace", "fyp-compiled"]  # the list, in run order


def run_check(tmp_path: Path, *args: str, timeout: float = 400) -> tuple[subprocess.CompletedProcess, dict]:
    out = tmp_path / "check.json"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--dry-run", "--out", str(out), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc, json.loads(out.read_text())


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    return run_check(tmp_path_factory.mktemp("gpu-check"))


def by_part(report: dict) -> dict:
    return {part["part"]: part for part in report["parts"]}


def test_every_part_ran_or_was_skipped_with_a_reason(dry_run):
    proc, report = dry_run
    assert report["dry_run"] is True and [p["part"] for p in report["parts"]] == PARTS
    for part in report["parts"]:
        assert part["status"] in ("ok", "skipped"), part
        if part["status"] == "skipped":
            assert part["reason"], part
        else:
            assert part["results"] and all(row.get("summary") for row in part["results"]), part
        assert part["part"] in proc.stdout  # the table has a line for it
    assert "DRY RUN" in proc.stdout


def test_fyp_parts_measure_both_frame_counts_and_every_preset(dry_run):
    parts = by_part(dry_run[1])
    eager = parts["fyp-eager"]["results"]
    assert [row["frames"] for row in eager] == [2, 3]  # the dry run's stand-ins for 8 and 24
    for row in eager:
        assert row["seconds_per_step"] > 0 and row["tflop_per_step"] > 0 and row["video_50_steps_s"] > 0
        assert set(row["presets"]) == {"high", "medium", "low"}
        assert all(p["step_s"] > 0 and p["unet_peak_gb"] > 0 for p in row["presets"].values())
        # the product's apply_preset switched the UNet's savers as each preset says
        assert "unet.set_attention_slice(16)" in row["presets"]["medium"]["applied"]
        assert "unet.enable_forward_chunking(512)" in row["presets"]["low"]["applied"]
        assert row["presets"]["high"]["applied"] == ["unet.set_attention_slice(None)"]
    compiled = parts["fyp-compiled"]["results"][0]
    assert compiled["compile_first_call_s"] > 0 and compiled["compiled_seconds_per_step"] > 0
    assert compiled["video_50_steps_s"]["compiled_first_video"] > compiled["video_50_steps_s"]["compiled"]


def test_wan_preview_pytest_and_env_report_their_figures(dry_run):
    parts = by_part(dry_run[1])
    wan = parts["wan-vace"]["results"][0]
    assert wan["step_s"] > 0 and wan["fbc_first_step_s"] > 0 and wan["fbc_reuse_step_s"] > 0
    assert wan["params"] > 0 and "diffusers" in wan["model_source"]
    preview = parts["preview"]["results"][0]
    assert preview["preview_s"] > 0 and 0 < preview["overhead_per_step"]["every_5_steps"]
    counts = parts["pytest-gpu"]["results"][0]
    assert counts["tests"] >= 1
    assert counts["passed"] + counts["failed"] + counts["errors"] + counts["skipped"] == counts["tests"]
    env = parts["env"]["results"][0]
    assert env["torch"] and env["torch_pinned"] and env["diffusers"]


def test_a_part_over_its_limit_is_killed_and_the_next_part_still_runs(tmp_path):
    _, report = run_check(tmp_path, "--parts", "wan-vace,env", "--limit", "wan-vace=1")
    parts = by_part(report)
    assert parts["wan-vace"]["status"] == "skipped"
    assert "timed out after 1 s" in parts["wan-vace"]["reason"]
    assert parts["env"]["status"] == "ok"


def test_a_part_is_not_started_when_the_budget_is_spent(tmp_path):
    _, report = run_check(tmp_path, "--parts", "env", "--budget", "10")
    part = report["parts"][0]
    assert part["status"] == "skipped" and "budget spent" in part["reason"]


def test_bad_limit_names_the_option_and_the_parts(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPT), "--dry-run", "--limit", "nope=3"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "--limit 'nope=3'" in proc.stderr and "fyp-compiled" in proc.stderr
