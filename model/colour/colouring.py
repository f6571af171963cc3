"""One synthesis result coloured as asked: the hints applied to the photo, and variations.

The service (on its inference worker, before the photos are watermarked) and ``isegan
synthesize`` both call :func:`colour_result`, so a hint does the same in either. Hints act
on the final photo (Y2) and so on the photo warped back onto the input; stage I's photo
and the parsing maps are left as the networks made them.

Variations exist because the sketch does not determine colour: where no hint fixes a
region, each variation takes another colour from its palette, so an examiner shows a
range of faces instead of one guessed colouring (docs/colour.md).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from isegan.model.colour.hints import (
    ColourHint,
    HintError,
    HintOutcome,
    HintRegion,
    apply_hints,
    variation_hints,
)
from isegan.model.pipeline import PipelineResult

#: The request field (API form field, CLI option without its dashes) of each region.
HINT_FIELDS: dict[HintRegion, str] = {
    HintRegion.HAIR: "hair_colour",
    HintRegion.SKIN: "skin_tone",
    HintRegion.EYES: "eye_colour",
}


#: The most variations anything asks for (the service's own limit, max_variations, is
#: lower by default): each is a full photo, watermarked and signed.
MAX_VARIATIONS = 32


class ColourRequestError(ValueError):
    """A hint or variation count that cannot be used; ``field`` names the request field
    (the message starts with it; ``reason`` is the rest)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


@dataclass(frozen=True)
class ColourRequest:
    """The hints one request gives (one per region at most) and how many variations."""

    hints: tuple[ColourHint, ...] = ()
    variations: int = 0

    @classmethod
    def parse(
        cls,
        values: dict[str, str | None],
        variations: int | None = None,
        *,
        max_variations: int,
    ) -> ColourRequest:
        """From the request fields (``hair_colour``, ``skin_tone``, ``eye_colour``; None or
        blank: not given). Raises :class:`ColourRequestError` naming the bad field."""
        hints = []
        for region, name in HINT_FIELDS.items():
            value = values.get(name)
            if value is None or not value.strip():
                continue
            try:
                hints.append(ColourHint.parse(region, value))
            except HintError as error:
                raise ColourRequestError(name, error.reason) from None
        count = variations or 0
        if not 0 <= count <= max_variations:
            raise ColourRequestError("variations", f"{count} is not between 0 and {max_variations}")
        return cls(tuple(hints), count)

    @property
    def empty(self) -> bool:
        return not self.hints and self.variations == 0

    def options(self) -> dict[str, str | int]:
        """The request's colour options as given, for the record's ``options``."""
        given: dict[str, str | int] = {HINT_FIELDS[h.region]: h.value for h in self.hints}
        if self.variations:
            given["variations"] = self.variations
        return given


@dataclass(frozen=True)
class ColourVariation:
    """One labelled colouring of the photo: variation ``index`` (1-based)."""

    index: int
    photo: Image.Image
    outcome: HintOutcome

    @property
    def label(self) -> str:
        """What it shows, e.g. ``hair black, skin 3, eyes brown``."""
        applied = self.outcome.applied.items()
        return ", ".join(f"{region} {hint['value']}" for region, hint in applied)


@dataclass(frozen=True)
class Colouring:
    """A result with the hints applied to its photo, the variations, and what became of
    each hint (an unusable one is reported, never dropped in silence)."""

    result: PipelineResult
    outcome: HintOutcome
    variations: tuple[ColourVariation, ...] = ()
    seconds: float = 0.0
    request: ColourRequest = field(default_factory=ColourRequest)

    def record(self) -> dict[str, Any] | None:
        """The record's ``colour`` section (None when nothing was asked): the hints
        applied, those not applied with the reason, and each variation's colours."""
        if self.request.empty:
            return None
        section: dict[str, Any] = {"hints": self.outcome.applied}
        if self.outcome.not_applied:
            section["not_applied"] = self.outcome.not_applied
        if self.variations:
            section["variations"] = {
                f"variation_{v.index}": _variation_record(v) for v in self.variations
            }
        return section


def _variation_record(variation: ColourVariation) -> dict[str, Any]:
    entry: dict[str, Any] = {"label": variation.label, "hints": variation.outcome.applied}
    if variation.outcome.not_applied:
        entry["not_applied"] = variation.outcome.not_applied
    return entry


def colour_result(result: PipelineResult, request: ColourRequest) -> Colouring:
    """The result with ``request``'s hints applied to the photo (the same object when
    nothing is asked, so the photo is byte for byte the networks'), and its variations,
    each coloured from the networks' photo."""
    if request.empty:
        return Colouring(result, HintOutcome({}, {}), request=request)
    started = time.perf_counter()
    hinted, outcome = apply_hints(result.photo, result.intermediate_parsing, list(request.hints))
    coloured = dataclasses.replace(result, photo=hinted) if request.hints else result
    variations = tuple(
        ColourVariation(index, *apply_hints(result.photo, result.intermediate_parsing, hints))
        for index, hints in enumerate(
            variation_hints(list(request.hints), request.variations), start=1
        )
    )
    return Colouring(coloured, outcome, variations, time.perf_counter() - started, request)
