"""Serving cost of generator checkpoints against a baseline, in one process.

Each checkpoint runs the whole pipeline (parser, G1, G2, pre- and post-processing) with
the service's default inference options on the same test sketches. The checkpoints take
turns, round after round, so that a machine that slows down part-way costs every one of
them alike; the figure that matters is each one's cost as a ratio of the first's.

    python benchmarks/compare_models.py --data ../shared/data/cufs \
        old=old-generator.safetensors new=model/pretrained/generator.safetensors
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from PIL import Image

from isegan.cli.arguments import labelled_path
from isegan.model.inference_options import InferenceOptions
from isegan.model.pipeline import FacePipeline
from isegan.model.weights.pretrained import default_parser_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "checkpoints", nargs="+", type=labelled_path, help="LABEL=PATH; first is the baseline"
    )
    parser.add_argument("--data", type=Path, required=True, help="pair folder with test.txt")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    parser_path = default_parser_path()
    if parser_path is None:
        raise SystemExit("no bundled parser installed")
    ids = (args.data / "test.txt").read_text().split()
    picks = ids[:: max(1, len(ids) // args.batch_size)][: args.batch_size]
    sketches = [Image.open(args.data / "sketches" / f"{i}.png").convert("RGB") for i in picks]
    pipelines = {
        label: FacePipeline.from_files(path, parser_path, device="cpu", options=InferenceOptions())
        for label, path in args.checkpoints
    }
    for pipeline in pipelines.values():  # warm-up: first calls pay for allocation
        pipeline(sketches)
        pipeline(sketches)
    seconds: dict[str, list[float]] = {label: [] for label in pipelines}
    for _ in range(args.rounds):
        for label, pipeline in pipelines.items():
            start = time.perf_counter()
            pipeline(sketches)
            seconds[label].append(time.perf_counter() - start)
    baseline = statistics.median(seconds[args.checkpoints[0][0]])
    report = {
        label: {
            "median_batch_seconds": round(statistics.median(times), 4),
            "images_per_second": round(len(sketches) / statistics.median(times), 2),
            "cost_vs_baseline": round(statistics.median(times) / baseline, 3),
        }
        for label, times in seconds.items()
    }
    print(
        json.dumps(
            {
                "batch_size": len(sketches),
                "rounds": args.rounds,
                "threads": torch.get_num_threads(),
                "results": report,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
