"""bench/wan_step.py and bench/wan_memory.py: the meta-built Wan transformer runs like one built the usual way, and
the memory tables are the presets' own figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))


def test_the_meta_built_transformer_has_real_rotary_tables_and_runs():
    """to_empty leaves non-persistent buffers blank: the bench must rebuild the rotary tables, or every step would
    run on garbage while timing fine."""
    import torch
    from diffusers import WanVACETransformer3DModel
    from gpu_check import WAN_DRY, _wan_inputs, _wan_step
    from wan_step import build_transformer

    model = build_transformer(WAN_DRY["config"], "cpu", torch.float32)
    usual = WanVACETransformer3DModel(**WAN_DRY["config"])
    assert torch.equal(model.rope.freqs_cos, usual.rope.freqs_cos)
    assert torch.equal(model.rope.freqs_sin, usual.rope.freqs_sin)
    with torch.inference_mode():
        out = _wan_step(model, _wan_inputs(WAN_DRY, "cpu", torch.float32))(model)
    assert out.shape == (1, 16, 2, 4, 6) and torch.isfinite(out).all()


def test_wan_memory_prints_the_presets_estimates_and_auto_picks(tmp_path):
    from text2video.families.wan_vace import presets

    out = tmp_path / "memory.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "wan_memory.py"), "--parts", "estimates,auto",
                           "--json", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(out.read_text())
    row = next(r for r in result["estimates"] if r["model"] == "wan2.1-vace-14b" and r["size"] == "720p"
               and not r["photo"])
    assert row["low"] == presets.estimate_peak_gb("wan2.1-vace-14b", "low", 81, 1280, 720)
    assert "ESTIMATED" in proc.stdout
    picks = {(r["model"], r["size"], r["card_gb"]): r["preset"] for r in result["auto"]}
    assert len(picks) == 2 * 2 * 6 and set(picks.values()) <= {"high", "medium", "low"}
