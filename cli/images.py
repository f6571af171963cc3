"""Reading input images and writing outputs for the command line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from isegan.model.face_classes import parsing_to_image


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


#: Suffixes taken from a folder given as input (files named explicitly are always tried).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm")


def expand_inputs(inputs: list[Path]) -> list[Path]:
    """Files as given; folders replaced by their image files, sorted by name."""
    expanded: list[Path] = []
    for path in inputs:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise InputError(f"{path}: folder holds no images ({', '.join(IMAGE_SUFFIXES)})")
            expanded.extend(found)
        else:
            expanded.append(path)
    return expanded
