"""A request's hints and variations applied to a real result (bundled model, CUFS sketch)."""

from __future__ import annotations

import numpy as np
import pytest

from isegan.model.colour.colouring import (
    ColourRequest,
    ColourRequestError,
    colour_result,
)
from isegan.model.colour.hints import PALETTES, HintRegion
from isegan.model.face_classes import FaceClass
from isegan.model.pipeline import FacePipeline
from isegan.model.weights.pretrained import default_generator_path, default_parser_path


@pytest.fixture(scope="module")
def result(cufs_sketches):
    pipeline = FacePipeline.from_files(
        default_generator_path(), default_parser_path(), device="cpu"
    )
    return pipeline(cufs_sketches[:1], align="false")[0]


def _request(variations: int = 0, **values: str) -> ColourRequest:
    return ColourRequest.parse(values, variations, max_variations=8)


def test_fields_parse_and_a_bad_one_is_named() -> None:
    request = _request(2, hair_colour="Black", skin_tone=" ", eye_colour="#4060A0")
    assert [(h.region, h.value) for h in request.hints] == [
        (HintRegion.HAIR, "black"),
        (HintRegion.EYES, "#4060a0"),
    ]  # a blank field is not given
    assert request.options() == {"hair_colour": "black", "eye_colour": "#4060a0", "variations": 2}
    with pytest.raises(ColourRequestError) as bad:
        _request(skin_tone="7")
    assert bad.value.field == "skin_tone" and str(bad.value).startswith("skin_tone: '7' is not")
    for count in (-1, 9):
        with pytest.raises(ColourRequestError) as too_many:
            _request(count)
        assert too_many.value.field == "variations"
    assert ColourRequest().empty and not _request(1).empty


def test_nothing_asked_leaves_the_result_itself(result) -> None:
    colouring = colour_result(result, ColourRequest())
    assert colouring.result is result and colouring.variations == ()
    assert colouring.record() is None


def test_hints_colour_the_photo_only_and_are_recorded(result) -> None:
    colouring = colour_result(result, _request(hair_colour="blond", skin_tone="5"))
    photo = np.asarray(colouring.result.photo, dtype=np.int16)
    assert np.abs(photo - np.asarray(result.photo, dtype=np.int16)).max() > 20
    assert colouring.result.stage1_photo is result.stage1_photo
    assert colouring.result.intermediate_parsing is result.intermediate_parsing
    record = colouring.record()
    assert record is not None
    assert record["hints"]["hair"] == {"value": "blond", "rgb": "#b2966c"}
    assert record["hints"]["skin"]["value"] == "5" and "not_applied" not in record


def test_variations_span_the_palettes_and_keep_the_hint_given(result) -> None:
    colouring = colour_result(result, _request(4, hair_colour="black"))
    assert [v.index for v in colouring.variations] == [1, 2, 3, 4]
    labels = [v.label for v in colouring.variations]
    assert len(set(labels)) == 4 and all(label.startswith("hair black") for label in labels)
    skins = {v.outcome.applied["skin"]["value"] for v in colouring.variations}
    assert len(skins) >= 3 and skins <= set(PALETTES[HintRegion.SKIN])
    pixels = {np.asarray(v.photo).tobytes() for v in colouring.variations}
    assert len(pixels) == 4  # four different photos
    record = colouring.record()
    assert record is not None and list(record["variations"]) == [
        "variation_1",
        "variation_2",
        "variation_3",
        "variation_4",
    ]
    assert record["variations"]["variation_2"]["label"] == labels[1]


def test_a_hint_with_no_region_is_reported_not_dropped(result) -> None:
    no_hair = result.intermediate_parsing.copy()
    no_hair[no_hair == FaceClass.HAIR] = FaceClass.BACKGROUND
    bald = type(result)(result.photo, result.stage1_photo, no_hair, result.sketch_parsing)
    colouring = colour_result(bald, _request(hair_colour="red", skin_tone="2"))
    record = colouring.record()
    assert record is not None
    assert "hair" not in record["hints"] and "skin" in record["hints"]
    assert "no hair region" in record["not_applied"]["hair"]
