"""The inference worker: one thread that owns the pipeline, fed by a bounded queue.

Requests never touch the model from the event loop. The worker takes the oldest job,
waits up to ``max_batch_wait_ms`` for more (up to ``max_batch_size``, or fewer where
larger batches measured slower per sketch: ``batch_sizing.py``), drops jobs whose
client went away or whose deadline cannot be met given the measured time of a batch of
that size (an answer nobody will read is compute taken from the next request), and runs
the rest as one batch. Results computed for requests that timed out all the same are
counted as wasted inferences. Jobs
that may not share a batch (aligned and not aligned) wait for the next one. If a batch
fails, each of its jobs is retried alone so one bad input cannot fail its neighbours.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from PIL import Image

from isegan.model.alignment import AlignMode
from isegan.model.pipeline import PipelineResult, PipelineRun
from isegan.service.batch_sizing import BatchSizer, BatchSizing
from isegan.service.prometheus import ServiceMetrics

logger = logging.getLogger(__name__)

#: Devices that already have a worker in this process: one model copy per device.
_active_devices: set[str] = set()
_active_lock = threading.Lock()


class QueueFullError(RuntimeError):
    """The queue holds ``queue_size`` jobs already."""


class WorkerStoppedError(RuntimeError):
    """The worker is shutting down and takes no new jobs."""


class DeviceBusyError(RuntimeError):
    """Another worker in this process already owns a model on this device."""


@dataclass
class JobOutcome:
    result: PipelineResult
    batch_size: int
    stage_seconds: dict[str, float]  # the batch's stages, plus this job's queue wait


@dataclass
class Job:
    sketch: Image.Image
    align: AlignMode
    sketch_parsing: np.ndarray | None
    deadline: float  # time.monotonic() after which nobody wants the answer
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[JobOutcome]
    enqueued: float = field(default_factory=time.monotonic)

    def batch_key(self) -> AlignMode:
        return self.align

    def abandoned(self, now: float) -> bool:
        return self.future.cancelled() or now > self.deadline

    def resolve(self, outcome: JobOutcome | BaseException) -> None:
        def settle() -> None:
            if self.future.done():
                return
            if isinstance(outcome, BaseException):
                self.future.set_exception(outcome)
            else:
                self.future.set_result(outcome)

        with contextlib.suppress(RuntimeError):  # a closed loop: the request is gone
            self.loop.call_soon_threadsafe(settle)


class SketchPipeline(Protocol):
    """What the worker needs from :class:`~isegan.model.pipeline.FacePipeline`."""

    def run(
        self,
        sketches: Sequence[Image.Image],
        *,
        align: AlignMode | bool = ...,
        sketch_parsings: Sequence[np.ndarray | None] | None = ...,
    ) -> PipelineRun: ...


class InferenceWorker:
    def __init__(
        self,
        pipeline: SketchPipeline,
        *,
        device: str,
        metrics: ServiceMetrics,
        max_batch_size: int,
        max_batch_wait_s: float,
        queue_size: int,
        batch_sizing: BatchSizing = "measured",
    ) -> None:
        self.pipeline = pipeline
        self.device = device
        self.metrics = metrics
        self.max_batch_size = max_batch_size
        self.max_batch_wait_s = max_batch_wait_s
        self._queue: queue.Queue[Job | None] = queue.Queue(maxsize=queue_size)
        self._held: deque[Job] = deque()  # taken from the queue, waiting for a fitting batch
        self.sizer = BatchSizer(max_batch_size, sizing=batch_sizing)
        self._accepting = False
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------
    def start(self) -> None:
        with _active_lock:
            if self.device in _active_devices:
                raise DeviceBusyError(
                    f"a model is already loaded on {self.device} in this process; "
                    "run one service per device"
                )
            _active_devices.add(self.device)
        self._accepting = True
        self._thread = threading.Thread(target=self._run, name="isegan-inference", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 60.0) -> None:
        """Take no new jobs, finish the queued ones, then end the thread."""
        self._accepting = False
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None
        with _active_lock:
            _active_devices.discard(self.device)

    @property
    def depth(self) -> int:
        return self._queue.qsize() + len(self._held)

    # --- requests -----------------------------------------------------------------------
    async def submit(
        self,
        sketch: Image.Image,
        *,
        align: AlignMode,
        sketch_parsing: np.ndarray | None,
        timeout_s: float,
    ) -> JobOutcome:
        """Queue one sketch and wait for its result. Raises QueueFullError,
        WorkerStoppedError, TimeoutError, or the pipeline's own error for this input."""
        if not self._accepting:
            raise WorkerStoppedError("the service is shutting down")
        loop = asyncio.get_running_loop()
        job = Job(
            sketch=sketch,
            align=align,
            sketch_parsing=sketch_parsing,
            deadline=time.monotonic() + timeout_s,
            loop=loop,
            future=loop.create_future(),
        )
        try:
            self._queue.put_nowait(job)
        except queue.Full as error:
            raise QueueFullError(f"{self._queue.maxsize} requests are already waiting") from error
        self.metrics.queue_depth.set(self.depth)
        try:
            return await asyncio.wait_for(asyncio.shield(job.future), timeout_s)
        except TimeoutError:
            job.future.cancel()
            raise

    # --- the thread ---------------------------------------------------------------------
    def _next_job(self, timeout: float | None) -> Job | bool | None:
        """A held job if any, else one from the queue; False when none came in time."""
        if self._held:
            return self._held.popleft()
        try:
            return self._queue.get(timeout=timeout) if timeout != 0 else self._queue.get_nowait()
        except queue.Empty:
            return False

    def _run(self) -> None:
        stopping = False
        while not (stopping and not self._held and self._queue.empty()):
            first = self._next_job(None if not stopping else 0)
            if first is None:
                stopping = True
                continue
            if first is False:
                continue
            assert isinstance(first, Job)
            batch = [first]
            skipped: list[Job] = []
            until = time.monotonic() + self.max_batch_wait_s
            limit = self.sizer.next_limit()
            self.metrics.batch_limit.set(limit)
            while len(batch) < limit:
                remaining = until - time.monotonic()
                job = self._next_job(max(remaining, 0.0))
                if job is False:
                    break
                if job is None:
                    stopping = True
                    break
                assert isinstance(job, Job)
                (batch if job.batch_key() == first.batch_key() else skipped).append(job)
            self._held.extendleft(reversed(skipped))
            self.metrics.queue_depth.set(self.depth)
            self._run_batch(batch)
        self.metrics.queue_depth.set(0)

    def expected_seconds(self, size: int) -> float:
        return self.sizer.expected_seconds(size)

    def _admit(self, jobs: list[Job], now: float) -> list[Job]:
        """The jobs whose answer can still arrive in time; the others get their timeout
        now instead of after a wasted inference."""
        live = [job for job in jobs if not job.abandoned(now)]
        for _ in range(2):  # dropping jobs shrinks the batch, which makes it faster
            finish = now + self.expected_seconds(len(live))
            feasible = [job for job in live if job.deadline >= finish]
            if len(feasible) == len(live):
                break
            live = feasible
        for job in jobs:
            if job not in live:  # the route counts it under rejected{reason="deadline"}
                job.resolve(TimeoutError("the request's deadline cannot be met by the next batch"))
        return live

    def _run_batch(self, jobs: list[Job]) -> None:
        now = time.monotonic()
        live = self._admit(jobs, now)
        if not live:
            return
        started = time.monotonic()
        try:
            run = self._infer(live)
        except Exception as error:
            if len(live) == 1:
                live[0].resolve(error)
                return
            logger.warning("batch of %d failed (%s); running its jobs one by one", len(live), error)
            for job in live:
                self._run_batch([job])
            return
        finished = time.monotonic()
        self.sizer.record(len(live), finished - started)
        stages = run.timings.stage_seconds()
        self.metrics.batch_size.observe(len(live))
        self.metrics.observe_stages(stages)
        for job, result in zip(live, run.results, strict=True):
            if job.abandoned(finished):
                self.metrics.wasted_inferences.inc()
            waited = now - job.enqueued
            self.metrics.stage_seconds.labels("queue").observe(waited)
            job.resolve(JobOutcome(result, len(live), {"queue": waited, **stages}))

    def _infer(self, jobs: list[Job]) -> PipelineRun:
        parsings = [job.sketch_parsing for job in jobs]
        return self.pipeline.run(
            [job.sketch for job in jobs],
            align=jobs[0].align,
            sketch_parsings=parsings if any(p is not None for p in parsings) else None,
        )
