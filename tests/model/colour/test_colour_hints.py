"""Colour hints on a real synthesised photo and its parsing (bundled model)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from isegan.model.colour.hints import (
    CLASSES,
    EDGE_RADIUS,
    LIGHTNESS_STRENGTH,
    PALETTES,
    ColourHint,
    HintError,
    HintRegion,
    apply_hints,
    variation_hints,
)
from isegan.model.colour.spaces import srgb_to_oklab
from isegan.model.colour.uncovered_skin import uncovered_skin
from isegan.model.pipeline import FacePipeline
from isegan.model.weights.pretrained import default_generator_path, default_parser_path


@pytest.fixture(scope="module")
def result(cufs_sketches):
    pipeline = FacePipeline.from_files(
        default_generator_path(), default_parser_path(), device="cpu"
    )
    return pipeline(cufs_sketches[:1], align="false")[0]


def _region_mean(image: Image.Image, class_map: np.ndarray, region: HintRegion) -> np.ndarray:
    lab = srgb_to_oklab(np.asarray(image, dtype=np.float64) / 255)
    return lab[np.isin(class_map, CLASSES[region])].mean(axis=0)


def test_values_are_palette_names_or_hex_and_bad_ones_name_the_field() -> None:
    assert ColourHint.parse("hair", "Blond").rgb == PALETTES[HintRegion.HAIR]["blond"]
    assert ColourHint.parse("skin", "#A0785A").rgb == (160, 120, 90)
    assert ColourHint.parse("eyes", "a0785a").value == "#a0785a"
    with pytest.raises(HintError, match="hair: 'purple' is not one of black"):
        ColourHint.parse("hair", "purple")
    with pytest.raises(ValueError):
        ColourHint.parse("beard", "black")


def test_no_hint_leaves_the_photo_byte_for_byte(result) -> None:
    photo, outcome = apply_hints(result.photo, result.intermediate_parsing, [])
    assert photo is result.photo and outcome.applied == {} and outcome.not_applied == {}


@pytest.mark.parametrize(
    ("region", "value"), [("hair", "blond"), ("skin", "6"), ("hair", "#703020")]
)
def test_a_hint_moves_its_region_to_the_colour_and_keeps_the_rest(result, region, value) -> None:
    hint = ColourHint.parse(region, value)
    class_map = result.intermediate_parsing
    photo, outcome = apply_hints(result.photo, class_map, [hint])
    target = srgb_to_oklab(np.array(hint.rgb, dtype=np.float64) / 255)
    before = _region_mean(result.photo, class_map, hint.region) - target
    after = _region_mean(photo, class_map, hint.region) - target
    # hue and chroma (a, b) move all the way; lightness LIGHTNESS_STRENGTH of the way
    assert np.linalg.norm(after[1:]) < 0.25 * np.linalg.norm(before[1:])
    assert abs(after[0]) <= (1 - LIGHTNESS_STRENGTH + 0.1) * abs(before[0]) + 0.01
    assert region in outcome.applied
    # far from the region nothing moves; inside it the shading (lightness spread) is kept
    from scipy import ndimage

    region_mask = np.isin(class_map, CLASSES[hint.region])
    if hint.region is HintRegion.SKIN:  # and the neck and ears, which have no class
        lab = srgb_to_oklab(np.asarray(result.photo, dtype=np.float64) / 255)
        region_mask |= uncovered_skin(class_map, lab)
    far = ~ndimage.binary_dilation(region_mask, iterations=EDGE_RADIUS + 1)
    assert np.array_equal(np.asarray(photo)[far], np.asarray(result.photo)[far])
    inside = np.isin(class_map, CLASSES[hint.region])
    spread = [
        srgb_to_oklab(np.asarray(i, dtype=np.float64) / 255)[inside][:, 0].std()
        for i in (result.photo, photo)
    ]
    assert spread[1] == pytest.approx(spread[0], rel=0.35)


def test_a_skin_hint_colours_the_neck_with_the_face(result) -> None:
    """The parsing has no neck class; the neck found from the photo's colours moves with
    the face, so a dark tone on a light guess leaves no light neck under a dark face."""
    class_map = result.intermediate_parsing
    lab_before = srgb_to_oklab(np.asarray(result.photo, dtype=np.float64) / 255)
    neck = uncovered_skin(class_map, lab_before)
    assert neck.sum() > 500  # this sketch's photo shows its neck
    photo, _ = apply_hints(result.photo, class_map, [ColourHint.parse("skin", "6")])
    lab_after = srgb_to_oklab(np.asarray(photo, dtype=np.float64) / 255)
    face = np.isin(class_map, CLASSES[HintRegion.SKIN])
    face_fall = lab_before[face][:, 0].mean() - lab_after[face][:, 0].mean()
    neck_fall = lab_before[neck][:, 0].mean() - lab_after[neck][:, 0].mean()
    assert face_fall > 0.1 and neck_fall > 0.6 * face_fall


def test_a_region_the_parsing_lacks_is_reported_not_ignored(result) -> None:
    bald = np.where(result.intermediate_parsing == 7, 0, result.intermediate_parsing)
    photo, outcome = apply_hints(result.photo, bald, [ColourHint.parse("hair", "red")])
    assert "hair" in outcome.not_applied and "no hair region" in outcome.not_applied["hair"]
    assert np.array_equal(np.asarray(photo), np.asarray(result.photo))


def test_eye_hints_colour_the_iris_not_the_whites(result) -> None:
    class_map = result.intermediate_parsing
    photo, _ = apply_hints(result.photo, class_map, [ColourHint.parse("eyes", "blue")])
    lab_before = srgb_to_oklab(np.asarray(result.photo, dtype=np.float64) / 255)
    lab_after = srgb_to_oklab(np.asarray(photo, dtype=np.float64) / 255)
    eyes = class_map == 3
    lightness = lab_before[..., 0][eyes]
    brightest = eyes.copy()
    brightest[eyes] = lightness >= np.percentile(lightness, 90)
    moved = np.abs(lab_after - lab_before).sum(axis=-1)
    assert moved[eyes & ~brightest].mean() > 3 * moved[brightest].mean()


def test_variations_span_the_palettes_where_no_hint_fixes_the_colour() -> None:
    fixed = [ColourHint.parse("skin", "4")]
    sets = variation_hints(fixed, 4)
    assert len(sets) == 4
    assert all(s[0] == fixed[0] for s in sets)
    hair = [next(h.value for h in s if h.region is HintRegion.HAIR) for s in sets]
    assert len(set(hair)) == 4
    assert all(sum(h.region is HintRegion.SKIN for h in s) == 1 for s in sets)
