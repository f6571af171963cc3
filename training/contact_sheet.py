"""Contact sheets: images with their parsing maps overlaid, for a person to review."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from isegan.model.face_classes import FACE_CLASS_COLOURS, FACE_CLASS_NAMES, colourise


def overlay(image: Image.Image, class_map: np.ndarray, opacity: float = 0.5) -> Image.Image:
    """Blend the class colours over the image (background pixels left as they are)."""
    base = np.asarray(image.convert("RGB"), dtype=np.float32)
    colours = colourise(class_map).astype(np.float32)
    blended = np.where((class_map > 0)[..., None], (1 - opacity) * base + opacity * colours, base)
    return Image.fromarray(blended.round().astype(np.uint8), mode="RGB")


def contact_sheet(
    rows: Sequence[Sequence[Image.Image]],
    captions: Sequence[str] = (),
    legend: bool = True,
    column_labels: Sequence[str] = (),
) -> Image.Image:
    """Grid of equally sized tiles, one caption per row, with a class-colour legend and
    (for sheets that compare models column by column) one label per column."""
    if not rows or not rows[0]:
        raise ValueError("a contact sheet needs at least one tile")
    tile_w, tile_h = rows[0][0].size
    caption_h = 14 if captions else 0
    legend_h = 16 if legend else 0
    header_h = 16 if column_labels else 0
    columns = max(len(row) for row in rows)
    sheet = Image.new(
        "RGB",
        (columns * tile_w, legend_h + header_h + len(rows) * (tile_h + caption_h)),
        "white",
    )
    draw = ImageDraw.Draw(sheet)
    if legend:
        x = 4
        for name, colour in zip(FACE_CLASS_NAMES, FACE_CLASS_COLOURS, strict=True):
            draw.rectangle((x, 3, x + 10, 13), fill=colour, outline="black")
            draw.text((x + 13, 2), name, fill="black")
            x += 16 + 7 * len(name)
    for c, label in enumerate(column_labels):
        draw.text((c * tile_w + 4, legend_h + 2), label, fill="black")
    for r, row in enumerate(rows):
        top = legend_h + header_h + r * (tile_h + caption_h)
        if captions:
            draw.text((4, top + 1), captions[r], fill="black")
        for c, tile in enumerate(row):
            sheet.paste(tile.convert("RGB").resize((tile_w, tile_h)), (c * tile_w, top + caption_h))
    return sheet
