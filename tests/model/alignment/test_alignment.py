"""Face alignment to the CUFS frame on real bundled sketches, with both landmark
backends: dlib's 5-point model (the default, in the default install) and MediaPipe's
FaceMesh (the ``labels`` extra)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from isegan.model.alignment.align import (
    CUFS_EYES,
    CUFS_IRIS_EYES,
    NoFaceFoundError,
    align_face,
    eyes_match_template,
    find_face,
    parse_align,
    place_on_page,
)
from isegan.model.alignment.face_chips import similarity_transform
from isegan.model.alignment.five_points import MIRRORED_POINTS, FivePointLandmarker
from isegan.model.alignment.landmarks import FaceLandmarker
from tests.extras import require_module


@pytest.fixture(scope="module", params=["dlib", "mediapipe"])
def landmarker(request):
    if request.param == "dlib":
        yield FivePointLandmarker()
        return
    require_module("mediapipe")
    with FaceLandmarker() as instance:
        yield instance


def test_similarity_maps_eyes_exactly() -> None:
    eyes = np.array([[30.0, 80.0], [90.0, 60.0]])
    matrix = similarity_transform(eyes, CUFS_EYES)
    mapped = eyes @ matrix[:, :2].T + matrix[:, 2]
    np.testing.assert_allclose(mapped, CUFS_EYES, atol=1e-9)
    np.testing.assert_allclose(similarity_transform(CUFS_EYES, CUFS_EYES), np.eye(2, 3), atol=1e-12)
    assert eyes_match_template(CUFS_EYES + 2.9) and not eyes_match_template(CUFS_EYES + 3.1)


@pytest.mark.parametrize(
    ("given", "mode"),
    [(None, "auto"), ("auto", "auto"), (True, "true"), ("TRUE", "true"), ("1", "true"),
     (False, "false"), ("off", "false")],
)  # fmt: skip
def test_align_modes_parse(given, mode) -> None:
    assert parse_align(given) == mode


def test_an_unknown_align_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="auto, true or false"):
        parse_align("sometimes")


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
        original = find_face(np.asarray(sketch), landmarker)
        moved = _rotated_scaled_shifted(sketch)
        alignment = align_face(moved, landmarker)
        assert not alignment.identity and alignment.image.size == (200, 250)
        found = find_face(np.asarray(alignment.image), landmarker)
        assert found is not None and original is not None
        assert np.abs(found.eyes - found.template_eyes).max() < 4.0
        # the eyes land where the CUFS template has them, as on the original
        # (the iris centres read from dlib's corners scatter about 1 px on CUFS images)
        moved_off = np.linalg.norm(found.eyes - found.template_eyes, axis=1)
        original_off = np.linalg.norm(original.eyes - original.template_eyes, axis=1)
        assert np.median(moved_off) < max(3.0, 1.5 * np.median(original_off))
        back = alignment.warp_back(alignment.image, moved)
        assert back.size == moved.size


def test_a_page_placement_is_undone_by_alignment(landmarker, cufs_sketches) -> None:
    """place_on_page's own map, composed with alignment's, is close to the identity at
    the eyes: the measurement scripts/measure_alignment.py reports."""
    rng = np.random.default_rng(1)
    for sketch in cufs_sketches:
        page, matrix = place_on_page(sketch, rng)
        alignment = align_face(page, landmarker)
        on_page = CUFS_EYES @ matrix[:, :2].T + matrix[:, 2]
        back = on_page @ alignment.matrix[:, :2].T + alignment.matrix[:, 2]
        assert np.linalg.norm(back - CUFS_EYES, axis=1).max() < 4.0


def test_five_points_read_a_face_and_its_mirror_image_alike(cufs_sketches) -> None:
    """Each reading is the mean of the face's and its mirror image's, so the points of a
    mirrored sketch are the mirrored points (the predictor alone is not symmetric and
    gives whole pixels: 1-2 px apart)."""
    landmarker = FivePointLandmarker()
    for sketch in cufs_sketches:
        rgb = np.asarray(sketch.convert("RGB"))
        points = landmarker.points(rgb)
        mirrored = landmarker.points(np.ascontiguousarray(rgb[:, ::-1]))
        assert points is not None and mirrored is not None
        mirrored[:, 0] = rgb.shape[1] - 1 - mirrored[:, 0]
        assert np.abs(points - mirrored[MIRRORED_POINTS]).max() < 0.5


def test_alignment_puts_the_iris_centres_on_the_cufs_eyes(cufs_sketches) -> None:
    """The fit maps the two iris centres alone onto CUFS's fixed eye positions, as CUFS
    was framed, so a moved sketch's eyes land there whatever its nose and eye corners."""
    landmarker = FivePointLandmarker()
    for sketch in cufs_sketches:
        found = find_face(np.asarray(_rotated_scaled_shifted(sketch)), landmarker)
        assert found is not None
        np.testing.assert_allclose(found.template_eyes, CUFS_IRIS_EYES)
        matrix = similarity_transform(found.eyes, found.template_eyes)
        placed = found.eyes @ matrix[:, :2].T + matrix[:, 2]
        np.testing.assert_allclose(placed, CUFS_IRIS_EYES, atol=1e-6)


def test_no_face_is_a_clear_error(landmarker) -> None:
    with pytest.raises(NoFaceFoundError, match=r"no face found.*align=false"):
        align_face(Image.new("RGB", (300, 300), (255, 255, 255)), landmarker)


def test_pipeline_aligns_by_default(generator_checkpoint, parser_checkpoint, cufs_sketches) -> None:
    from isegan.model.pipeline import FacePipeline

    pipeline = FacePipeline.from_files(generator_checkpoint, parser_checkpoint, device="cpu")
    moved = _rotated_scaled_shifted(cufs_sketches[0])
    (aligned,) = pipeline([moved])
    assert aligned.warped and aligned.photo.size == (200, 250)
    assert aligned.photo_on_input(moved).size == moved.size
    # an aligned original passes through untouched: the same bytes as with align off
    (plain,) = pipeline(cufs_sketches[:1])
    (unaligned,) = pipeline(cufs_sketches[:1], align="false")
    assert not plain.warped and plain.photo.tobytes() == unaligned.photo.tobytes()
    # a supplied parsing map pins the sketch's frame under auto, and is refused under true
    parsing = np.zeros((moved.height, moved.width), np.uint8)
    (pinned,) = pipeline([moved], sketch_parsings=[parsing])
    assert pinned.alignment is None and pinned.photo.size == moved.size
    with pytest.raises(ValueError, match="cannot be combined"):
        pipeline([moved], align="true", sketch_parsings=[parsing])
    with pytest.raises(NoFaceFoundError):
        pipeline([Image.new("RGB", (64, 64), "white")])
    (blank,) = pipeline([Image.new("RGB", (64, 64), "white")], align="false")
    assert blank.photo.size == (64, 64)
