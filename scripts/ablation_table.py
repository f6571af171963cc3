"""The ablation table: one row per run of an ``isegan eval`` metrics.json, with the
median seconds per step from each run's losses.jsonl.

    python scripts/ablation_table.py runs/ablations/eval/metrics.json --runs runs/ablations
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

COLUMNS = (
    ("fsim", "FSIM", "{:.4f}"),
    ("ssim", "SSIM", "{:.4f}"),
    ("psnr", "PSNR", "{:.2f}"),
    ("identity.rank1", "rank-1", "{:.3f}"),
    ("identity.rank5", "rank-5", "{:.3f}"),
    ("identity.verification_rate", "verified@0.6", "{:.3f}"),
    ("identity.tar_at_far_1pct", "TAR@1%", "{:.3f}"),
    ("identity.roc_auc", "AUC", "{:.3f}"),
    ("identity.mean_genuine_distance", "genuine", "{:.3f}"),
    ("nlda", "NLDA", "{:.1f}"),
    ("nlda_best", "NLDA best", "{:.1f}"),
    ("nlda_face", "NLDA face", "{:.1f}"),
    ("p_int_miou", "P_int mIoU", "{:.3f}"),
    ("backdrop.kind_agreement", "backdrop", "{:.3f}"),
    ("periodic_texture", "periodic", "{:.2f}"),
)


def _get(metrics: dict[str, Any], dotted: str) -> float | None:
    value: Any = metrics
    for part in dotted.split("."):
        if not isinstance(value, dict) or value.get(part) is None:
            return None
        value = value[part]
    return float(value)


def _seconds_per_step(run: Path) -> float | None:
    log = run / "losses.jsonl"
    if not log.is_file():
        return None
    times = [json.loads(line)["step_seconds"] for line in log.read_text().splitlines()[20:]]
    return statistics.median(times) if times else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("metrics", type=Path)
    parser.add_argument("--runs", type=Path, help="folder holding the runs (for s/step)")
    parser.add_argument("--stage1", action="store_true", help="also a row for each Y1")
    args = parser.parse_args()
    results = json.loads(args.metrics.read_text())["results"]
    for name, entry in list(results.items()):
        if args.stage1 and isinstance(entry, dict) and entry.get("stage1"):
            results[f"{name} (Y1)"] = {"final": entry["stage1"]}
    header = ["run", *[label for _, label, _ in COLUMNS], "s/step"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for name, entry in results.items():
        if name == "calibration":
            continue
        metrics = entry["final"]
        cells = []
        for key, _, form in COLUMNS:
            value = _get(metrics, key)
            cells.append("–" if value is None else form.format(value))
        speed = _seconds_per_step(args.runs / name) if args.runs else None
        cells.append("–" if speed is None else f"{speed:.2f}")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
