"""Landmark/colour pseudo-labels on real bundled pairs (needs MediaPipe 0.10.14)."""

from __future__ import annotations

import numpy as np
import pytest

from isegan.model.alignment import landmarks as lm
from isegan.model.face_classes import FaceClass
from isegan.training.face_parser.pseudo_labels import label_pair
from isegan.training.pairs import PairFolder
from tests.extras import require_module

mediapipe = require_module("mediapipe")


def test_outlines_follow_the_mesh_connections() -> None:
    connections = mediapipe.solutions.face_mesh_connections
    for outline, edges in (
        (lm.FACE_OVAL, connections.FACEMESH_FACE_OVAL),
        (lm.LIPS_OUTER, connections.FACEMESH_LIPS),
        (lm.LIPS_INNER, connections.FACEMESH_LIPS),
        (lm.RIGHT_EYE, connections.FACEMESH_RIGHT_EYE),
        (lm.LEFT_EYE, connections.FACEMESH_LEFT_EYE),
    ):
        undirected = {frozenset(e) for e in edges}
        closed = list(zip(outline, outline[1:] + outline[:1], strict=True))
        assert all(frozenset(e) in undirected for e in closed), outline
    for brow, edges in ((lm.RIGHT_BROW, connections.FACEMESH_RIGHT_EYEBROW),
                        (lm.LEFT_BROW, connections.FACEMESH_LEFT_EYEBROW)):  # fmt: skip
        assert set(brow) == {i for e in edges for i in e}
    nose = {i for e in connections.FACEMESH_NOSE for i in e}
    assert set(lm.NOSE_POINTS) == nose - {168, 6}


@pytest.fixture(scope="module")
def labelled(cufs_dir, test_ids):
    from isegan.model.alignment.landmarks import FaceLandmarker

    folder = PairFolder.open(cufs_dir, "test")
    chosen = [test_ids[0], test_ids[40], test_ids[-1]]  # two CUHK, one AR
    with FaceLandmarker() as landmarker:
        return [(pair_id, label_pair(landmarker, *folder.load_pair(pair_id))) for pair_id in chosen]


def _rows(labels: np.ndarray, face_class: FaceClass) -> np.ndarray:
    return np.nonzero(labels == face_class)[0]


@pytest.mark.parametrize("kind", ["photo", "sketch"])
def test_classes_are_where_faces_have_them(labelled, kind) -> None:
    for pair_id, pair in labelled:
        labels = getattr(pair, kind)
        points = getattr(pair, f"{kind}_landmarks")
        for face_class in (FaceClass.SKIN, FaceClass.BROWS, FaceClass.EYES, FaceClass.NOSE,
                           FaceClass.LIPS, FaceClass.HAIR, FaceClass.BACKGROUND):  # fmt: skip
            assert (labels == face_class).sum() > 20, f"{pair_id} {kind}: no {face_class.name}"
        centre = {c: _rows(labels, c).mean() for c in (FaceClass.BROWS, FaceClass.EYES,
                                                      FaceClass.NOSE, FaceClass.LIPS)}  # fmt: skip
        assert centre[FaceClass.BROWS] < centre[FaceClass.EYES] < centre[FaceClass.NOSE]
        assert centre[FaceClass.NOSE] < centre[FaceClass.LIPS], pair_id
        assert _rows(labels, FaceClass.HAIR).min() < _rows(labels, FaceClass.SKIN).min(), pair_id

        # Facial components stay inside the landmarks' box plus a 10 % margin.
        low, high = points.min(axis=0), points.max(axis=0)
        margin = 0.1 * (high - low)
        rows, cols = np.nonzero(np.isin(labels, [2, 3, 4, 5, 6]))
        assert cols.min() >= low[0] - margin[0] and cols.max() <= high[0] + margin[0], pair_id
        assert rows.min() >= low[1] - margin[1] and rows.max() <= high[1] + margin[1], pair_id


def test_sketch_and_photo_labels_agree(labelled) -> None:
    """The pair is aligned: most pixels get the same class in both."""
    for pair_id, pair in labelled:
        agreement = (pair.photo == pair.sketch).mean()
        assert agreement > 0.85, f"{pair_id}: only {agreement:.2f} of pixels agree"
