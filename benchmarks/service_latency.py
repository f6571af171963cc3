"""Service latency, throughput and cost per stage against the in-process pipeline.

    .venv/bin/python benchmarks/service_latency.py --data ../shared/data/cufs [--requests 32]

First times the pipeline itself in this process, with the service's inference options,
on the same real test sketches: batch 1 (the latency floor) and the service's largest
batch; the faster of the two per sketch is the throughput floor (with measured batch
sizing the service may run either). Then starts the real service as its own process
(``isegan serve`` with its default settings: watermark, C2PA signing with the installation key, the
fsynced audit log), sends the sketches over real HTTP at each concurrency, and reports
p50/p95 latency and throughput as ratios to those floors, the median of each stage the
server reports in ``timings_ms`` at concurrency 1 (plus what lies outside the handler:
HTTP, the multipart upload, the JSON body), and the CPU time per request of the client
and of the server, so the load generator's own share of the cores is on the table.
``--env ISEGAN_WATERMARK=off`` (any ``ISEGAN_*`` setting) measures a variant.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import recorded
from isegan.model.pipeline import FacePipeline
from isegan.model.weights.pretrained import default_generator_path, default_parser_path
from isegan.service.client import wait_until_ready
from isegan.service.settings import ServiceSettings


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class Load:
    """What one concurrency level measured; times in seconds, CPU per request."""

    p50: float
    p95: float
    throughput: float
    client_cpu: float
    timings: list[dict[str, float]]  # every response's timings_ms
    server_cpu: float = 0.0


async def measure(url: str, sketches: list[bytes], concurrency: int, total: int) -> Load:
    """Send ``total`` requests, ``concurrency`` at a time."""
    latencies: list[float] = []
    timings: list[dict[str, float]] = []
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=300, limits=limits) as client:

        async def one(index: int) -> None:
            async with gate:
                started = time.perf_counter()
                response = await client.post(
                    url + "/synthesize",
                    files={"sketch": ("s.png", sketches[index % len(sketches)])},
                )
                response.raise_for_status()
                latencies.append(time.perf_counter() - started)
                timings.append(response.json()["timings_ms"])

        cpu_started, started = time.process_time(), time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(total)))
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return Load(
        statistics.median(latencies), percentile(latencies, 0.95), total / wall, cpu / total,
        timings,
    )  # fmt: skip


def process_cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pipeline_floors(
    settings: ServiceSettings, paths: list[Path], device: str
) -> tuple[float, float]:
    """Seconds per sketch of the in-process pipeline at batch 1 and at the service's
    largest batch, with the service's inference options."""
    pipeline = FacePipeline.from_files(
        settings.checkpoint, settings.parser, device=device, options=settings.inference_options()
    )
    images = [Image.open(path).convert("RGB") for path in paths]
    batch = settings.max_batch_size
    pipeline(images[:1])  # warm-up, both sizes
    pipeline((images * batch)[:batch])
    single = []
    for image in images * 2:
        started = time.perf_counter()
        pipeline([image])
        single.append(time.perf_counter() - started)
    batched = []
    for round_ in range(3):
        chunk = [images[(round_ + i) % len(images)] for i in range(batch)]
        started = time.perf_counter()
        pipeline(chunk)
        batched.append((time.perf_counter() - started) / batch)
    return statistics.median(single), statistics.median(batched)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="pair folder with test.txt")
    parser.add_argument("--checkpoint", type=Path, default=default_generator_path())
    parser.add_argument("--parser", type=Path, default=default_parser_path())
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--requests", type=int, default=32, help="requests per concurrency")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--max-batch-size", type=int, default=8)
    parser.add_argument(
        "--record",
        action="store_true",
        help="also append the tables, with machine, date and commit, to docs/performance.md",
    )
    parser.add_argument("--precision", default="auto", help="the service's precision setting")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="ISEGAN_NAME=VALUE",
        help="a setting for the service process (repeatable), e.g. ISEGAN_WATERMARK=off",
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
    )
    single, batched = pipeline_floors(settings, paths, args.device)

    with tempfile.TemporaryDirectory() as scratch:
        port = free_port()
        env = {
            **os.environ,
            "ISEGAN_DEVICE": args.device,
            "ISEGAN_MAX_BATCH_SIZE": str(args.max_batch_size),
            "ISEGAN_PRECISION": args.precision,
            "ISEGAN_QUEUE_SIZE": str(max(64, max(args.concurrency) * 2)),
            "ISEGAN_AUDIT_LOG": str(Path(scratch) / "audit.jsonl"),
            "ISEGAN_DATA_DIR": str(Path(scratch) / "installation"),
            **dict(item.split("=", 1) for item in args.env),
        }
        command = [
            sys.executable, "-m", "isegan.cli.main", "serve", "--port", str(port),
            "--checkpoint", str(args.checkpoint), "--parser", str(args.parser),
        ]  # fmt: skip
        log = open(Path(scratch) / "server.log", "w")  # noqa: SIM115 - closed below
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_ready(
                url,
                alive=lambda: server.poll() is None,
                timeout=300,
                why_not=lambda: (Path(scratch) / "server.log").read_text()[-2000:],
            )
            asyncio.run(measure(url, sketch_bytes, 1, 4))  # warm-up over HTTP
            rows = []
            for concurrency in args.concurrency:
                server_cpu = process_cpu_seconds(server.pid)
                row = asyncio.run(measure(url, sketch_bytes, concurrency, args.requests))
                row.server_cpu = (process_cpu_seconds(server.pid) - server_cpu) / args.requests
                rows.append((concurrency, row))
        finally:
            server.terminate()
            server.wait(60)
            log.close()

    with recorded("The REST service against the in-process pipeline", args.record):
        report(args, single, batched, rows)


