"""load_labelled: the pseudo-labelled images of a split, of the kinds asked for.

The label files are written by the test (any class map will do: what is checked is which
images come back with which labels, not the labels' quality).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from isegan.model.face_classes import parsing_to_image
from isegan.training.face_parser.label_cache import PseudoLabelCache
from isegan.training.face_parser.train import load_labelled
from isegan.training.pairs import PairFolder, read_rgb


@pytest.fixture
def labelled_split(tiny_pairs: Path, tmp_path: Path) -> tuple[PairFolder, PseudoLabelCache]:
    """Two training pairs, only the first of them labelled."""
    folder = PairFolder.open(tiny_pairs, "two")
    cache = PseudoLabelCache(tmp_path / "labels")
    first = folder.ids[0]
    for value, kind in ((2, "photos"), (5, "sketches")):
        path = cache.path(kind, first)
        path.parent.mkdir(parents=True)
        parsing_to_image(np.full((250, 200), value, np.uint8)).save(path)
    return folder, cache


def test_both_kinds_by_default_and_unlabelled_pairs_skipped(labelled_split) -> None:
    folder, cache = labelled_split
    samples = load_labelled(folder, cache)
    assert [(s.pair_id, s.kind) for s in samples] == [
        (folder.ids[0], "photos"),
        (folder.ids[0], "sketches"),
    ]
    assert int(samples[0].labels.max()) == 2 and int(samples[1].labels.max()) == 5


def test_only_the_kinds_asked_for_are_returned(labelled_split) -> None:
    folder, cache = labelled_split
    (sketch,) = load_labelled(folder, cache, kinds=("sketches",))
    assert sketch.kind == "sketches"
    assert np.array_equal(np.asarray(sketch.image), read_rgb(folder.sketch_path(folder.ids[0])))
    assert np.unique(sketch.labels).tolist() == [5]


def test_an_unknown_kind_is_refused(labelled_split) -> None:
    folder, cache = labelled_split
    with pytest.raises(ValueError, match="unknown kinds"):
        load_labelled(folder, cache, kinds=("drawings",))
