"""Identity in evaluation: the gallery of real photos, scoring outputs against it, and
the calibration ladder that says what a score means.

The gallery holds every real photo of a data folder (``photos/``), so a test output
must pick its own person out of the test and the training identities. The ladder
scores the real test photos themselves, then the same photos degraded in ways that keep
the person (blur, a tone shift, down-scaling): a reader can place a model's number
between "the real photo" and "a blurred copy of it".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from isegan.model.identity.face_recognition import FaceRecognizer
from isegan.training.evaluation.quality.identity import IdentityScores, identity_scores
from isegan.training.pairs import IMAGE_SUFFIXES, read_rgb


@dataclass(frozen=True)
class IdentityGallery:
    """Descriptors of every real photo, by ID, and the recognizer that made them."""

    recognizer: FaceRecognizer
    ids: tuple[str, ...]
    descriptors: np.ndarray  # (G, 128)

    @classmethod
    def from_folder(cls, recognizer: FaceRecognizer, photos: Path) -> IdentityGallery:
        paths = sorted(p for p in photos.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if len(paths) < 2:
            raise ValueError(f"{photos} needs at least two photos to identify against")
        images = [_cufs_array(Image.fromarray(read_rgb(p))) for p in paths]
        return cls(recognizer, tuple(p.stem for p in paths), recognizer.describe_arrays(images))

    def score(self, ids: Sequence[str], images: Sequence[Image.Image]) -> IdentityScores:
        """Identify ``images`` (CUFS frame), image i being the person of photo ``ids[i]``."""
        position = {pair_id: index for index, pair_id in enumerate(self.ids)}
        missing = [i for i in ids if i not in position]
        if missing:
            raise ValueError(f"the gallery has no real photo for {missing[:5]}")
        queries = self.recognizer.describe_arrays([_cufs_array(i) for i in images])
        return identity_scores(queries, self.descriptors, [position[i] for i in ids])

    def describe(self) -> dict[str, object]:
        return {
            "recognizer": self.recognizer.source.describe(),
            "gallery_photos": len(self.ids),
            "chip": "150x150, fixed CUFS-frame transform from dlib's 5-point template",
            "threshold": "Euclidean distance 0.6, dlib's same-person threshold",
        }


def _cufs_array(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def _tone_shift(image: Image.Image) -> Image.Image:
    """Gamma 1.5 and 80 % contrast: a darker, flatter print of the same face."""
    array = np.asarray(image.convert("RGB"), dtype=np.float64) / 255
    shifted = 0.1 + 0.8 * array**1.5
    return Image.fromarray(np.round(shifted * 255).astype(np.uint8))


def _blur(radius: float) -> Callable[[Image.Image], Image.Image]:
    return lambda image: image.filter(ImageFilter.GaussianBlur(radius=radius))


def _downscale(factor: int) -> Callable[[Image.Image], Image.Image]:
    """1/factor of the resolution, scaled back up."""

    def change(image: Image.Image) -> Image.Image:
        size = (image.width // factor, image.height // factor)
        small = image.resize(size, Image.Resampling.BILINEAR)
        return small.resize(image.size, Image.Resampling.BICUBIC)

    return change


#: The ladder's rungs: a name and how the real photo is changed, mildest first.
CALIBRATION_RUNGS: tuple[tuple[str, Callable[[Image.Image], Image.Image]], ...] = (
    ("real photo itself", lambda image: image.copy()),
    ("real photo, gamma 1.5 and 80 % contrast", _tone_shift),
    ("real photo, Gaussian blur radius 2", _blur(2)),
    ("real photo, 4x down-scaled and back", _downscale(4)),
    ("real photo, Gaussian blur radius 5", _blur(5)),
    ("real photo, 8x down-scaled and back", _downscale(8)),
)