def report(args: argparse.Namespace, single: float, batched: float, rows: list[Any]) -> None:
    floor = min(single, batched)
    print(
        f"in-process pipeline: batch 1 {single * 1000:.1f} ms per sketch; batch "
        f"{args.max_batch_size} {batched * 1000:.1f} ms per sketch ({1 / batched:.2f} "
        f"sketches/s); device {args.device}; {args.requests} requests per concurrency; "
        f"service settings {' '.join(args.env) or 'as served by default'}"
    )
    print()
    print(
        "| concurrency | p50 ms | p95 ms | sketches/s | p50 / pipeline batch 1 | "
        "throughput / best pipeline batch | client CPU ms/request | "
        "server CPU ms/request |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for concurrency, row in rows:
        print(
            f"| {concurrency} | {row.p50 * 1000:.1f} | {row.p95 * 1000:.1f} | "
            f"{row.throughput:.2f} | {row.p50 / single:.2f} | {row.throughput * floor:.2f} | "
            f"{row.client_cpu * 1000:.1f} | {row.server_cpu * 1000:.1f} |"
        )
    first = next((row for concurrency, row in rows if concurrency == 1), None)
    if first is None:
        return
    stages = [name for name in first.timings[0] if name != "total"]
    medians = {name: statistics.median(t.get(name, 0.0) for t in first.timings) for name in stages}
    p50_ms = first.p50 * 1000
    outside = p50_ms - statistics.median(t["total"] for t in first.timings)
    print()
    print("Concurrency 1, median per stage (the server's timings_ms):")
    print()
    print("| stage | ms | of the client's p50 |")
    print("|---|---|---|")
    for name in stages:
        print(f"| {name} | {medians[name]:.2f} | {medians[name] / p50_ms:.0%} |")
    print(f"| outside the handler (HTTP, JSON) | {outside:.2f} | {outside / p50_ms:.0%} |")
    print(f"| client p50 | {p50_ms:.2f} | 100% |")


if __name__ == "__main__":
    main()
