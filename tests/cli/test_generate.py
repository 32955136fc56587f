"""`manage.py generate` end to end with --models demo, and every bad input: exit 2, one line, no partial file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.cli.helpers import manage
from tests.conftest import ROOT
from text2video.cli import main
from text2video.video import probe_video, read_frames

FAST = ["--steps", "2", "--frames", "3", "--stride", "2", "--width", "64", "--height", "64", "--dtype", "fp32",
        "--device", "cpu"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_generate_end_to_end_with_demo_models(demo_models, skeleton_video, tmp_path):
    out = tmp_path / "results" / "dance.mp4"
    proc = manage("generate", "--pose-video", str(skeleton_video), "--prompt", "an astronaut dancing",
                  "--out", str(out), "--models", "demo", "--seed", "5", "--scheduler", "dpm++", *FAST,
                  demo_dir=demo_models)
    assert proc.returncode == 0, proc.stderr
    assert "prompt used (English): an astronaut dancing" in proc.stdout
    assert "seed: 5" in proc.stdout
    assert "noise" in proc.stderr  # demo weights say so
    assert "Traceback" not in proc.stderr
    assert leftovers(out.parent) == ["dance.gif", "dance.mp4", "dance_side_by_side.mp4", "dance_skeleton.mp4"]
    info = probe_video(out)
    assert (info.width, info.height, info.codec) == (64, 64, "h264") and info.fps == pytest.approx(12.0)
    assert len(read_frames(out)) == 3
    assert read_frames(out.parent / "dance_side_by_side.mp4").shape == (3, 64, 128, 3)
    assert len(read_frames(out.parent / "dance_skeleton.mp4")) == 3


def test_bad_input_in_a_real_process_is_one_line(demo_models, tmp_path):
    out = tmp_path / "o.mp4"
    proc = manage("generate", "--pose-video", str(tmp_path / "missing.mp4"), "--prompt", "a man", "--out",
                  str(out), "--models", "demo", demo_dir=demo_models)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and proc.stderr.startswith("error: ")
    assert "missing.mp4" in proc.stderr
    assert leftovers(tmp_path) == []


def _bad_cases(tmp: Path, video: Path, demo: Path) -> dict[str, tuple[list[str], str]]:
    text_file = tmp / "notes.mp4"
    text_file.write_text("not a video at all")
    incomplete = tmp / "models"
    (incomplete / "stable-diffusion-v1-4").mkdir(parents=True)
    (incomplete / "stable-diffusion-v1-4" / "model_index.json").write_text("{}")
    cases = {
        "missing file": (["--pose-video", str(tmp / "nope.mp4")], "nope.mp4"),
        "not a video": (["--pose-video", str(text_file)], "notes.mp4"),
        "too few frames": (["--pose-video", str(video), "--frames", "40"], "40"),
        "size not multiple of 64": (["--pose-video", str(video), "--width", "100"], "100"),
        "steps <= 0": (["--pose-video", str(video), "--steps", "0"], "steps"),
        "incomplete models": (["--pose-video", str(video), "--models", str(incomplete)], "manage.py download"),
        "out not mp4": (["--pose-video", str(video), "--out", str(tmp / "out" / "x.avi")], "x.avi"),
        "preview not gif": (["--pose-video", str(video), "--preview", str(tmp / "out" / "p.png")], "p.png"),
        "a model name as --models": (["--pose-video", str(video), "--models", "follow-your-pose"],
                                     "Use --model follow-your-pose"),
        "a folder as --model": (["--pose-video", str(video), "--model", str(demo)], f"Use --models {demo}"),
        "an unknown model": (["--pose-video", str(video), "--model", "bogus"], "follow-your-pose"),
        "a photo for a model without the slot": (["--pose-video", str(video), "--reference-image", str(video)],
                                                 "reference_image is not an input of follow-your-pose"),
    }
    if not torch.cuda.is_available():
        cases["cuda without CUDA"] = (["--pose-video", str(video), "--device", "cuda"], "CUDA")
    return cases


@pytest.mark.parametrize("case", ["missing file", "not a video", "too few frames", "size not multiple of 64",
                                  "steps <= 0", "incomplete models", "out not mp4", "preview not gif",
                                  "cuda without CUDA", "a model name as --models", "a folder as --model",
                                  "an unknown model", "a photo for a model without the slot"])
def test_bad_input_exit_2_and_no_partial_file(demo_models, skeleton_video, tmp_path, capsys, case):
    cases = _bad_cases(tmp_path, skeleton_video, demo_models)
    if case not in cases:
        pytest.skip("this machine has CUDA")
    args, expected = cases[case]
    out_dir = tmp_path / "out"
    argv = ["generate", "--prompt", "a man dancing", "--out", str(out_dir / "x.mp4"), "--models", "demo",
            "--steps", "1", "--frames", "2", "--width", "64", "--height", "64", "--dtype", "fp32", *args]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2
    error_lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(error_lines) == 1 and expected in error_lines[0], err
    assert "Traceback" not in err
    assert "Upload" not in err and "upload" not in err, err  # a CLI user gives a path (issue 20 item 5)
    assert leftovers(out_dir) == []  # no output, no temporary folder


def test_preview_flag_writes_the_live_preview(demo_models, skeleton_video, tmp_path, capsys, monkeypatch):
    from PIL import Image

    monkeypatch.setenv("TEXT2VIDEO_PREVIEW_EVERY_STEPS", "1")
    monkeypatch.setenv("TEXT2VIDEO_PREVIEW_MIN_INTERVAL_S", "0")
    out, preview = tmp_path / "out" / "x.mp4", tmp_path / "watch" / "live.gif"
    code = main(["generate", "--pose-video", str(skeleton_video), "--prompt", "a man dancing", "--out", str(out),
                 "--models", "demo", "--preview", str(preview), "--no-progress", *FAST[2:], "--steps", "3"])
    assert code == 0 and f"wrote {preview}" in capsys.readouterr().out
    with Image.open(preview) as gif:  # the estimate after step 2 of 3, every frame at 1/4 size
        assert gif.n_frames == 3 and gif.size == (16, 16)
    assert leftovers(preview.parent) == ["live.gif"] and "x.mp4" in leftovers(out.parent)


def test_no_flag_abbreviations_so_model_is_never_models(skeleton_video, capsys):
    from text2video.cli import build_parser

    base = ["generate", "--video", str(skeleton_video), "--prompt", "p", "--out", "o.mp4"]
    args = build_parser().parse_args([*base, "--model", "follow-your-pose"])
    assert args.model == "follow-your-pose" and args.models != "follow-your-pose"
    with pytest.raises(SystemExit):  # argparse used to take a prefix such as --mod as --models
        build_parser().parse_args([*base, "--mod", "demo"])
    assert "unrecognized arguments: --mod" in capsys.readouterr().err


def test_long_video_flags_reach_the_request(skeleton_video):
    from text2video.cli import build_parser
    from text2video.cli.generate import build_request

    args = build_parser().parse_args(["generate", "--video", str(skeleton_video), "--prompt", "p", "--out", "o.mp4",
                                      "--window", "16", "--window-overlap", "4", "--no-anchor"])
    request = build_request(args)
    assert (request.window, request.window_overlap, request.anchor_first_frame) == (16, 4, False)
    args = build_parser().parse_args(["generate", "--video", str(skeleton_video), "--prompt", "p", "--out", "o.mp4"])
    assert build_request(args).anchor_first_frame is True


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs at least 2 CPUs and Linux process affinity")
def test_same_seed_same_bytes_from_processes_running_at_once(demo_models, skeleton_video, tmp_path):
    # Issue 13 item 5 across processes: two generations at once, one pinned to a single CPU (as `taskset` or a
    # container limit would), must write the same result file byte for byte.
    env = dict(os.environ, TEXT2VIDEO_DEMO_MODELS_DIR=str(demo_models), OMP_NUM_THREADS="1")
    one_cpu = {min(os.sched_getaffinity(0))}
    runs = []
    for name, pin in (("all-cpus", None), ("one-cpu", lambda: os.sched_setaffinity(0, one_cpu))):
        out = tmp_path / name / "dance.mp4"
        cmd = [sys.executable, str(ROOT / "manage.py"), "generate", "--pose-video", str(skeleton_video), "--prompt",
               "a dancer", "--out", str(out), "--models", "demo", "--seed", "11", *FAST, "--width", "128",
               "--height", "128"]
        runs.append((out, subprocess.Popen(cmd, env=env, cwd=ROOT, preexec_fn=pin, stdout=subprocess.PIPE,
                                           stderr=subprocess.PIPE, text=True)))
    for _, proc in runs:
        _, stderr = proc.communicate(timeout=240)
        assert proc.returncode == 0, stderr
    assert runs[0][0].read_bytes() == runs[1][0].read_bytes()


def test_compile_flag_is_a_cli_and_worker_option_not_a_request_field(skeleton_video):
    from text2video.cli import build_parser
    from text2video.cli import serve, worker

    base = ["generate", "--video", str(skeleton_video), "--prompt", "p", "--out", "o.mp4"]
    assert build_parser().parse_args(base).compile == "off"
    assert build_parser().parse_args([*base, "--compile"]).compile == "default"
    assert build_parser().parse_args([*base, "--compile", "max-autotune"]).compile == "max-autotune"
    with pytest.raises(SystemExit):
        build_parser().parse_args([*base, "--compile", "fastest"])
    assert worker.settings_from_args(build_parser().parse_args(["worker", "--compile"])).compile == "default"
    assert serve.settings_from_args(build_parser().parse_args(["serve", "--compile", "max-autotune"])).compile == \
        "max-autotune"
    assert serve.settings_from_args(build_parser().parse_args(["serve"])).compile == "off"


def test_generate_help_speaks_of_the_cli_not_the_http_api(capsys):
    """Issue 20 item 5: the help carried POST /generate's 1/0, GET /api/v1/loras and "server default", and
    --no-anchor's help described what the flag turns off as if it turned it on."""
    with pytest.raises(SystemExit):
        main(["generate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for api_only in ("POST /generate", "GET /api/v1/loras", "server default", "JSON:", "a form:"):
        assert api_only not in text, api_only
    anchor = text.split("--no-anchor ", 2)[-1].split(" --")[0]
    assert anchor.startswith("Long videos: windows do NOT attend to the video's first frame"), anchor
    assert "manage.py loras" in text
