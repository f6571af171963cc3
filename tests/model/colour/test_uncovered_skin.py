"""The neck and ears found from a photo's colours, on drawn photos whose parts the test
knows: a face the parsing labels, a neck and ears it does not, a backdrop and a shirt."""

from __future__ import annotations

import numpy as np

from isegan.model.colour.hints import ColourHint, apply_hints
from isegan.model.colour.spaces import srgb_to_oklab
from isegan.model.colour.uncovered_skin import uncovered_skin
from isegan.model.face_classes import FaceClass

SKIN = np.array([222, 184, 160])
NECK = np.array([196, 156, 130])  # the same skin in the chin's shadow
BACKDROP = np.array([120, 190, 230])
SHIRT = np.array([40, 50, 90])


def _drawn_photo(neck_colour: np.ndarray = NECK) -> tuple[np.ndarray, np.ndarray, dict]:
    """A 250x200 photo and its parsing: an elliptical face (skin class), with a neck under
    it and ears beside it that the parsing leaves in the background, and a shirt."""
    rows, cols = np.indices((250, 200))
    face = ((cols - 100) / 50) ** 2 + ((rows - 120) / 70) ** 2 <= 1
    neck = (rows > 170) & (rows < 215) & (abs(cols - 100) < 28) & ~face
    ears = (rows > 105) & (rows < 140) & (abs(abs(cols - 100) - 53) < 5) & ~face
    shirt = rows >= 215
    photo = np.empty((250, 200, 3), dtype=np.uint8)
    photo[:] = BACKDROP
    photo[shirt] = SHIRT
    photo[neck] = neck_colour
    photo[ears] = SKIN
    photo[face] = SKIN
    class_map = np.where(face, FaceClass.SKIN, FaceClass.BACKGROUND).astype(np.uint8)
    return photo, class_map, {"neck": neck, "ears": ears, "shirt": shirt, "face": face}


def test_the_neck_and_ears_are_found_and_the_shirt_and_backdrop_are_not() -> None:
    photo, class_map, parts = _drawn_photo()
    found = uncovered_skin(class_map, srgb_to_oklab(photo / 255.0))
    assert found[parts["neck"]].mean() > 0.95
    assert found[parts["ears"]].mean() > 0.95
    assert not found[parts["shirt"]].any() and not found[parts["face"]].any()
    rest = ~(parts["neck"] | parts["ears"])
    assert not found[rest].any()


def test_a_neck_of_another_colour_is_not_skin() -> None:
    """A scarf under the chin, as blue as the backdrop, stays as it is."""
    photo, class_map, parts = _drawn_photo(neck_colour=np.array([90, 160, 210]))
    found = uncovered_skin(class_map, srgb_to_oklab(photo / 255.0))
    assert not found[parts["neck"]].any()


def test_no_face_no_uncovered_skin() -> None:
    photo, class_map, _ = _drawn_photo()
    empty = np.zeros_like(class_map)
    assert not uncovered_skin(empty, srgb_to_oklab(photo / 255.0)).any()


def test_a_skin_hint_moves_from_the_face_colour_not_the_neck() -> None:
    """A hint of the face's own colour leaves the face as it is, although the neck it also
    colours is darker: the mean it moves from is the face's alone."""
    from PIL import Image

    photo, class_map, parts = _drawn_photo()
    hint = ColourHint.parse("skin", "#{:02x}{:02x}{:02x}".format(*SKIN))
    hinted, outcome = apply_hints(Image.fromarray(photo), class_map, [hint])
    assert "skin" in outcome.applied
    inner_face = parts["face"] & (np.indices(class_map.shape)[0] < 160)
    assert np.abs(np.asarray(hinted, dtype=int)[inner_face] - SKIN).max() <= 2
