"""On a CUDA device (skipped without one, `-m gpu` selects them): the pipeline gives the
CPU's photo, and its optimised path stays within the bf16 tolerance of the fp32 one.
These run where benchmarks/gpu.sh runs, on a lent GPU."""

from __future__ import annotations

import numpy as np
import pytest

from isegan.model.inference_options import InferenceOptions
from isegan.model.pipeline import FacePipeline

pytestmark = pytest.mark.gpu


@pytest.fixture(autouse=True)
def no_tf32():
    """cuDNN convolutions default to TF32 on Ampere and later; the fp32 comparison needs
    them in fp32."""
    import torch

    previous = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32 = previous


def _photos(pipeline: FacePipeline, sketches) -> np.ndarray:
    results = pipeline(sketches, align="false")
    return np.stack([np.asarray(r.photo, dtype=np.float64) for r in results])


def test_cuda_fp32_matches_the_cpu(generator_checkpoint, parser_checkpoint, cufs_sketches):
    reference = InferenceOptions.reference()
    cpu = FacePipeline.from_files(generator_checkpoint, parser_checkpoint, "cpu", options=reference)
    cuda = FacePipeline.from_files(
        generator_checkpoint, parser_checkpoint, "cuda", options=reference
    )
    difference = np.abs(_photos(cpu, cufs_sketches) - _photos(cuda, cufs_sketches))
    assert difference.mean() < 0.5 and difference.max() <= 8  # grey levels


def test_cuda_optimised_path_stays_near_fp32(
    generator_checkpoint, parser_checkpoint, cufs_sketches
):
    fp32 = FacePipeline.from_files(
        generator_checkpoint, parser_checkpoint, "cuda", options=InferenceOptions.reference()
    )
    fast = FacePipeline.from_files(
        generator_checkpoint, parser_checkpoint, "cuda", options=InferenceOptions()
    )
    assert fast.precision in ("bf16", "fp16")
    difference = np.abs(_photos(fp32, cufs_sketches) - _photos(fast, cufs_sketches))
    assert difference.mean() < 3.0


def test_cuda_watermark_matches_the_cpu_and_reads_back(cufs_dir, test_ids):
    """The service watermarks on its model's device: on CUDA (direct cuDNN convolutions)
    the mark is the CPU's (FFT) to a grey level here and there, and either device reads
    the other's record."""
    from PIL import Image

    from isegan.provenance.watermark import Watermarker

    cpu, cuda = Watermarker.load(), Watermarker.load(device="cuda")
    assert cuda.device.type == "cuda"
    for name in test_ids[:3]:
        with Image.open(cufs_dir / "photos" / f"{name}.png") as image:
            photo = image.convert("RGB")
        on_cpu, on_cuda = cpu.embed(photo, "gpu-test", 77), cuda.embed(photo, "gpu-test", 77)
        difference = np.abs(np.asarray(on_cpu, np.int16) - np.asarray(on_cuda, np.int16))
        assert difference.max() <= 1 and (difference > 0).mean() < 0.001
        for reader, marked in ((cpu, on_cuda), (cuda, on_cpu)):
            reading = reader.read(marked, ["gpu-test"])
            assert reading is not None and reading.record == 77
        assert np.abs(cpu.scores(on_cuda) - cuda.scores(on_cuda)).max() < 1e-2


def test_training_augmentations_run_on_cuda_as_on_the_cpu() -> None:
    """Every rendering training draws runs on the device its batch is on (the resampling
    once built a CPU offset for a CUDA matrix and stopped a GPU training run at step 1),
    and on CUDA it draws the same renderings as on the CPU."""
    import torch

    from isegan.training.robustness.augment import PHOTOMETRIC, AugmentConfig, SketchAugmenter

    generator = torch.Generator().manual_seed(0)
    sketch = torch.rand(8, 3, 64, 48, generator=generator) * 2 - 1
    photo = torch.rand(8, 3, 64, 48, generator=generator) * 2 - 1
    augmenter = SketchAugmenter(AugmentConfig(photometric=1.0, style=1.0, seed=1))
    applied: set[str] = set()
    for step in range(12):  # enough draws to reach every rendering
        on_cpu = augmenter(sketch, photo, step)
        on_cuda = augmenter(sketch.cuda(), photo.cuda(), step)
        assert on_cuda.sketch.device.type == "cuda"
        assert on_cuda.applied == on_cpu.applied
        applied.update(name for names in on_cuda.applied for name in names)
    assert {name for name, _ in PHOTOMETRIC} <= applied
