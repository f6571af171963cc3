"""The colour hints and variations a request gives (form fields or query parameters).

A hint is a palette name or a ``#rrggbb`` colour per region (model/colour/hints.py); a
bad value, or more variations than the service allows, is a 422 ``invalid-options``
whose ``errors`` name the field.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, Query

from isegan.model.colour.colouring import HINT_FIELDS, ColourRequest, ColourRequestError
from isegan.model.colour.hints import PALETTES
from isegan.service.dependencies import Settings, given_once
from isegan.service.http.problems import ProblemError, ProblemType

_REGION_OF = {name: region for region, name in HINT_FIELDS.items()}


def _describe(name: str) -> str:
    palette = ", ".join(PALETTES[_REGION_OF[name]])
    return f"One of {palette}, or a #rrggbb colour (docs/colour.md)."


def _hint_form(name: str) -> object:
    return Form(alias=name, description=_describe(name), max_length=32)


def _hint_query(name: str) -> object:
    return Query(alias=name, description=_describe(name), max_length=32)


_VARIATIONS = (
    "How many labelled colourings to return besides the photo (variation_1, ...), "
    "spanning each palette where no hint fixes the colour; at most the service's "
    "max_variations. The sketch does not determine colour: variations show that."
)


async def colour_options(
    settings: Settings,
    hair_form: Annotated[str | None, _hint_form("hair_colour")] = None,
    skin_form: Annotated[str | None, _hint_form("skin_tone")] = None,
    eyes_form: Annotated[str | None, _hint_form("eye_colour")] = None,
    variations_form: Annotated[
        int | None, Form(alias="variations", ge=0, description=_VARIATIONS)
    ] = None,
    hair_query: Annotated[str | None, _hint_query("hair_colour")] = None,
    skin_query: Annotated[str | None, _hint_query("skin_tone")] = None,
    eyes_query: Annotated[str | None, _hint_query("eye_colour")] = None,
    variations_query: Annotated[
        int | None, Query(alias="variations", ge=0, description=_VARIATIONS)
    ] = None,
) -> ColourRequest:
    """Each field once, as a form field or a query parameter."""
    values = {
        "hair_colour": given_once("hair_colour", hair_form, hair_query),
        "skin_tone": given_once("skin_tone", skin_form, skin_query),
        "eye_colour": given_once("eye_colour", eyes_form, eyes_query),
    }
    variations = given_once("variations", variations_form, variations_query)
    try:
        return ColourRequest.parse(values, variations, max_variations=settings.max_variations)
    except ColourRequestError as error:
        raise ProblemError(
            ProblemType.INVALID_OPTIONS,
            str(error),
            errors=[{"loc": ["body", error.field], "msg": str(error), "type": "invalid-options"}],
        ) from None


Colour = Annotated[ColourRequest, Depends(colour_options)]
