"""The worker's batch limit follows the batch times it measures.

The unit tests feed the sizer chosen timings. The worker tests use a stand-in pipeline
whose cost per batch is a fixed function of its size (the policy, not the model's speed,
is under test; the results are real PipelineResults): one where batching pays, as on a
GPU, and one where each extra sketch costs more than alone, as on the AVX2 CPU of the
README.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

import numpy as np
import pytest
from PIL import Image

from isegan.model.pipeline import PipelineResult, PipelineRun, StageTimings
from isegan.service.prometheus import ServiceMetrics
from isegan.service.runtime.batch_sizing import BatchSizer
from isegan.service.runtime.worker import InferenceWorker


def _swept(sizer: BatchSizer, per_sketch: dict[int, float]) -> BatchSizer:
    """Run the first sweep with the given seconds per sketch for each candidate size."""
    for size in sizer.candidates:
        for _ in range(2):
            assert sizer.next_limit() == size
            sizer.record(size, per_sketch[size] * size)
    return sizer


def test_the_first_sweep_runs_each_candidate_size_twice() -> None:
    sizer = BatchSizer(8)
    limits = []
    for _ in range(8):
        limits.append(sizer.next_limit())
        sizer.record(limits[-1], 0.1 * limits[-1])
    assert limits == [1, 1, 2, 2, 4, 4, 8, 8]
    assert BatchSizer(6).candidates == [1, 2, 4, 6]


def test_the_size_fastest_per_sketch_becomes_the_limit() -> None:
    cpu = _swept(BatchSizer(8, explore_every=1000), {1: 0.26, 2: 0.28, 4: 0.28, 8: 0.284})
    assert [cpu.next_limit() for _ in range(5)] == [1] * 5
    gpu = _swept(BatchSizer(8, explore_every=1000), {1: 0.03, 2: 0.016, 4: 0.009, 8: 0.005})
    assert [gpu.next_limit() for _ in range(5)] == [8] * 5


def test_equal_cost_per_sketch_prefers_the_larger_batch() -> None:
    assert _swept(BatchSizer(8), {1: 0.1, 2: 0.1, 4: 0.1, 8: 0.1}).best_size() == 8


def test_a_size_first_run_is_forgotten_then_averaged() -> None:
    sizer = BatchSizer(8, weight=0.5)
    sizer.record(4, 9.0)  # a first call with one-off costs
    sizer.record(4, 1.0)
    assert sizer.expected_seconds(4) == pytest.approx(1.0)
    sizer.record(4, 2.0)
    assert sizer.expected_seconds(4) == pytest.approx(1.5)
    assert sizer.expected_seconds(8) == pytest.approx(3.0)  # nearest size, scaled
    assert BatchSizer(8).expected_seconds(2) == 0.0  # nothing measured yet


def test_every_nth_batch_reruns_the_next_candidate() -> None:
    sizer = _swept(BatchSizer(8, explore_every=3), {1: 0.1, 2: 0.2, 4: 0.2, 8: 0.2})
    assert [sizer.next_limit() for _ in range(12)] == [1, 1, 2, 1, 1, 4, 1, 1, 8, 1, 1, 1]


def test_fixed_sizing_always_allows_the_maximum() -> None:
    sizer = BatchSizer(8, sizing="fixed")
    sizer.record(1, 0.1)
    sizer.record(1, 0.1)
    assert {sizer.next_limit() for _ in range(20)} == {8}


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        BatchSizer(0)
    with pytest.raises(ValueError):
        BatchSizer(8, weight=0)


class CostedPipeline:
    """Sleeps ``cost(len(batch))`` seconds per batch and records the batch sizes."""

    def __init__(self, cost: Callable[[int], float]) -> None:
        self.cost = cost
        self.sizes: list[int] = []

    def run(
        self,
        sketches: Sequence[Image.Image],
        *,
        align: bool = False,
        sketch_parsings: Sequence[np.ndarray | None] | None = None,
    ) -> PipelineRun:
        time.sleep(self.cost(len(sketches)))
        self.sizes.append(len(sketches))
        blank = np.zeros((4, 4), dtype=np.uint8)
        return PipelineRun([PipelineResult(s, s, blank, blank) for s in sketches], StageTimings())


def _serve(pipeline: CostedPipeline, count: int, sizing: str) -> tuple[float, ServiceMetrics]:
    """``count`` requests submitted at once; the seconds until all are answered."""
    metrics = ServiceMetrics()
    worker = InferenceWorker(
        pipeline, device=f"test-sizing-{sizing}-{id(pipeline)}", metrics=metrics,
        max_batch_size=8, max_batch_wait_s=0.0, queue_size=1000, batch_sizing=sizing,  # type: ignore[arg-type]
    )  # fmt: skip
    sketch = Image.new("RGB", (8, 8))

    async def flood() -> None:
        await asyncio.gather(
            *(
                worker.submit(sketch, align="false", sketch_parsing=None, timeout_s=60)
                for _ in range(count)
            )
        )

    worker.start()
    started = time.monotonic()
    try:
        asyncio.run(flood())
    finally:
        worker.stop()
    return time.monotonic() - started, metrics


def _cpu_like(size: int) -> float:
    """10 ms alone, 15 ms per sketch in any larger batch: batching does not pay."""
    return 0.010 if size == 1 else 0.015 * size


def _gpu_like(size: int) -> float:
    """A fixed 20 ms plus 2 ms per sketch: batching pays."""
    return 0.020 + 0.002 * size


def test_where_batching_does_not_pay_the_worker_runs_sketches_alone() -> None:
    measured, fixed = CostedPipeline(_cpu_like), CostedPipeline(_cpu_like)
    measured_seconds, metrics = _serve(measured, 200, "measured")
    fixed_seconds, _ = _serve(fixed, 200, "fixed")
    # After the first sweep (1, 1, 2, 2, 4, 4, 8, 8) most batches are single, apart from
    # every 16th, which reruns a larger size in turn.
    assert measured.sizes[:8] == [1, 1, 2, 2, 4, 4, 8, 8]
    assert measured.sizes.count(1) > 0.8 * len(measured.sizes)
    assert max(measured.sizes[8:]) > 1  # still rechecked
    assert metrics.batch_limit._value.get() in (1, 8)
    assert set(fixed.sizes[:-1]) == {8}
    # 200 sketches: about 2.3 s mostly alone against 3.0 s in full batches
    assert measured_seconds < fixed_seconds


def test_where_batching_pays_the_batches_stay_full() -> None:
    pipeline = CostedPipeline(_gpu_like)
    _, metrics = _serve(pipeline, 200, "measured")
    after_sweep = pipeline.sizes[8:-1]
    assert pipeline.sizes[:8] == [1, 1, 2, 2, 4, 4, 8, 8]
    assert after_sweep.count(8) >= 0.85 * len(after_sweep)
    assert metrics.batch_limit._value.get() == 8
