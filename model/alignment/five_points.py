"""Face detection and five landmarks with dlib, the landmark backend of alignment.

dlib's frontal face detector (HOG features and a linear classifier, built into dlib,
Boost Software License) finds the face; dlib's 5-point shape predictor (the outer and
inner corner of each eye and the bottom of the nose; ``shape_predictor_5_face_landmarks.dat``
from the ``face-recognition-models`` package, released into the public domain by its
author) places the points. Both install from PyPI as wheels with the default install
(``dlib-bin``, ``face-recognition-models``) and need no download at run time, unlike
MediaPipe, whose declared dependencies pull jax and OpenCV.

The points come in the 5-point model's order: image-right eye outer and inner corner,
image-left eye outer and inner corner, bottom of the nose.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from isegan.model.errors import MissingComponentError

MODEL_FILE = "shape_predictor_5_face_landmarks.dat"
INSTALL_HINT = (
    "face alignment needs dlib and its 5-point landmark model: "
    "pip install dlib-bin face-recognition-models (both come with pip install isegan)"
)
#: Detection runs on a copy whose longer side is at most this many pixels (a phone
#: photo of a drawing is 4000 px wide; the HOG detector's cost grows with the area and
#: its smallest face is 80 px, 40 px with one upsampling).
DETECTION_MAX_SIDE = 640
#: When nothing is found, look again at twice the size if the copy's longer side is under
#: this, so faces under 80 px are found too. (All 576 bundled CUFS images, 200x250, are
#: found at their own size, at about a third of the upsampled cost.)
UPSAMPLE_BELOW = 400


def _import_dlib() -> Any:
    try:
        import dlib
    except ImportError:
        raise MissingComponentError(INSTALL_HINT) from None
    return dlib


def locate_five_point_model() -> Path:
    """The 5-point model file of the installed ``face-recognition-models`` package."""
    from isegan.model.identity.face_recognition import locate_packaged_model

    path = locate_packaged_model(MODEL_FILE)
    if path is None:
        raise MissingComponentError(INSTALL_HINT)
    return path


#: Which of the five points a point becomes in the mirrored image: each eye's outer and
#: inner corner become the other eye's; the nose stays the nose.
MIRRORED_POINTS = [2, 3, 0, 1, 4]


class FivePointLandmarker:
    """The largest frontal face's five points, or None when there is no face.

    dlib's detector and predictor are not documented as thread-safe, so one lock
    serialises calls (a call takes milliseconds)."""

    def __init__(self, model_path: str | Path | None = None) -> None:
        dlib = _import_dlib()
        path = Path(model_path) if model_path is not None else locate_five_point_model()
        self._dlib = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(str(path))
        self._lock = threading.Lock()

    def points(self, rgb: np.ndarray) -> np.ndarray | None:
        """(5, 2) float pixel coordinates in ``rgb`` (H, W, 3 uint8), or None."""
        grey = _to_grey(rgb)
        height, width = grey.shape
        scale = min(1.0, DETECTION_MAX_SIDE / max(height, width))
        small = grey if scale == 1.0 else _resize(grey, scale)
        with self._lock:
            boxes = list(self._detector(small, 0))
            if not boxes and max(small.shape) < UPSAMPLE_BELOW:
                boxes = list(self._detector(small, 1))
            if not boxes:
                return None
            box = max(boxes, key=lambda b: b.width() * b.height())
            full = self._dlib.rectangle(
                round(box.left() / scale),
                round(box.top() / scale),
                round(box.right() / scale),
                round(box.bottom() / scale),
            )
            found = self._predict(grey, full)
            # The same face mirrored, with the mirrored box: the predictor's errors are
            # not mirror-symmetric, and its points are whole pixels, so the mean of the
            # two readings is steadier (docs/model.md, "Face alignment").
            last = width - 1
            mirrored_box = self._dlib.rectangle(
                last - full.right(), full.top(), last - full.left(), full.bottom()
            )
            mirrored = self._predict(np.ascontiguousarray(grey[:, ::-1]), mirrored_box)
        mirrored[:, 0] = last - mirrored[:, 0]
        return np.asarray((found + mirrored[MIRRORED_POINTS]) / 2)

    def _predict(self, grey: np.ndarray, box: Any) -> np.ndarray:
        shape = self._predictor(grey, box)
        return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)


def greyscale(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma of an (H, W, 3) image, as floats in [0, 255]."""
    luma: np.ndarray = np.asarray(rgb[..., :3], dtype=np.float64) @ np.array([0.299, 0.587, 0.114])
    return luma


def _to_grey(rgb: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.clip(greyscale(rgb), 0, 255).astype(np.uint8))


def _resize(grey: np.ndarray, scale: float) -> np.ndarray:
    from PIL import Image

    height, width = grey.shape
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(grey).resize(size, Image.Resampling.BILINEAR))
