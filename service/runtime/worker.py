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

A job also carries which outputs it wants, its colour hints and variations, and, when the
watermark is on, the marker: the worker colours each result, turns it into those images
(the variations too) and marks the photos right after the batch,
on its own thread, so a request visits the worker once and leaves with finished pixels
(the route then only encodes, signs and audits).

The same thread runs every other torch computation of the service (loading, warm-up,
``/verify``'s reading), given to it with :meth:`InferenceWorker.run_on_thread` and done before the
next batch. torch's CPU kernels use OpenMP (GNU libgomp in the PyPI wheels),
and each thread that starts a parallel region keeps its own team of pool threads. Once
those teams together outnumber the cores, libgomp stops spinning between parallel
regions and puts its threads to sleep after a few iterations, so every one of a
network's hundreds of operators pays a futex wake-up. On two cores, one extra team made
the pipeline 1.26-1.46x slower than the same pipeline with a single team (two runs of
``benchmarks/thread_teams.py``, 4 rounds each).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import numpy as np
from PIL import Image

from isegan.model.alignment.align import AlignMode
from isegan.model.colour.colouring import Colouring, ColourRequest, colour_result
from isegan.model.pipeline import PipelineResult, PipelineRun
from isegan.provenance.outputs import Output
from isegan.provenance.render import Marked, PhotoMarker, coloured_images, unmarked
from isegan.service.prometheus import ServiceMetrics
from isegan.service.runtime.batch_sizing import BatchSizer, BatchSizing

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Devices that already have a worker in this process: one model copy per device.
_active_devices: set[str] = set()
_active_lock = threading.Lock()


#: Put on the queue to wake the thread for a task (the queue itself holds jobs).
_WAKE = object()


class QueueFullError(RuntimeError):
    """The queue holds ``queue_size`` jobs already."""


class WorkerStoppedError(RuntimeError):
    """The worker is shutting down and takes no new jobs."""


class DeviceBusyError(RuntimeError):
    """Another worker in this process already owns a model on this device."""


@dataclass
class JobOutcome:
    result: PipelineResult  # its photo coloured as the hints ask
    outputs: Marked  # the wanted outputs and variations as images, photos watermarked
    colouring: Colouring
    batch_size: int
    stage_seconds: dict[str, float]  # the batch's stages, this job's wait, colour and mark


@dataclass
class Job:
    sketch: Image.Image
    align: AlignMode
    sketch_parsing: np.ndarray | None
    outputs: tuple[Output, ...]
    marker: PhotoMarker | None
    deadline: float  # time.monotonic() after which nobody wants the answer
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[JobOutcome]
    colour: ColourRequest = field(default_factory=ColourRequest)
    enqueued: float = field(default_factory=time.monotonic)

    def batch_key(self) -> AlignMode:
        return self.align

    def finish(self, result: PipelineResult) -> tuple[Colouring, Marked]:
        """``result`` coloured as asked, and the wanted outputs and variations as images,
        photos marked (on the worker's thread)."""
        colouring = colour_result(result, self.colour)
        images = coloured_images(colouring, self.outputs, self.sketch)
        marked = self.marker.mark(images) if self.marker is not None else unmarked(images)
        return colouring, marked

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
    """The thread that owns the model. ``pipeline`` may be given later, once :meth:`run_on_thread`
    has loaded it on this thread; jobs are taken only when there is one."""

    def __init__(
        self,
        pipeline: SketchPipeline | None,
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
        self.queue_size = queue_size
        # Jobs, the stop mark (None) and task wake-ups; admission counts the jobs alone,
        # so a task for a request in flight is never refused.
        self._queue: queue.Queue[Job | object | None] = queue.Queue()
        self._queued_jobs = 0
        self._held: deque[Job] = deque()  # taken from the queue, waiting for a fitting batch
        self._tasks: deque[tuple[Callable[[], object], Future[object]]] = deque()
        self._lock = threading.Lock()  # the job count, the task list and ``_closed``
        self._closed = False  # the thread has ended: tasks run where they are given
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
        self._accepting = self.pipeline is not None
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="isegan-inference", daemon=True)
        self._thread.start()

    def serve(self, pipeline: SketchPipeline) -> None:
        """Start taking jobs for ``pipeline`` (loaded with :meth:`run_on_thread`)."""
        self.pipeline = pipeline
        self._accepting = True

    def run_on_thread(self, task: Callable[[], T]) -> T:
        """``task()`` computed on the worker's thread, before its next batch; blocks the
        caller (never call it from the event loop). On the worker's own thread, or once
        the thread has ended, the task runs where it is given."""
        future: Future[object] = Future()
        with self._lock:
            inline = self._closed or self._thread in (None, threading.current_thread())
            if not inline:
                self._tasks.append((task, future))
        if inline:
            return task()
        self._queue.put(_WAKE)
        return future.result()  # type: ignore[return-value]

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
        return self._queued_jobs + len(self._held)

    # --- requests -----------------------------------------------------------------------
    async def submit(
        self,
        sketch: Image.Image,
        *,
        align: AlignMode,
        sketch_parsing: np.ndarray | None,
        timeout_s: float,
        outputs: tuple[Output, ...] = (Output.PHOTO,),
        marker: PhotoMarker | None = None,
        colour: ColourRequest | None = None,
    ) -> JobOutcome:
        """Queue one sketch and wait for its outputs (coloured as ``colour`` asks, photos
        marked by ``marker``).
        Raises QueueFullError, WorkerStoppedError, TimeoutError, or the pipeline's own
        error for this input."""
        if not self._accepting:
            raise WorkerStoppedError("the service is shutting down")
        loop = asyncio.get_running_loop()
        job = Job(
            sketch=sketch,
            align=align,
            sketch_parsing=sketch_parsing,
            outputs=outputs,
            marker=marker,
            deadline=time.monotonic() + timeout_s,
            loop=loop,
            future=loop.create_future(),
            colour=colour or ColourRequest(),
        )
        with self._lock:
            if self._queued_jobs >= self.queue_size:
                raise QueueFullError(f"{self.queue_size} requests are already waiting")
            self._queued_jobs += 1
        self._queue.put(job)
        self.metrics.queue_depth.set(self.depth)
        try:
            return await asyncio.wait_for(asyncio.shield(job.future), timeout_s)
        except TimeoutError:
            job.future.cancel()
            raise

    # --- the thread ---------------------------------------------------------------------
    def _run_tasks(self) -> None:
        """Every task given so far, oldest first."""
        while True:
            with self._lock:
                if not self._tasks:
                    return
                task, future = self._tasks.popleft()
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(task())
                except BaseException as error:  # handed to the caller, who raises it
                    future.set_exception(error)

    def _next_job(self, timeout: float | None) -> Job | bool | None:
        """A held job if any, else one from the queue; False when none came in time.
        Tasks given meanwhile run first."""
        until = None if timeout is None else time.monotonic() + timeout
        while True:
            self._run_tasks()
            if self._held:
                return self._held.popleft()
            remaining = None if until is None else max(until - time.monotonic(), 0.0)
            try:
                item = (
                    self._queue.get(timeout=remaining)
                    if remaining != 0
                    else self._queue.get_nowait()
                )
            except queue.Empty:
                return False
            if item is _WAKE:
                continue
            if item is None:
                return None
            assert isinstance(item, Job)
            with self._lock:
                self._queued_jobs -= 1
            return item

    def _run(self) -> None:
        try:
            self._serve_jobs()
        finally:
            with self._lock:
                self._closed = True
            self._run_tasks()  # given before the close: still this thread's to run

    def _serve_jobs(self) -> None:
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
            waited = now - job.enqueued
            self.metrics.stage_seconds.labels("queue").observe(waited)
            if job.abandoned(time.monotonic()):  # nobody reads it: no mark, no record number
                self.metrics.wasted_inferences.inc()
                job.resolve(TimeoutError("the request's deadline passed during inference"))
                continue
            try:
                colouring, marked = job.finish(result)
            except Exception as error:
                job.resolve(error)
                continue
            self.metrics.stage_seconds.labels("watermark").observe(marked.seconds)
            seconds = {"queue": waited, **stages, "watermark": marked.seconds}
            if not job.colour.empty:
                self.metrics.stage_seconds.labels("colour").observe(colouring.seconds)
                seconds["colour"] = colouring.seconds
            outcome = JobOutcome(colouring.result, marked, colouring, len(live), seconds)
            job.resolve(outcome)

    def _infer(self, jobs: list[Job]) -> PipelineRun:
        parsings = [job.sketch_parsing for job in jobs]
        assert self.pipeline is not None, "jobs are taken only once a pipeline is served"
        return self.pipeline.run(
            [job.sketch for job in jobs],
            align=jobs[0].align,
            sketch_parsings=parsings if any(p is not None for p in parsings) else None,
        )
