"""The tables of one ``benchmarks/gpu.sh`` run, read from its output folder.

    .venv/bin/python benchmarks/gpu_report.py OUT_DIR [--record]

gpu.sh runs on a lent GPU machine, so its figures come back as files; this turns them
into the section of docs/performance.md (``--record``) rather than copying them by hand:
which steps ran and passed, ``isegan bench`` per path and batch size (paper-size and
bundled), and the training step's time and memory.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from benchmarks.common import append_section, section


def bench_table(result: dict[str, Any]) -> str:
    rows = [
        f"`isegan bench` ({result['model']}, {result['sketches']} sketches, "
        f"{result['gflop_per_image']:.1f} GFLOP per image, parse included):",
        "",
        "| path | batch | ms/image | p50 ms | images/s | speed-up over eager fp32 |",
        "|---|---|---|---|---|---|",
    ]
    for path in result["paths"]:
        rows.append(
            f"| {path['name']} | {path['batch_size']} | {path['ms_per_image']:.2f} | "
            f"{path['latency_p50_ms']:.2f} | {path['images_per_s']:.1f} | "
            f"{path['speedup']:.2f}x |"
        )
    return "\n".join(rows)


def train_table(result: dict[str, Any]) -> str:
    rows = [
        "Training step (`benchmarks/train_step.py`, the full preset, no identity losses):",
        "",
        "| ngf | batch | precision | s/step | images/s | peak MiB | 700 epochs of 168 pairs, h |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        rows.append(
            f"| {row['ngf']} | {row['batch_size']} | {row['precision']} | "
            f"{row['seconds_per_step']:.3f} | {row['images_per_second']:.1f} | "
            f"{row['peak_memory_mb']} | {row['projected_hours_700_epochs']} |"
        )
    return "\n".join(rows)


def report(folders: list[Path]) -> tuple[str, str]:
    """The device's description and the section's body, from one or more output folders
    of the same run (a lent machine's carry limit may split gpu.sh's steps over calls)."""
    device, parts, steps = "", [], []
    for folder in folders:
        if (folder / "device.txt").is_file():
            device = device or (folder / "device.txt").read_text().strip()
        if (folder / "steps.txt").is_file():
            steps += (folder / "steps.txt").read_text().split("\n")
        tests = folder / "tests.log"
        if tests.is_file() and tests.stat().st_size:
            parts.append(f"Tests: `{tests.read_text().strip().splitlines()[-1].strip('= ')}`.")
        for name in ("bench-paper.json", "bench-bundled.json"):
            if (folder / name).is_file() and (folder / name).stat().st_size:
                parts.append(bench_table(json.loads((folder / name).read_text())))
        if (folder / "train-step.json").is_file() and (folder / "train-step.json").stat().st_size:
            parts.append(train_table(json.loads((folder / "train-step.json").read_text())))
    ran = ", ".join(line.split()[0] for line in steps if "exit=0" in line)
    parts.insert(0, f"Steps that ran to the end: {ran}.")
    return device, "\n\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", type=Path, nargs="+", help="gpu.sh OUT_DIR(s)")
    parser.add_argument("--record", action="store_true", help="append to docs/performance.md")
    args = parser.parse_args(argv)
    device, body = report(args.folders)
    print(body)
    if args.record:
        append_section(section("benchmarks/gpu.sh on a lent GPU", body, machine_text=device))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
