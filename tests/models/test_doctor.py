"""`manage.py doctor` on this machine (run as a subprocess, as a user would)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


from text2video.doctor import FAIL, OK, WARN, cpu_bf16, run_checks
from text2video.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def doctor(*args, env=None):
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("TEXT2VIDEO_")}, **(env or {})}
    return subprocess.run([sys.executable, str(ROOT / "manage.py"), "doctor", *args], env=env, capture_output=True,
                          text=True, timeout=120)


def _cpu_has_bf16() -> bool:
    flags = next((line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")), "")
    return "avx512_bf16" in flags.split() or "amx_bf16" in flags.split()


def test_ready_machine_with_complete_models_exits_0_json(downloaded, tmp_path):
    import torch

    done = doctor("--models", str(downloaded), "--json", "--verify", env={"TEXT2VIDEO_DATA_DIR": str(tmp_path)})
    report = json.loads(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr
    assert report["ok"] is True
    checks = {c["name"]: c for c in report["checks"]}
    for name in ("python", "torch", "bf16", "pyav", "onnxruntime", "models:diffusion", "models:prompt",
                 "models:pose", "models:hashes", "database", "broker", "disk:data", "preset"):
        assert name in checks, name
    assert checks["models:pose"]["status"] == OK and "pinned" in checks["models:pose"]["detail"]
    assert checks["models:hashes"]["status"] == OK
    assert checks["pyav"]["status"] == OK and "libx264" in checks["pyav"]["detail"]
    if not torch.cuda.is_available():  # this machine: CPU only
        assert checks["gpu"]["status"] == WARN and checks["gpu"]["fix"]
        assert report["gpus"] == []
        assert report["preset"]["name"] == "cpu"
        assert report["preset"]["dtype"] == ("bf16" if _cpu_has_bf16() else "fp32")
        assert checks["preset"]["status"] == WARN and "minutes per denoising step" in checks["preset"]["detail"]
    assert all(c["status"] in (OK, WARN) for c in report["checks"])


def test_missing_models_unreachable_broker_and_disk_floor_fail_with_fixes(tmp_path):
    empty = tmp_path / "models"
    empty.mkdir()
    done = doctor("--models", str(empty), env={
        "TEXT2VIDEO_DATA_DIR": str(tmp_path / "data"),
        "TEXT2VIDEO_BROKER_URL": "redis://127.0.0.1:1/0",  # nothing listens on port 1
        "TEXT2VIDEO_MIN_FREE_DISK_MB": str(10**9),  # a petabyte floor: never met
    })
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    lines = out.splitlines()
    assert lines[0].split() == ["STATUS", "CHECK", "DETAIL"] and lines[-1].startswith("NOT ready: 5 failure(s)")
    for part in ("diffusion", "prompt", "pose"):
        i = next(n for n, line in enumerate(lines) if line.startswith(f"FAIL    models:{part}"))
        assert f"fix: python manage.py download --models {empty} --only {part}" in lines[i + 1]
    assert any(line.startswith("FAIL    broker") and "PING" in line for line in lines)
    assert any(line.startswith("FAIL    disk:data") and "floor" in line for line in lines)
    assert out.count("fix:") >= 5


def test_demo_models_are_a_warning_not_a_failure(tmp_path):
    done = doctor("--models", "demo", env={"TEXT2VIDEO_DATA_DIR": str(tmp_path)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert any(line.startswith("WARN    models") and "noise" in line for line in done.stdout.splitlines())


def test_in_process_checks_name_settings_problems(tmp_path):
    missing_dir = tmp_path / "nope"
    s = Settings.load({"models_dir": missing_dir, "data_dir": tmp_path, "database_url": "postgresql+psycopg://"
                       "u:secret@127.0.0.1:1/db", "memory": "auto", "device": "cuda:3"})
    report = run_checks(s)
    checks = {c.name: c for c in report.checks}
    assert checks["models"].status == FAIL and str(missing_dir) in checks["models"].detail
    assert checks["database"].status == FAIL and "secret" not in checks["database"].detail  # password hidden
    assert checks["preset"].status == FAIL and "cuda:3" in checks["preset"].detail
    assert not report.ok and "NOT ready" in report.format()


def test_each_model_says_whether_its_weights_are_here(tmp_path):
    from tests.made_up_family import registered

    (tmp_path / "models" / "made-up-1b").mkdir(parents=True)
    with registered():
        report = run_checks(Settings.load({"models_dir": tmp_path / "models", "data_dir": tmp_path}))
    checks = {c.name: c for c in report.checks}
    assert checks["model:made-up-1b"].status == OK and report.facts["models_served"] == ["made-up-1b"]
    assert checks["model:made-up-9b"].status == WARN
    assert checks["model:made-up-9b"].fix == "python manage.py download --model made-up-9b"
    assert checks["model:follow-your-pose"].status == WARN


def test_download_of_a_model_is_its_declared_sources_and_the_shared_parts():
    from text2video.families import download_catalog
    from text2video.models import sources

    assert download_catalog("follow-your-pose") == sources.catalog()  # today's full download, file for file
    only_pose = download_catalog("follow-your-pose", parts=("pose",))
    assert {f.part for f in only_pose.hub} == {"diffusion", "pose"} and only_pose.zoo == sources.catalog(("pose",)).zoo


def test_cpu_bf16_reads_cpuinfo():
    native, flags = cpu_bf16()
    assert native == _cpu_has_bf16()
    assert (flags != "none") == native
