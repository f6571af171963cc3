"""What a second OpenMP team costs the pipeline: why the service runs all torch work on
one thread.

    .venv/bin/python benchmarks/thread_teams.py --data ../shared/data/cufs [--rounds 4]

torch's CPU operators run their parallel regions with OpenMP (GNU libgomp in the PyPI
wheels), and every thread that starts one keeps a team of pool threads for later. While
the teams' threads together outnumber the cores, libgomp lets idle threads spin only a
few iterations before they sleep, so each operator pays a wake-up. The script loads the
service's pipeline on one thread and times it at batch 1 on the real test sketches,
alternating two conditions in each round so the machine's drift falls on both:

- alone: no other thread has ever started a parallel region (the service now);
- beside an idle team: another thread has run one parallel operator and is still alive,
  as the service's thread-pool threads were after watermarking a photo.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from isegan.model.pipeline import FacePipeline
from isegan.model.weights.pretrained import default_generator_path, default_parser_path
from isegan.service.settings import ServiceSettings


class IdleTeam:
    """A live thread that has run one parallel region, so its OpenMP team exists."""

    def __init__(self) -> None:
        self._release = threading.Event()
        started = threading.Event()

        def hold() -> None:
            torch.ones(1 << 22).mul_(2)  # large enough to be split across threads
            started.set()
            self._release.wait()

        self._thread = threading.Thread(target=hold, name="idle-team")
        self._thread.start()
        started.wait()

    def close(self) -> None:
        """End the thread: libgomp frees its team when the thread exits."""
        self._release.set()
        self._thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="pair folder with test.txt")
    parser.add_argument("--count", type=int, default=8, help="test sketches per condition")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    ids = (args.data / "test.txt").read_text().split()[: args.count]
    sketches = [Image.open(args.data / "sketches" / f"{i}.png").convert("RGB") for i in ids]
    options = ServiceSettings().inference_options()

    def load() -> FacePipeline:
        pipeline = FacePipeline.from_files(
            default_generator_path(), default_parser_path(), device="cpu", options=options
        )
        pipeline(sketches[:1])
        return pipeline

    # One long-lived thread runs all torch work, the way the service's worker does.
    compute = ThreadPoolExecutor(max_workers=1, thread_name_prefix="compute")
    pipeline = compute.submit(load).result()

    def median_ms() -> float:
        times = []
        for sketch in sketches:
            started = time.perf_counter()
            pipeline([sketch])
            times.append(time.perf_counter() - started)
        return statistics.median(times) * 1000

    alone, beside = [], []
    for _ in range(args.rounds):
        alone.append(compute.submit(median_ms).result())
        team = IdleTeam()
        try:
            beside.append(compute.submit(median_ms).result())
        finally:
            team.close()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; pipeline at batch 1,")
    print(f"median ms per sketch over {len(sketches)} test sketches, per round:\n")
    print("| round | alone | beside an idle team | ratio |")
    print("|---|---|---|---|")
    for index, (a, b) in enumerate(zip(alone, beside, strict=True), 1):
        print(f"| {index} | {a:.1f} | {b:.1f} | {b / a:.2f} |")
    a, b = statistics.median(alone), statistics.median(beside)
    print(f"| median | {a:.1f} | {b:.1f} | **{b / a:.2f}** |")
    compute.shutdown()


if __name__ == "__main__":
    main()
