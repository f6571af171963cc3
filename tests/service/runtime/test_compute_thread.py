"""All of the service's torch work runs on the worker's one thread (service/runtime/worker.py
says why: a second OpenMP team slowed the pipeline 1.26-1.46x on two cores)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from isegan.model.pipeline import PipelineRun, StageTimings
from isegan.service.prometheus import ServiceMetrics
from isegan.service.runtime.worker import InferenceWorker

ROOT = Path(__file__).resolve().parents[3]


class EmptyPipeline:
    def run(self, sketches, **_) -> PipelineRun:
        return PipelineRun([], StageTimings())


def _worker(name: str) -> InferenceWorker:
    return InferenceWorker(
        EmptyPipeline(), device=f"test-compute-{name}", metrics=ServiceMetrics(),
        max_batch_size=2, max_batch_wait_s=0.0, queue_size=4,
    )  # fmt: skip


def test_run_computes_on_the_worker_thread_and_passes_errors_back() -> None:
    worker = _worker("thread")
    worker.start()
    try:
        assert worker.run_on_thread(threading.get_ident) == worker._thread.ident  # type: ignore[union-attr]
        assert worker.run_on_thread(threading.get_ident) != threading.get_ident()
        # a task that gives a task (as the watermark does inside the render) runs inline
        assert (
            worker.run_on_thread(lambda: worker.run_on_thread(threading.get_ident))
            == worker._thread.ident
        )  # type: ignore[union-attr]
        with pytest.raises(ZeroDivisionError):
            worker.run_on_thread(lambda: 1 / 0)
        assert worker.run_on_thread(lambda: 42) == 42  # the thread survived the error
    finally:
        worker.stop()
    # stopped: the task runs where it is given rather than waiting for a thread gone
    assert worker.run_on_thread(threading.get_ident) == threading.get_ident()


class OnePhotoPipeline:
    """Stands in for the model (its speed and pixels are not under test): a real
    PipelineResult whose photo is the sketch."""

    def run(self, sketches, **_) -> PipelineRun:
        from isegan.model.pipeline import PipelineResult

        blank = np.zeros((250, 200), np.uint8)
        return PipelineRun([PipelineResult(s, s, blank, blank) for s in sketches], StageTimings())


def test_a_job_is_inferred_and_marked_in_one_visit_to_the_worker(
    tmp_path: Path, cufs_dir: Path, test_ids: list[str]
) -> None:
    """The real RivaGAN marker, watched: it marks the photo on the worker's thread, right
    after the batch, and only the photo; the route gets finished pixels back."""
    from isegan.provenance.installation import Installation
    from isegan.provenance.outputs import Output
    from isegan.provenance.render import Marked, PhotoMarker
    from isegan.provenance.watermark import Watermarker

    threads: list[int] = []

    class WatchedMarker(PhotoMarker):
        def mark(self, images) -> Marked:  # type: ignore[no-untyped-def]
            threads.append(threading.get_ident())
            return super().mark(images)

    installation = Installation.open(tmp_path)
    marker = WatchedMarker(Watermarker.load(), installation.id, installation.records())
    worker = InferenceWorker(
        OnePhotoPipeline(), device="test-compute-mark", metrics=ServiceMetrics(),
        max_batch_size=2, max_batch_wait_s=0.0, queue_size=4,
    )  # fmt: skip
    worker.start()
    # a real photo stands in for the photo the model would make (the watermark is read
    # back from it, and RivaGAN is made for photos, not noise)
    sketch = Image.open(cufs_dir / "photos" / f"{test_ids[0]}.png").convert("RGB")
    try:
        job = worker.submit(
            sketch, align="false", sketch_parsing=None, timeout_s=60,
            outputs=(Output.PHOTO, Output.PARSING), marker=marker,
        )  # fmt: skip
        outcome = asyncio.run(job)
        assert threads == [worker._thread.ident]  # type: ignore[union-attr]
    finally:
        worker.stop()
    marked = outcome.outputs
    assert set(marked.images) == {Output.PHOTO, Output.PARSING}
    assert marked.watermark is not None and marked.watermark["installation"] == installation.id
    assert marked.images[Output.PHOTO].tobytes() != sketch.tobytes()  # the mark is in it
    reading = marker.watermarker.read(marked.images[Output.PHOTO], [installation.id])
    assert reading is not None and reading.record == marked.watermark["record"]
    assert "watermark" in outcome.stage_seconds


def test_tasks_are_not_refused_by_a_full_queue() -> None:
    """Admission counts jobs only: a task finishing a request in flight always runs."""
    worker = _worker("full")
    worker.start()
    try:
        results = [worker.run_on_thread(lambda i=i: i * i) for i in range(3 * worker.queue_size)]
    finally:
        worker.stop()
    assert results == [i * i for i in range(3 * worker.queue_size)]


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads in /proc")
@pytest.mark.parametrize("backend", ["torch", "openvino"])
def test_a_serving_service_keeps_one_openmp_team(
    backend: str, generator_checkpoint: Path, parser_checkpoint: Path, cufs_dir: Path,
    tmp_path: Path,
) -> None:  # fmt: skip
    """Loading, warm-up, inference, watermarking and /verify's reading, under concurrent
    requests, add the pool threads of one OpenMP team and no more. On OpenVINO the
    networks run on its own pool: serving then adds no thread after the first requests."""
    ids = (cufs_dir / "test.txt").read_text().split()[:4]
    sketches = [str(cufs_dir / "sketches" / f"{i}.png") for i in ids]
    for sketch in sketches:
        assert Image.open(sketch).size == (200, 250)
    probe = subprocess.run(
        [sys.executable, "-m", "tests.service.openmp_teams", backend, str(generator_checkpoint),
         str(parser_checkpoint), str(tmp_path), *sketches],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert probe.returncode == 0, probe.stderr[-3000:]
    counts = json.loads(probe.stdout.strip().splitlines()[-1])
    print(f"native threads added while serving: {counts['added']} (one team: {counts['team']})")
    assert counts["team"] >= 1, "torch runs one thread here: no team to count"
    assert counts["later"] <= 0  # a transient thread may also have ended
    if backend == "torch":
        assert counts["added"] == counts["team"]
