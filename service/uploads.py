"""Turning uploaded bytes into images, or into a precise refusal.

Every check that can be done on the header (format, pixel count, size) runs before any
pixel is decoded, so a decompression bomb costs a few bytes of parsing, not memory.
"""

from __future__ import annotations

import hashlib
import io
import struct
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from isegan.model.face_classes import parsing_from_image
from isegan.model.preprocess import to_rgb
from isegan.service.http.problems import ProblemError, ProblemType


@dataclass(frozen=True)
class UploadLimits:
    max_pixels: int
    min_side: int
    formats: tuple[str, ...]


@dataclass(frozen=True)
class DecodedImage:
    image: Image.Image  # fully loaded, EXIF orientation applied
    format: str
    sha256: str  # of the uploaded bytes, as received


def decode_image(data: bytes, limits: UploadLimits, what: str = "sketch") -> DecodedImage:
    """Decode one uploaded image. Raises :class:`ProblemError` with 413, 415 or 422."""
    if not data:
        raise ProblemError(ProblemType.EMPTY_UPLOAD, f"the {what} upload is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=list(limits.formats))
    except UnidentifiedImageError as error:
        if looks_like_image(data):
            raise ProblemError(
                ProblemType.CORRUPT_IMAGE,
                f"the {what} starts like an image file but cannot be read (truncated or damaged)",
            ) from error
        raise ProblemError(
            ProblemType.UNSUPPORTED_IMAGE_FORMAT,
            f"the {what} is not an image in one of the accepted formats "
            f"({', '.join(limits.formats)})",
        ) from error
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ProblemError(ProblemType.TOO_MANY_PIXELS, str(error)) from error
    except (OSError, ValueError, SyntaxError) as error:  # a broken header
        raise ProblemError(
            ProblemType.CORRUPT_IMAGE, f"the {what} cannot be read: {error}"
        ) from error
    width, height = image.size
    if width * height > limits.max_pixels:
        raise ProblemError(
            ProblemType.TOO_MANY_PIXELS,
            f"the {what} is {width}x{height} = {width * height} pixels; the limit is "
            f"{limits.max_pixels}",
        )
    if min(width, height) < limits.min_side:
        raise ProblemError(
            ProblemType.IMAGE_TOO_SMALL,
            f"the {what} is {width}x{height}; both sides must be at least {limits.min_side} px",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
            oriented = ImageOps.exif_transpose(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ProblemError(ProblemType.TOO_MANY_PIXELS, str(error)) from error
    except (OSError, ValueError, SyntaxError, EOFError, struct.error) as error:
        raise ProblemError(
            ProblemType.CORRUPT_IMAGE, f"the {what} cannot be decoded: {error}"
        ) from error
    return DecodedImage(oriented, str(image.format), hashlib.sha256(data).hexdigest())


_SIGNATURES = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"GIF87a",
    b"GIF89a",
    b"BM",
    b"II*\0",
    b"MM\0*",
)


def looks_like_image(data: bytes) -> bool:
    """Magic bytes of a format we accept: a damaged file, not a wrong format."""
    if data.startswith(_SIGNATURES):
        return True
    return data[:4] == b"RIFF" and data[8:12] == b"WEBP"


def check_sketch_content(image: Image.Image) -> None:
    """A single-colour image holds no sketch; refuse it instead of inventing a face."""
    low, high = to_rgb(image).convert("L").getextrema()
    if low == high:
        raise ProblemError(
            ProblemType.BLANK_IMAGE,
            f"the sketch is a single flat colour (grey level {low}); there is nothing to draw from",
        )


def decode_parsing(data: bytes, limits: UploadLimits, size: tuple[int, int]) -> np.ndarray:
    """An examiner's parsing map: a palette (or greyscale) PNG of class indices 0..7, the
    same size as the sketch (after EXIF orientation)."""
    image = decode_image(data, limits, what="parsing map").image
    if image.size != size:
        raise ProblemError(
            ProblemType.INVALID_PARSING_MAP,
            f"the parsing map is {image.width}x{image.height} but the sketch is "
            f"{size[0]}x{size[1]}; they must match",
        )
    try:
        return parsing_from_image(image)  # the one check of mode and class indices
    except ValueError as error:
        raise ProblemError(ProblemType.INVALID_PARSING_MAP, str(error)) from error


def sniff_format(data: bytes, limits: UploadLimits) -> str:
    """The Pillow format of an upload, from its header only (no pixels decoded)."""
    try:
        with Image.open(io.BytesIO(data), formats=list(limits.formats)) as image:
            return str(image.format)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as error:
        raise ProblemError(
            ProblemType.UNSUPPORTED_IMAGE_FORMAT,
            f"the upload is not an image in one of the accepted formats ({error})",
        ) from error
