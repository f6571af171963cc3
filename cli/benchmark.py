"""Measuring inference: FLOPs, the machine's own matmul peak, latency and peak memory.

Used by ``isegan bench``; kept apart from the command line so the figures can be
computed from Python as well. Every figure is measured in the calling process, so a
speed-up is a ratio of two runs on the same machine under the same conditions.
"""

from __future__ import annotations

import contextlib
import resource
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")


def count_flops(function: Callable[[], object]) -> int:
    """Floating-point operations (a multiply-add counts 2) of one call, by torch's own
    counter of convolutions and matmuls (elementwise work is not counted)."""
    counter = FlopCounterMode(display=False)
    with counter:
        function()
    return int(counter.get_total_flops())


def matmul_peak(
    device: torch.device, dtype: torch.dtype, size: int = 2048, seconds: float = 1.0
) -> float:
    """The best GFLOP/s of square matmuls of ``dtype`` on ``device``: the practical
    ceiling the networks' convolutions are compared against."""
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    flops = 2 * size**3
    best = 0.0
    deadline = time.perf_counter() + seconds
    with torch.inference_mode():
        torch.mm(a, b)  # warm-up: kernel selection, page faults
        while time.perf_counter() < deadline:
            _synchronize(device)
            started = time.perf_counter()
            torch.mm(a, b)
            _synchronize(device)
            best = max(best, flops / (time.perf_counter() - started) / 1e9)
    return best


class PeakMemory:
    """Peak memory of a block: device memory on CUDA, else the process's resident set
    (Linux resets its high-water mark on request; elsewhere the figure is None)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.peak_mib: float | None = None

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        elif _CLEAR_REFS.exists():
            with contextlib.suppress(OSError):
                _CLEAR_REFS.write_text("5")  # reset VmHWM to the current RSS
        return self

    def __exit__(self, *_: object) -> None:
        if self.device.type == "cuda":
            self.peak_mib = torch.cuda.max_memory_allocated(self.device) / 2**20
            return
        if _STATUS.exists():
            for line in _STATUS.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    self.peak_mib = int(line.split()[1]) / 1024


@dataclass
class PathResult:
    """One inference path's figures. Latency is per call (one batch); throughput and
    GFLOP/s are per image."""

    name: str
    precision: str
    batch_size: int
    images_per_s: float
    latency_p50_ms: float
    latency_p95_ms: float
    ms_per_image: float
    gflops_per_s: float
    peak_fraction: float
    peak_memory_mib: float | None
    first_call_ms: float = 0.0
    speedup: float = 1.0
    #: Which runtime ran the parser and G1+G2 ("torch"; the default path may pick OpenVINO).
    backends: dict[str, str] = field(default_factory=dict)
    #: Median ms per image of each pipeline stage over the timed calls.
    stage_ms_per_image: dict[str, float] = field(default_factory=dict)
    #: The whole call's time over G1 + G2's (stage1 + stage2): what the pipeline costs
    #: beyond its generators.
    over_generators: float = 0.0
    #: Median minor page faults per timed call: a path that keeps faulting in fresh
    #: memory (eager fp32's allocator can take tens of thousands a call) is slowed by
    #: what ran before it, not by its arithmetic alone.
    minor_faults_per_call: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def minor_faults() -> int:
    """The process's minor page faults so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


@dataclass
class Contender:
    """One thing to time: a call, and what the rounds measured of it."""

    name: str
    call: Callable[[], object]
    first_s: float = 0.0
    seconds: list[float] = field(default_factory=list)
    faults: list[int] = field(default_factory=list)


def warm(contender: Contender, device: torch.device, calls: int) -> None:
    """``calls`` untimed calls (at least one); the first one's seconds are kept, since
    that is where compilation and first allocations happen."""
    started = time.perf_counter()
    contender.call()
    _synchronize(device)
    contender.first_s = time.perf_counter() - started
    for _ in range(calls - 1):
        contender.call()
    _synchronize(device)


def alternate(
    contenders: Sequence[Contender], device: torch.device, *, rounds: int, calls: int
) -> None:
    """Time every contender, all already warm, in ``rounds`` rounds of ``calls`` calls
    each, their order rotated every round, so that none is always the one that runs
    after a cold or a memory-hungry neighbour. Appends each call's seconds and faults."""
    for round_index in range(rounds):
        shift = round_index % len(contenders)
        for contender in [*contenders[shift:], *contenders[:shift]]:
            for _ in range(calls):
                faults = minor_faults()
                started = time.perf_counter()
                contender.call()
                _synchronize(device)
                contender.seconds.append(time.perf_counter() - started)
                contender.faults.append(minor_faults() - faults)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summarise(
    name: str,
    precision: str,
    batch_size: int,
    seconds: list[float],
    flops_per_image: int,
    peak_gflops: float,
    peak_memory_mib: float | None,
) -> PathResult:
    images_per_s = batch_size * len(seconds) / sum(seconds)
    achieved = flops_per_image * images_per_s / 1e9
    return PathResult(
        name=name,
        precision=precision,
        batch_size=batch_size,
        images_per_s=images_per_s,
        latency_p50_ms=statistics.median(seconds) * 1000,
        latency_p95_ms=percentile(seconds, 0.95) * 1000,
        ms_per_image=1000 / images_per_s,
        gflops_per_s=achieved,
        peak_fraction=achieved / peak_gflops if peak_gflops else 0.0,
        peak_memory_mib=peak_memory_mib,
    )


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def stage_breakdown(
    timings: list[dict[str, float]], seconds: list[float], batch_size: int
) -> tuple[dict[str, float], float]:
    """Median ms per image of each stage over the calls' ``timings`` (seconds per stage
    and batch), and the median call time over the median G1 + G2 time."""
    stages = {
        name: statistics.median(t[name] for t in timings) * 1000 / batch_size for name in timings[0]
    }
    generators = stages.get("stage1", 0.0) + stages.get("stage2", 0.0)
    whole = statistics.median(seconds) * 1000 / batch_size
    return stages, whole / generators if generators else 0.0
