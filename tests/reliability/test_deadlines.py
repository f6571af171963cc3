"""Deadlines under overload: the worker does not compute answers that cannot arrive in
time. A stand-in pipeline with a fixed cost per batch makes the overload exact (the
scheduling, not the model's speed, is under test); results are real PipelineResults."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import numpy as np
from PIL import Image

from isegan.model.pipeline import PipelineResult, PipelineRun, StageTimings
from isegan.service.prometheus import ServiceMetrics
from isegan.service.runtime.worker import InferenceWorker

BATCH_SECONDS = 0.2  # any batch up to 4 sketches: capacity 20 sketches/s


class TimedPipeline:
    def __init__(self) -> None:
        self.computed = 0

    def run(
        self,
        sketches: Sequence[Image.Image],
        *,
        align: bool = False,
        sketch_parsings: Sequence[np.ndarray | None] | None = None,
    ) -> PipelineRun:
        time.sleep(BATCH_SECONDS)
        self.computed += len(sketches)
        blank = np.zeros((4, 4), dtype=np.uint8)
        results = [PipelineResult(s, s, blank, blank) for s in sketches]
        return PipelineRun(results, StageTimings(stage1=BATCH_SECONDS))


async def _flood(worker: InferenceWorker, count: int, rate: float, timeout: float) -> list[str]:
    sketch = Image.new("RGB", (8, 8))

    async def one(delay: float) -> str:
        await asyncio.sleep(delay)
        try:
            await worker.submit(sketch, align=False, sketch_parsing=None, timeout_s=timeout)
        except TimeoutError:
            return "504"
        return "200"

    return list(await asyncio.gather(*(one(i / rate) for i in range(count))))


def test_four_times_overload_wastes_little_compute() -> None:
    pipeline = TimedPipeline()
    metrics = ServiceMetrics()
    worker = InferenceWorker(
        pipeline, device="test-deadlines", metrics=metrics, max_batch_size=4,
        max_batch_wait_s=0.005, queue_size=1000,
    )  # fmt: skip
    worker.start()
    try:
        # 80 sketches/s against a capacity of 20/s, a 2 s deadline, for 4 seconds
        answers = asyncio.run(_flood(worker, count=320, rate=80.0, timeout=2.0))
    finally:
        worker.stop()
    ok = answers.count("200")
    wasted = metrics.wasted_inferences._value.get()
    share = ok / pipeline.computed
    print(f"4x overload: {ok} x 200, {answers.count('504')} x 504, "
          f"{pipeline.computed} computed, {wasted:.0f} wasted, {share:.0%} of computed reached a 200")  # fmt: skip
    assert ok > 0 and answers.count("504") > 0
    assert share >= 0.8
    # a result that lands at its deadline can still lose the race to the client's timeout
    assert abs(pipeline.computed - ok - wasted) <= 2


def test_expected_batch_time_is_learned_and_scaled() -> None:
    worker = InferenceWorker(
        TimedPipeline(), device="test-estimate", metrics=ServiceMetrics(), max_batch_size=4,
        max_batch_wait_s=0.0, queue_size=10,
    )  # fmt: skip
    assert worker.expected_seconds(4) == 0.0  # nothing measured: only past deadlines drop
    worker.sizer.record(2, 0.3)
    assert worker.expected_seconds(2) == 0.3
    assert worker.expected_seconds(4) == 0.6  # nearest size, scaled
