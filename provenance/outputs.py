"""The outputs a synthesis hands out, named once.

The API's ``outputs`` option and its schema, the CLI's file names, which outputs carry
the watermark and which the client may ask for all derive from :class:`Output`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Output(StrEnum):
    """One file a synthesis can produce (the value is its name in the API and records)."""

    PHOTO = "photo"  # Y2, the final photo
    PARSING = "parsing"  # P_int, the intermediate parsing, as a palette PNG
    STAGE1_PHOTO = "stage1_photo"  # Y1, stage I's photo
    SKETCH_PARSING = "sketch_parsing"  # P_s, the sketch's parsing
    # The photo warped back onto the input, where the examiner drew the face; not asked
    # for: it joins the photo whenever alignment warped the sketch.
    PHOTO_ON_INPUT = "photo_on_input"

    @property
    def is_photo(self) -> bool:
        """Photos carry the invisible watermark; a parsing map's pixels are labels."""
        return self in (Output.PHOTO, Output.STAGE1_PHOTO, Output.PHOTO_ON_INPUT)

    def file_name(self, stem: str) -> str:
        """The file the CLI writes this output to, for the sketch named ``stem``."""
        return stem + _SUFFIXES[self]


@dataclass(frozen=True)
class Variation:
    """The ``index``-th colouring of the photo (1-based) that a request for variations
    gets back: a photo like :attr:`Output.PHOTO`, so it is watermarked, signed and
    recorded as one."""

    index: int

    is_photo = True

    def __str__(self) -> str:
        return f"variation_{self.index}"

    def file_name(self, stem: str) -> str:
        return f"{stem}.variation-{self.index}.png"


#: A name an output is handed out under.
OutputName = Output | Variation

_SUFFIXES = {
    Output.PHOTO: ".png",
    Output.PARSING: ".parsing.png",
    Output.STAGE1_PHOTO: ".stage1.png",
    Output.SKETCH_PARSING: ".sketch-parsing.png",
    Output.PHOTO_ON_INPUT: ".on-input.png",
}

#: What a request may name in ``outputs``, in the order the docs list them.
REQUESTABLE: tuple[Output, ...] = (
    Output.PHOTO,
    Output.PARSING,
    Output.STAGE1_PHOTO,
    Output.SKETCH_PARSING,
)
#: Returned when a request names none.
DEFAULT_OUTPUTS: tuple[Output, ...] = (Output.PHOTO, Output.PARSING)
#: What the CLI's ``--extras`` adds.
EXTRA_OUTPUTS: tuple[Output, ...] = (Output.STAGE1_PHOTO, Output.SKETCH_PARSING)
