#!/usr/bin/env python
"""Benchmark gap filling on real motion: hide a limb joint for g sampled frames, repair, compare with the model.

    python bench/pose_repair.py [--track ../shared/data/tracks/dance_room_1080p30.coco17.npz] [--stride 5]
                                [--step 1] [--gaps 1,2,3,4,5,8,10,12] [--json FILE]

For every sampling phase, limb joint (elbows, wrists, knees, ankles) and gap start, one joint is hidden for g
consecutive sampled frames where the model saw it, the whole sampled track is repaired, and each hidden frame that
the repair filled is compared with what the model saw there, in torso heights (mid-shoulders to mid-hips).
Prints, per gap length and per joint, the fraction of hidden frames filled and the p50 / p90 / max error, for the
previous repair (linear in time, gaps up to 10 filled, 2 frames held) and for today's defaults (RepairOptions()).
The roots (nose, shoulders, hips: no parent, filled linearly) are measured too. Not a test (the test holding the
repair to its target is tests/pose/test_repair_real.py); ``--step 3`` runs in about a minute.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "backend"))

import numpy as np  # noqa: E402

from text2video.pose.parts import BODY_NAMES, L_HIP, L_SHOULDER, NOSE, R_HIP, R_SHOULDER  # noqa: E402
from text2video.pose.repair import RepairOptions  # noqa: E402
from text2video.pose.repair_eval import LIMB_JOINTS, run_trials, summarise  # noqa: E402

DEFAULT_TRACK = ROOT.parent / "shared" / "data" / "tracks" / "dance_room_1080p30.coco17.npz"
ROOTS = (NOSE, L_SHOULDER, R_SHOULDER, L_HIP, R_HIP)
METHODS = {
    "previous (linear, max_gap 10, hold 2)": RepairOptions(fill="linear", max_gap=10, hold=2),
    "now (RepairOptions() defaults)": RepairOptions(),
}


def table(title: str, rows: dict, label) -> None:
    print(f"  {title:<14} {'trials':>7} {'filled':>7} {'p50':>6} {'p90':>6} {'max':>6}")
    for key, r in rows.items():
        print(f"  {label(key):<14} {r['trials']:>7} {r['filled']:>7.0%} {r['p50']:>6.3f} {r['p90']:>6.3f} "
              f"{r['max']:>6.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--track", type=Path, default=DEFAULT_TRACK)
    parser.add_argument("--stride", type=int, default=5, help="the product's sampling stride (default 5)")
    parser.add_argument("--step", type=int, default=1, help="spacing of the gap starts (1 = every sampled frame)")
    parser.add_argument("--gaps", default="1,2,3,4,5,8,10,12", help="gap lengths in sampled frames")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if not args.track.is_file():
        print(f"track {args.track} is absent: nothing to measure (see ../shared/data/tracks/README.md)")
        return 1
    data = np.load(args.track)
    gaps = tuple(int(g) for g in args.gaps.split(","))
    fps, height = float(data["fps"]), float(data["height"])
    print(f"{args.track.name}: {len(data['xy'])} frames at {fps:g} fps, sampled every {args.stride} "
          f"({fps / args.stride:.3g} fps); errors in torso heights")
    result = {}
    for name, options in METHODS.items():
        for group, joints in (("limbs", LIMB_JOINTS), ("roots", ROOTS)):
            trials = run_trials(data["xy"], data["score"], fps=fps, stride=args.stride, gaps=gaps, joints=joints,
                                options=options, step=args.step, scale=height)
            filled_gaps = [t for t in trials if t.gap <= options.max_gap]  # per joint: the gaps meant to be filled
            per_gap, per_joint = summarise(trials), summarise(filled_gaps, "joint")
            result[f"{name} | {group}"] = {"per_gap": per_gap, "per_joint": per_joint}
            print(f"\n{name}, {group}")
            table("gap (frames)", per_gap, str)
            table(f"gaps <= {options.max_gap}", per_joint, lambda j: BODY_NAMES[j])
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
