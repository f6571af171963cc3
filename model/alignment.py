"""Face alignment to the CUFS frame: eyes where the training data has them.

The model was trained on CUFS images (200x250, w x h) whose eyes sit at fixed positions.
An arbitrary upload is detected with FaceMesh, and the similarity transform (rotation,
uniform scale, shift) that puts its iris centres on the CUFS positions warps it into that
frame. Results can be warped back onto the input. Inputs that are already CUFS-aligned
are passed through untouched.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from isegan.model.landmarks import LEFT_IRIS_CENTRE, RIGHT_IRIS_CENTRE, FaceLandmarker
from isegan.model.preprocess import to_rgb

#: CUFS frame (width, height) and the mean iris centres (x, y) of its 288 photos and 288
#: sketches as FaceMesh finds them (spread about 0.5 px), image-left eye first.
CUFS_SIZE = (200, 250)
CUFS_EYES = np.array([[74.80, 125.01], [125.11, 124.98]], dtype=np.float64)

# A CUFS-sized input whose eyes are this close to the template counts as already aligned
# (FaceMesh's own scatter on CUFS images is about 0.5 px; 3 px is 6 % of the eye distance).
ALIGNED_TOLERANCE_PX = 3.0


class NoFaceFoundError(ValueError):
    """Alignment was asked for, but no face was detected in the image."""


@dataclass(frozen=True)
class Alignment:
    """The aligned image and the 2x3 matrix that maps input pixels to aligned pixels."""

    image: Image.Image  # CUFS-sized RGB
    matrix: np.ndarray  # (2, 3), input -> aligned
    input_size: tuple[int, int]  # (width, height)
    identity: bool  # the input was already aligned and is returned as it was
    eyes: np.ndarray  # (2, 2) iris centres found in the input

    def warp_back(self, aligned_output: Image.Image, background: Image.Image) -> Image.Image:
        """Place an output made in the aligned frame back onto the input frame; pixels the
        aligned frame does not cover keep ``background`` (typically the input itself)."""
        if self.identity:
            return aligned_output.copy()
        inverse = _invert(self.matrix)
        width, height = self.input_size
        warped = _warp(aligned_output.convert("RGB"), inverse, (width, height))
        coverage = _warp(Image.new("L", aligned_output.size, 255), inverse, (width, height))
        base = to_rgb(background).resize((width, height))
        return Image.composite(warped, base, coverage.point(lambda v: 255 if v > 127 else 0))


def similarity_from_eyes(eyes: np.ndarray, target: np.ndarray = CUFS_EYES) -> np.ndarray:
    """The 2x3 similarity transform that maps the two ``eyes`` exactly onto ``target``."""
    source_vector = eyes[1] - eyes[0]
    target_vector = target[1] - target[0]
    if np.linalg.norm(source_vector) < 1e-6:
        raise NoFaceFoundError("the detected eyes coincide; cannot align")
    scale = np.linalg.norm(target_vector) / np.linalg.norm(source_vector)
    angle = np.arctan2(target_vector[1], target_vector[0]) - np.arctan2(
        source_vector[1], source_vector[0]
    )
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    shift = target[0] - rotation @ eyes[0]
    return np.hstack([rotation, shift[:, None]])


def _invert(matrix: np.ndarray) -> np.ndarray:
    full = np.vstack([matrix, [0.0, 0.0, 1.0]])
    return np.linalg.inv(full)[:2]


def _warp(image: Image.Image, matrix: np.ndarray, size: tuple[int, int]) -> Image.Image:
    """Apply a forward 2x3 map (source -> destination) with bicubic sampling."""
    inverse = _invert(matrix)  # PIL wants destination -> source coefficients
    coefficients = tuple(inverse.reshape(-1).tolist())
    return image.transform(size, Image.Transform.AFFINE, coefficients, Image.Resampling.BICUBIC)


def eyes_match_template(eyes: np.ndarray, tolerance: float = ALIGNED_TOLERANCE_PX) -> bool:
    """Whether both eyes already sit within ``tolerance`` pixels of the CUFS positions."""
    return bool(np.abs(eyes - CUFS_EYES).max() <= tolerance)


def align_face(image: Image.Image, landmarker: FaceLandmarker) -> Alignment:
    """Warp ``image`` so its eyes land on the CUFS positions; raise if no face is found."""
    rgb = to_rgb(image)
    points = landmarker.landmarks(np.asarray(rgb))
    if points is None:
        raise NoFaceFoundError("no face found in the image; alignment needs a visible face")
    eyes = points[[RIGHT_IRIS_CENTRE, LEFT_IRIS_CENTRE]].astype(np.float64)
    if rgb.size == CUFS_SIZE and eyes_match_template(eyes):
        return Alignment(rgb, np.eye(2, 3), rgb.size, True, eyes)
    matrix = similarity_from_eyes(eyes)
    aligned = _warp_replicate(rgb, matrix)
    return Alignment(aligned, matrix, rgb.size, False, eyes)


def _warp_replicate(rgb: Image.Image, matrix: np.ndarray) -> Image.Image:
    """Warp into the CUFS frame; areas outside the input repeat its border pixels (as the
    canvas padding does) instead of turning black."""
    width, height = rgb.size
    pad = max(width, height)
    array = np.asarray(rgb)
    padded = np.pad(array, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    shifted = matrix.copy()
    shifted[:, 2] -= shifted[:, :2] @ np.array([pad, pad], dtype=np.float64)
    return _warp(Image.fromarray(padded), shifted, CUFS_SIZE)
