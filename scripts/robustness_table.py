"""The robustness ablation table: kinds down, checkpoints across, from ``isegan eval
--robustness`` metrics.json files (several, e.g. with and without --canonicalise).

    python scripts/robustness_table.py EVAL/metrics.json [EVAL2/metrics.json ...] \
        [--runs RUNS_DIR]

Prints markdown: FSIM of the photo per kind with the raw sketch's FSIM, then rank-1
(photo, and the rendered sketch in parentheses), then P_s agreement with the clean
sketch's; a checkpoint evaluated with canonicalisation is labelled "+ canon.". With
--runs, the median augmentation seconds per step of each run's losses.jsonl too.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

from isegan.training.robustness.renderings import KIND_NAMES


def columns(paths: list[Path]) -> dict[str, dict[str, Any]]:
    """Label -> that checkpoint's robustness table, in the order given."""
    found: dict[str, dict[str, Any]] = {}
    for path in paths:
        for name, entry in json.loads(path.read_text())["results"].items():
            if isinstance(entry, dict) and "robustness" in entry:
                label = name + (" + canon." if entry.get("canonicalise") else "")
                found[label] = entry["robustness"]
    return found


def table(found: dict[str, dict[str, Any]], metric: str, title: str, sketch: bool) -> list[str]:
    labels = list(found)
    present = set(next(iter(found.values())))
    kinds = [k for k in ("clean", *KIND_NAMES) if k in present]
    head = ["kind", *labels] + (["raw sketch"] if sketch else [])
    lines = [f"**{title}**", "", "| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for kind in kinds:
        cells = []
        for label in labels:
            value = found[label][kind]
            cells.append(_value(value, metric))
        if sketch:
            cells.append(_value(found[labels[0]][kind], metric, "sketch"))
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _value(entry: dict[str, Any], metric: str, side: str = "photo") -> str:
    if metric == "p_s_miou_vs_clean":
        return f"{entry[metric]:.3f}"
    value = entry[side][metric]
    return "n/c" if value is None else f"{value:.4f}" if metric == "fsim" else f"{value:.3f}"


def augment_cost(runs: Path) -> list[str]:
    lines = ["**Augmentation cost** (median seconds per step, from losses.jsonl)", "",
             "| run | augment s | step s | share |", "|---|---|---|---|"]  # fmt: skip
    for log in sorted(runs.glob("*/losses.jsonl")):
        records = [json.loads(line) for line in log.read_text().splitlines()]
        steps = statistics.median(r["step_seconds"] for r in records)
        augment = [r["augment_seconds"] for r in records if "augment_seconds" in r]
        if augment:
            median = statistics.median(augment)
            lines.append(
                f"| {log.parent.name} | {median:.3f} | {steps:.2f} | {median / steps:.1%} |"
            )
        else:
            lines.append(f"| {log.parent.name} | - | {steps:.2f} | - |")
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("metrics", type=Path, nargs="+")
    parser.add_argument("--runs", type=Path)
    args = parser.parse_args()
    found = columns(args.metrics)
    lines = table(found, "fsim", "FSIM to the real photo (last column: the rendered sketch)", True)
    lines += table(found, "rank1", "rank-1 of the photo (last column: the rendered sketch)", True)
    lines += table(
        found, "p_s_miou_vs_clean", "P_s agreement with the clean sketch's (mIoU)", False
    )
    if args.runs is not None:
        lines += augment_cost(args.runs)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
