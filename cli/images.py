"""Reading input images and writing outputs for the command line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from isegan.model.labels import parsing_to_image


class InputError(ValueError):
    """A user-supplied file cannot be used; the message says which and why."""


def read_image(path: Path) -> Image.Image:
    """Open an image fully (so errors surface here) with its EXIF orientation applied."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        with Image.open(path) as image:
            image.load()
            return ImageOps.exif_transpose(image)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:
        raise InputError(f"{path}: not a readable image ({error})") from error


def write_png(image: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG")


def write_parsing_png(class_map: np.ndarray, path: Path) -> None:
    """Palette PNG: pixel values are class indices, the palette shows the class colours."""
    write_png(parsing_to_image(class_map), path)


def output_stems(inputs: list[Path]) -> list[str]:
    """Output name per input; refuses two inputs that would write the same files."""
    stems = [path.stem for path in inputs]
    seen: dict[str, Path] = {}
    for stem, path in zip(stems, inputs, strict=True):
        if stem in seen:
            raise InputError(f"{seen[stem]} and {path} would both write '{stem}.png'; rename one")
        seen[stem] = path
    return stems
