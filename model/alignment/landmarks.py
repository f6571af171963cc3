"""Facial landmarks and a person mask from MediaPipe (FaceMesh, 478 points; selfie
segmentation), the offline models the pseudo-labels are built from.

MediaPipe 0.10.14 is the last release that ships ``mediapipe.solutions`` with its models
inside the wheel (Apache-2.0). Install it with ``pip install --no-deps
mediapipe==0.10.14`` plus the ``labels`` extra: its declared dependencies would pull
jax and opencv-contrib (~1 GB) that these two models never use.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

import numpy as np

from isegan.model.errors import MissingComponentError

INSTALL_HINT = (
    "face landmarks (alignment, pseudo-labels) need MediaPipe 0.10.14: "
    "pip install 'isegan[labels]' && pip install --no-deps mediapipe==0.10.14"
)

# Ordered outlines on MediaPipe's canonical face mesh. "Right" is the subject's right,
# which is on the image's left. Consecutive indices are edges of the mesh's own
# FACEMESH_* connection sets (checked by a test).
FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip
LIPS_OUTER = (
    61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146,
)  # fmt: skip
LIPS_INNER = (
    78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95,
)  # fmt: skip
RIGHT_EYE = (33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7)
LEFT_EYE = (362, 398, 384, 385, 386, 387, 388, 466, 263, 249, 390, 373, 374, 380, 381, 382)
RIGHT_BROW = (70, 63, 105, 66, 107, 55, 65, 52, 53, 46)  # upper edge, then lower edge back
LEFT_BROW = (300, 293, 334, 296, 336, 285, 295, 282, 283, 276)
# FACEMESH_NOSE without the two points between the eyes (168, 6), which would widen the
# hull into the eye corners; the nose then starts at the bridge (197) as in CelebAMask-HQ.
NOSE_POINTS = (
    1, 2, 4, 5, 19, 45, 48, 64, 94, 97, 98, 115, 195, 197, 220, 275, 278, 294, 326, 327, 344,
    440,
)  # fmt: skip
RIGHT_IRIS_CENTRE = 468
LEFT_IRIS_CENTRE = 473
NOSE_TIP = 4
MOUTH_CORNERS = (61, 291)


def _import_mediapipe() -> Any:
    try:
        import mediapipe
    except ImportError:
        raise MissingComponentError(INSTALL_HINT) from None
    return mediapipe


class FaceLandmarker:
    """Single-face FaceMesh plus selfie segmentation; use as a context manager."""

    def __init__(self, min_detection_confidence: float = 0.3) -> None:
        mediapipe = _import_mediapipe()
        solutions = mediapipe.solutions
        self._mesh = solutions.face_mesh.FaceMesh(
            static_image_mode=True,
            refine_landmarks=True,
            max_num_faces=1,
            min_detection_confidence=min_detection_confidence,
        )
        self._segmenter = solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)
        # MediaPipe's solution graphs are not documented as thread-safe: one call at a time
        # (the service aligns on more than one thread).
        self._lock = threading.Lock()

    def __enter__(self) -> FaceLandmarker:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._mesh.close()
        self._segmenter.close()

    def landmarks(self, rgb: np.ndarray) -> np.ndarray | None:
        """(478, 2) landmark positions in pixels (x, y), or None when no face is found."""
        with self._lock:
            result = self._mesh.process(np.ascontiguousarray(rgb, dtype=np.uint8))
        if not result.multi_face_landmarks:
            return None
        height, width = rgb.shape[:2]
        points = result.multi_face_landmarks[0].landmark
        return np.array([(p.x * width, p.y * height) for p in points], dtype=np.float32)

    def person_probability(self, rgb: np.ndarray) -> np.ndarray:
        """(H, W) probability that a pixel belongs to the person (not the backdrop)."""
        with self._lock:
            result = self._segmenter.process(np.ascontiguousarray(rgb, dtype=np.uint8))
        return np.asarray(result.segmentation_mask, dtype=np.float32)
