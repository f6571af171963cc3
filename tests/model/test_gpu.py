"""On a CUDA device (skipped without one, `-m gpu` selects them): the pipeline gives the
CPU's photo, and its optimised path stays within the bf16 tolerance of the fp32 one.
These run where benchmarks/gpu.sh runs, on a lent GPU."""

from __future__ import annotations

import numpy as np
import pytest

from isegan.model.inference import InferenceOptions
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
