"""Contact sheets place every tile where a reader expects it, under its column label."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from isegan.training.contact_sheet import contact_sheet


def _tile(value: int) -> Image.Image:
    return Image.new("RGB", (20, 30), (value, 0, 0))


def test_tiles_sit_below_the_column_labels_and_row_captions() -> None:
    rows = [[_tile(10), _tile(20), _tile(30)], [_tile(40), _tile(50), _tile(60)]]
    sheet = contact_sheet(rows, captions=["a", "b"], legend=False, column_labels=["x", "y", "z"])
    assert sheet.size == (60, 16 + 2 * (14 + 30))
    pixels = np.asarray(sheet)
    header = pixels[:16]
    assert (header < 255).any(), "the column labels are drawn in the header band"
    for r, row in enumerate(rows):
        for c, tile in enumerate(row):
            top, left = 16 + r * 44 + 14, c * 20
            assert tuple(pixels[top + 15, left + 10]) == tile.getpixel((0, 0))


def test_without_labels_the_sheet_has_no_header_band() -> None:
    sheet = contact_sheet([[_tile(90)]], legend=False)
    assert sheet.size == (20, 30)
    assert sheet.getpixel((0, 0)) == (90, 0, 0)


def test_an_empty_sheet_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one tile"):
        contact_sheet([])
