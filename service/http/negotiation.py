"""Choosing between the JSON body and a bare image from the Accept header."""

from __future__ import annotations

from typing import Literal

from isegan.provenance.media_labels import OutputFormat
from isegan.service.http.problems import ProblemError, ProblemType

Representation = Literal["json", "png", "jpeg", "webp"]

_BY_MEDIA_TYPE: dict[str, Representation] = {
    "application/json": "json",
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/webp": "webp",
}


def _ranges(accept: str) -> list[tuple[str, float]]:
    ranges = []
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        if not fields[0]:
            continue
        quality = 1.0
        for parameter in fields[1:]:
            if parameter.startswith("q="):
                try:
                    quality = float(parameter[2:])
                except ValueError:
                    quality = 0.0
        ranges.append((fields[0].lower(), quality))
    return ranges


def negotiate(accept: str | None, requested_format: OutputFormat) -> Representation:
    """JSON unless the client prefers an image type; ``image/*`` means the ``format``
    option. A header that accepts none of them is a 406."""
    if not accept:
        return "json"
    best: tuple[float, int, Representation] | None = None
    for order, (media_range, quality) in enumerate(_ranges(accept)):
        if quality <= 0:
            continue
        if media_range in ("*/*", "application/*"):
            choice: Representation | None = "json"
        elif media_range == "image/*":
            choice = requested_format
        else:
            choice = _BY_MEDIA_TYPE.get(media_range)
        if choice is not None and (best is None or (quality, -order) > best[:2]):
            best = (quality, -order, choice)
    if best is None:
        raise ProblemError(
            ProblemType.NOT_ACCEPTABLE,
            f"cannot answer with any of {accept!r}; offered: application/json, image/png, "
            "image/jpeg, image/webp",
        )
    return best[2]
