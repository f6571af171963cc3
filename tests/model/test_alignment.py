"""Face alignment to the CUFS frame, on real bundled sketches (needs MediaPipe 0.10.14)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from isegan.model.alignment import (
    CUFS_EYES,
    NoFaceFoundError,
    align_face,
    eyes_match_template,
    similarity_from_eyes,
)
from isegan.model.landmarks import LEFT_IRIS_CENTRE, RIGHT_IRIS_CENTRE, FaceLandmarker


@pytest.fixture(scope="module")
def landmarker():
    with FaceLandmarker() as instance:
        yield instance


def test_similarity_maps_eyes_exactly() -> None:
    eyes = np.array([[30.0, 80.0], [90.0, 60.0]])
    matrix = similarity_from_eyes(eyes)
    mapped = eyes @ matrix[:, :2].T + matrix[:, 2]
    np.testing.assert_allclose(mapped, CUFS_EYES, atol=1e-9)
    np.testing.assert_allclose(similarity_from_eyes(CUFS_EYES), np.eye(2, 3), atol=1e-12)
    assert eyes_match_template(CUFS_EYES + 2.9) and not eyes_match_template(CUFS_EYES + 3.1)


def test_aligned_cufs_sketches_come_out_unchanged(landmarker, cufs_sketches) -> None:
    for sketch in cufs_sketches:
        alignment = align_face(sketch, landmarker)
        assert alignment.identity
        assert np.array_equal(np.asarray(alignment.image), np.asarray(sketch.convert("RGB")))
        assert alignment.warp_back(sketch, sketch).tobytes() == sketch.convert("RGB").tobytes()


def _rotated_scaled_shifted(sketch: Image.Image) -> Image.Image:
    """The sketch turned 12 degrees, enlarged 1.3x and moved, on a bigger white page."""
    big = sketch.resize((260, 325), Image.Resampling.BICUBIC).rotate(
        12, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(255, 255, 255)
    )
    page = Image.new("RGB", (480, 420), (255, 255, 255))
    page.paste(big, (130, 20))
    return page


def test_moved_sketch_aligns_back_to_the_original_landmarks(landmarker, cufs_sketches) -> None:
    for sketch in cufs_sketches:
        original = landmarker.landmarks(np.asarray(sketch))
        moved = _rotated_scaled_shifted(sketch)
        alignment = align_face(moved, landmarker)
        assert not alignment.identity and alignment.image.size == (200, 250)
        found = landmarker.landmarks(np.asarray(alignment.image))
        assert found is not None and original is not None
        eyes = [RIGHT_IRIS_CENTRE, LEFT_IRIS_CENTRE]
        assert np.abs(found[eyes] - CUFS_EYES).max() < 3.0
        # Every landmark (mouth, nose, outline) lands within a few pixels of where it was.
        assert np.median(np.linalg.norm(found - original, axis=1)) < 3.0
        back = alignment.warp_back(alignment.image, moved)
        assert back.size == moved.size


def test_no_face_is_a_clear_error(landmarker) -> None:
    with pytest.raises(NoFaceFoundError, match="no face found"):
        align_face(Image.new("RGB", (300, 300), (255, 255, 255)), landmarker)


def test_pipeline_aligns_on_request(generator_checkpoint, parser_checkpoint, cufs_sketches) -> None:
    from isegan.model.pipeline import FacePipeline

    pipeline = FacePipeline.from_files(generator_checkpoint, parser_checkpoint, device="cpu")
    moved = _rotated_scaled_shifted(cufs_sketches[0])
    (aligned,) = pipeline([moved], align=True)
    assert aligned.photo.size == (200, 250) and aligned.alignment is not None
    assert aligned.photo_on_input(moved).size == moved.size
    (plain,) = pipeline(cufs_sketches[:1], align=True)
    (unaligned,) = pipeline(cufs_sketches[:1])
    assert plain.photo.tobytes() == unaligned.photo.tobytes()
    with pytest.raises(NoFaceFoundError):
        pipeline([Image.new("RGB", (64, 64), "white")], align=True)
