"""Identity metrics: closed-form cases on synthetic descriptors, then the real recognizer
on real bundled photos (gallery = every real photo)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from isegan.model.identity.face_recognition import load_face_recognizer
from isegan.training.evaluation.identity import CALIBRATION_RUNGS, IdentityGallery
from isegan.training.evaluation.quality.identity import identity_scores, roc_auc


def test_perfect_queries_score_perfectly() -> None:
    rng = np.random.default_rng(0)
    gallery = rng.normal(size=(30, 128))
    scores = identity_scores(gallery[:10] + 1e-3, gallery, np.arange(10))
    assert scores.rank1 == scores.rank5 == 1.0
    assert scores.roc_auc == 1.0
    assert scores.mean_genuine_distance == pytest.approx(1e-3 * np.sqrt(128))
    assert scores.mean_impostor_distance > 10
    assert (scores.queries, scores.gallery) == (10, 30)


def test_ranks_count_closer_gallery_rows() -> None:
    gallery = np.array([[0.0], [1.0], [2.0], [3.0], [4.0], [5.0], [6.0]])
    # query 0 belongs to row 6 but sits on row 0: six rows are closer -> rank 6
    scores = identity_scores(np.array([[0.0]]), gallery, [6])
    assert scores.rank1 == 0.0 and scores.rank5 == 0.0
    # query at 4.4 belonging to row 4: nearest -> rank-1
    assert identity_scores(np.array([[4.4]]), gallery, [4]).rank1 == 1.0
    # belonging to row 3: row 4 is closer -> rank 1 (second), inside rank-5
    second = identity_scores(np.array([[4.4]]), gallery, [3])
    assert (second.rank1, second.rank5) == (0.0, 1.0)


def test_constant_descriptors_cannot_identify() -> None:
    """Ties count against the query: a recognizer that sees everyone alike scores zero."""
    scores = identity_scores(np.zeros((5, 8)), np.zeros((20, 8)), np.arange(5))
    assert scores.rank1 == 0.0 and scores.rank5 == 0.0
    assert scores.roc_auc == pytest.approx(0.5)


def test_verification_and_far_at_the_threshold() -> None:
    gallery = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    queries = np.array([[0.5, 0.0], [10.7, 0.0]])  # genuine distances 0.5 and 0.7
    scores = identity_scores(queries, gallery, [0, 1], threshold=0.6)
    assert scores.verification_rate == 0.5
    assert scores.false_accept_rate == 0.0


def test_roc_auc_against_a_direct_count() -> None:
    rng = np.random.default_rng(1)
    genuine, impostor = rng.normal(0.4, 0.1, 50), rng.normal(0.8, 0.15, 400)
    direct = np.mean(genuine[:, None] < impostor[None, :])
    assert roc_auc(genuine, impostor) == pytest.approx(direct, abs=1e-9)


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="descriptors"):
        identity_scores(np.zeros((3, 4)), np.zeros((5, 3)), [0, 1, 2])
    with pytest.raises(ValueError, match="one gallery row"):
        identity_scores(np.zeros((3, 4)), np.zeros((5, 4)), [0, 1, 9])


@pytest.fixture(scope="module")
def gallery(cufs_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> IdentityGallery:
    recognizer = load_face_recognizer(cache_dir=tmp_path_factory.mktemp("face-cache"))
    return IdentityGallery.from_folder(recognizer, cufs_dir / "photos")


def test_real_photos_identify_themselves_and_sketches_less(
    gallery: IdentityGallery, cufs_dir: Path, test_ids: list[str]
) -> None:
    ids = test_ids[::4]
    photos = [Image.open(cufs_dir / "photos" / f"{i}.png").convert("RGB") for i in ids]
    sketches = [Image.open(cufs_dir / "sketches" / f"{i}.png").convert("RGB") for i in ids]
    itself = gallery.score(ids, photos)
    assert len(gallery.ids) == 288
    assert itself.rank1 == 1.0 and itself.mean_genuine_distance < 1e-4
    drawn = gallery.score(ids, sketches)
    # a sketch is a different image of the person: worse than the photo, far above chance
    assert 3 / 288 < drawn.rank5 < 1.0
    assert drawn.mean_genuine_distance < drawn.mean_impostor_distance
    assert drawn.roc_auc > 0.8


def test_the_calibration_ladder_degrades_in_order(
    gallery: IdentityGallery, cufs_dir: Path, test_ids: list[str]
) -> None:
    ids = test_ids[::6]
    photos = [Image.open(cufs_dir / "photos" / f"{i}.png").convert("RGB") for i in ids]
    distances = {
        name: gallery.score(ids, [change(p) for p in photos]).mean_genuine_distance
        for name, change in CALIBRATION_RUNGS
    }
    values = list(distances.values())
    assert values[0] < 1e-4  # the photo itself
    assert all(0.01 < v < 0.6 for v in values[1:])  # degraded, still the same person
    with pytest.raises(ValueError, match="no real photo"):
        gallery.score(["not-a-pair"], photos[:1])
