"""Service latency and throughput against the in-process pipeline on the same machine.

    .venv/bin/python benchmarks/service_latency.py --data ../shared/data/cufs [--requests 32]

Starts the real service (uvicorn, real HTTP on localhost) with the given model, sends
real test sketches at concurrency 1, 4 and 16, and reports p50/p95 latency and
throughput next to the pipeline's own time per sketch (batch 1, same process, same
sketches). The overhead ratio is service p50 at concurrency 1 / pipeline time per
sketch: what HTTP, decoding, encoding, provenance and the audit log add.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from isegan.model.pipeline import FacePipeline
from isegan.model.pretrained import default_generator_path, default_parser_path
from isegan.provenance.credentials import generate_dev_chain
from isegan.service.settings import ServiceSettings
from tests.service.server import running_server


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(
    url: str, sketches: list[bytes], concurrency: int, total: int
) -> dict[str, float]:
    latencies: list[float] = []
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(timeout=300) as client:

        async def one(index: int) -> None:
            async with gate:
                started = time.perf_counter()
                response = await client.post(
                    url + "/synthesize",
                    files={"sketch": ("s.png", sketches[index % len(sketches)])},
                )
                response.raise_for_status()
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(total)))
        wall = time.perf_counter() - started
    return {
        "p50": statistics.median(latencies),
        "p95": percentile(latencies, 0.95),
        "throughput": total / wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="pair folder with test.txt")
    parser.add_argument("--checkpoint", type=Path, default=default_generator_path())
    parser.add_argument("--parser", type=Path, default=default_parser_path())
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--requests", type=int, default=32, help="requests per concurrency")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--max-batch-size", type=int, default=8)
    parser.add_argument("--precision", default="auto", help="the service's precision setting")
    parser.add_argument(
        "--sign",
        action="store_true",
        help="also measure concurrency 1 with C2PA signing on (a throwaway dev key)",
    )
    args = parser.parse_args()

    ids = (args.data / "test.txt").read_text().split()[:8]
    paths = [args.data / "sketches" / f"{name}.png" for name in ids]
    sketch_bytes = [path.read_bytes() for path in paths]

    settings = ServiceSettings(
        checkpoint=args.checkpoint,
        parser=args.parser,
        device=args.device,
        max_batch_size=args.max_batch_size,
        precision=args.precision,
        queue_size=max(64, max(args.concurrency) * 2),
    )
    # The baseline runs exactly as the service will: the same inference options.
    pipeline = FacePipeline.from_files(
        args.checkpoint, args.parser, device=args.device, options=settings.inference_options()
    )
    images = [Image.open(path).convert("RGB") for path in paths]
    pipeline(images[:1])  # warm-up
    per_sketch = []
    for image in images * 2:
        started = time.perf_counter()
        pipeline([image])
        per_sketch.append(time.perf_counter() - started)
    baseline = statistics.median(per_sketch)
    del pipeline

    with tempfile.TemporaryDirectory() as scratch:
        settings = settings.model_copy(update={"audit_log": Path(scratch) / "audit.jsonl"})
        with running_server(settings) as url:
            asyncio.run(measure(url, sketch_bytes, 1, 2))  # warm-up over HTTP
            rows = [
                (c, asyncio.run(measure(url, sketch_bytes, c, args.requests)))
                for c in args.concurrency
            ]
        signed = None
        if args.sign:
            keys = generate_dev_chain(Path(scratch) / "keys")
            signing = settings.model_copy(
                update={"c2pa_key": keys["key"], "c2pa_cert_chain": keys["chain"]}
            )
            with running_server(signing) as url:
                asyncio.run(measure(url, sketch_bytes, 1, 2))
                signed = asyncio.run(measure(url, sketch_bytes, 1, args.requests))
                stage_ms = [
                    httpx.post(url + "/synthesize", files={"sketch": sketch}, timeout=300).json()[
                        "timings_ms"
                    ]
                    for sketch in sketch_bytes
                ]
                signed["sign_ms"] = statistics.median(t["sign"] for t in stage_ms)
                signed["server_ms"] = statistics.median(t["total"] for t in stage_ms)

    print(
        f"in-process pipeline, batch 1: {baseline * 1000:.0f} ms per sketch "
        f"({1 / baseline:.2f} sketches/s); device {args.device}; {args.requests} requests each"
    )
    print()
    print("| concurrency | p50 ms | p95 ms | sketches/s | p50 / pipeline | throughput / pipeline |")
    print("|---|---|---|---|---|---|")
    for concurrency, row in rows:
        print(
            f"| {concurrency} | {row['p50'] * 1000:.0f} | {row['p95'] * 1000:.0f} | "
            f"{row['throughput']:.2f} | {row['p50'] / baseline:.2f} | "
            f"{row['throughput'] * baseline:.2f} |"
        )
    if signed is not None:
        unsigned = rows[0][1]["p50"] if rows and rows[0][0] == 1 else float("nan")
        print()
        print(
            f"C2PA signing on, concurrency 1: p50 {signed['p50'] * 1000:.0f} ms, "
            f"p95 {signed['p95'] * 1000:.0f} ms (unsigned p50 {unsigned * 1000:.0f} ms); "
            f"the server's own 'sign' stage: median {signed['sign_ms']:.1f} ms of "
            f"{signed['server_ms']:.0f} ms server time (photo and parsing map signed)"
        )


if __name__ == "__main__":
    main()
