"""The inference pipeline end to end on real bundled CUFS sketches, with randomly
initialised checkpoints that the test session writes (no trained weights needed)."""

import numpy as np
import pytest
import torch
from PIL import Image

from isegan.model.config import IseganConfig
from isegan.model.device import resolve_device
from isegan.model.pipeline import FacePipeline, parse_sketches
from tests.helpers import TINY_GENERATOR, write_generator_checkpoint


@pytest.fixture(scope="module")
def pipeline(generator_checkpoint, parser_checkpoint) -> FacePipeline:
    return FacePipeline.from_files(generator_checkpoint, parser_checkpoint, device="cpu")


def test_outputs_have_the_input_sizes(pipeline, cufs_sketches) -> None:
    odd = cufs_sketches[1].convert("L").resize((271, 333))
    run = pipeline.run([*cufs_sketches, odd], align="false")
    results = run.results
    assert len(results) == 4
    for sketch, result in zip([*cufs_sketches, odd], results, strict=True):
        assert result.photo.size == sketch.size and result.photo.mode == "RGB"
        assert result.stage1_photo.size == sketch.size
        assert result.intermediate_parsing.shape == (sketch.height, sketch.width)
        assert result.sketch_parsing.shape == (sketch.height, sketch.width)
        assert result.intermediate_parsing.dtype == np.uint8
        assert result.intermediate_parsing.max() < 8
    assert pipeline.two_stage and len(pipeline.model_id) == 64 and len(pipeline.parser_id) == 64
    timings = run.timings
    assert min(timings.parse, timings.stage1, timings.stage2) > 0
    stages = timings.stage_seconds()
    assert set(stages) == {"parse", "stage1", "stage2", "postprocess"}  # no alignment asked
    assert stages["postprocess"] == timings.preprocess + timings.postprocess


def test_same_input_same_output(pipeline, cufs_sketches) -> None:
    first = pipeline(cufs_sketches[:2])
    second = pipeline(cufs_sketches[:2])
    for a, b in zip(first, second, strict=True):
        assert np.array_equal(np.asarray(a.photo), np.asarray(b.photo))
        assert np.array_equal(a.intermediate_parsing, b.intermediate_parsing)


def test_final_photo_is_stage_two_not_stage_one(pipeline, cufs_sketches) -> None:
    (result,) = pipeline(cufs_sketches[:1])
    assert not np.array_equal(np.asarray(result.photo), np.asarray(result.stage1_photo))


def test_stage_one_only_model_serves_y1(tmp_path, parser_checkpoint, cufs_sketches) -> None:
    path = write_generator_checkpoint(
        tmp_path / "s1.safetensors", IseganConfig(generator=TINY_GENERATOR, stages=1)
    )
    pipeline = FacePipeline.from_files(path, parser_checkpoint, device="cpu")
    (result,) = pipeline(cufs_sketches[:1])
    assert not pipeline.two_stage
    assert np.array_equal(np.asarray(result.photo), np.asarray(result.stage1_photo))


def test_sketch_parsing_alone_matches_pipeline(pipeline, cufs_sketches) -> None:
    maps = parse_sketches(pipeline.parser, cufs_sketches, device=torch.device("cpu"))
    results = pipeline(cufs_sketches)
    for class_map, result in zip(maps, results, strict=True):
        assert np.array_equal(class_map, result.sketch_parsing)


def test_empty_batch_and_device_selection(pipeline) -> None:
    assert pipeline([]) == []
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu-ish")


def test_grey_and_rgba_inputs(pipeline) -> None:
    grey = Image.new("L", (200, 250), 200)
    rgba = Image.new("RGBA", (200, 250), (0, 0, 0, 0))  # fully transparent -> white paper
    white = Image.new("RGB", (200, 250), (255, 255, 255))
    results = pipeline([grey, rgba, white], align="false")
    assert all(r.photo.size == (200, 250) for r in results)
    assert np.array_equal(np.asarray(results[1].photo), np.asarray(results[2].photo))


def test_supplied_sketch_parsing_replaces_the_parser_for_that_sketch_only(
    pipeline, cufs_sketches
) -> None:
    sketches = cufs_sketches[:2]
    automatic = pipeline(sketches)
    painted = np.full(automatic[0].sketch_parsing.shape, 1, dtype=np.uint8)  # all skin
    painted[:40] = 7  # hair band
    mixed = pipeline(sketches, sketch_parsings=[painted, None])
    assert np.array_equal(mixed[0].sketch_parsing, painted)
    assert not np.array_equal(np.asarray(mixed[0].photo), np.asarray(automatic[0].photo))
    # the other sketch in the batch is untouched, to the byte
    assert np.array_equal(np.asarray(mixed[1].photo), np.asarray(automatic[1].photo))
    assert np.array_equal(mixed[1].sketch_parsing, automatic[1].sketch_parsing)


def test_supplied_parsing_of_a_resized_sketch_and_bad_calls(pipeline, cufs_sketches) -> None:
    sketch = cufs_sketches[0].resize((300, 375))
    painted = np.zeros((375, 300), dtype=np.uint8)
    painted[50:300, 40:260] = 1
    result = pipeline([sketch], sketch_parsings=[painted])[0]
    assert np.array_equal(result.sketch_parsing, painted)  # the map that was used, as given
    assert result.photo.size == (300, 375)
    other = painted.copy()
    other[50:300, 40:260] = 7
    assert (
        np.asarray(pipeline([sketch], sketch_parsings=[other])[0].photo).tolist()
        != np.asarray(result.photo).tolist()
    )
    with pytest.raises(ValueError, match="2 parsing maps for 1 sketches"):
        pipeline([sketch], sketch_parsings=[painted, painted])
    with pytest.raises(ValueError, match="cannot be combined with alignment"):
        pipeline([sketch], align=True, sketch_parsings=[painted])
    with pytest.raises(ValueError, match="300x375"):
        pipeline([sketch], sketch_parsings=[np.zeros((10, 10), np.uint8)])


def test_choosing_another_landmark_backend_replaces_the_loaded_one(
    generator_checkpoint, parser_checkpoint
) -> None:
    """The CLI and the service set ``landmarks`` after loading; a landmarker already loaded
    for the old choice must not be handed out for the new one."""
    from isegan.model.alignment.five_points import FivePointLandmarker
    from isegan.model.alignment.landmarks import FaceLandmarker
    from tests.extras import require_module

    require_module("mediapipe")
    pipeline = FacePipeline.from_files(generator_checkpoint, parser_checkpoint, "cpu")
    dlib = pipeline.aligner()
    assert isinstance(dlib, FivePointLandmarker)
    pipeline.landmarks = "dlib"
    assert pipeline.aligner() is dlib  # the same choice keeps what is loaded
    pipeline.landmarks = "mediapipe"
    assert isinstance(pipeline.aligner(), FaceLandmarker)
    pipeline.landmarks = "dlib"
    assert isinstance(pipeline.aligner(), FivePointLandmarker)
