"""Face alignment to the CUFS frame: eyes where the training data has them.

The model was trained on CUFS images (200x250, w x h) whose faces sit at fixed positions.
An arbitrary upload is detected, and the similarity transform (rotation, uniform scale,
shift) that best puts its landmarks on the CUFS positions warps it into that frame.
Results can be warped back onto the input. Inputs that are already CUFS-aligned are
passed through untouched.

Two landmark backends: dlib's frontal detector with its 5-point model (the default, in
the default install; the fit uses the two iris centres, each found between its eye's
corners by :mod:`.iris`, as CUFS is framed by its eyes) and MediaPipe FaceMesh's iris
centres (optional, ``isegan[labels]``). ``scripts/measure_alignment.py`` compares them;
``scripts/measure_alignment_gap.py`` measures what alignment costs the photo.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
from PIL import Image

from isegan.model.alignment.face_chips import similarity_transform
from isegan.model.alignment.five_points import FivePointLandmarker
from isegan.model.alignment.iris import eye_centres
from isegan.model.alignment.landmarks import LEFT_IRIS_CENTRE, RIGHT_IRIS_CENTRE, FaceLandmarker
from isegan.model.cufs_frame import CUFS_SIZE
from isegan.model.preprocess import to_rgb

LandmarkBackend = Literal["dlib", "mediapipe"]
LANDMARK_BACKENDS: tuple[str, ...] = get_args(LandmarkBackend)
#: What each backend's eye positions are, for the record: the method, so an output made
#: before a change in how the eyes are read is told apart from one made after.
EYE_CENTRES: dict[LandmarkBackend, str] = {
    "dlib": "iris between dlib 5-point eye corners",
    "mediapipe": "FaceMesh iris centres",
}
#: The ``align`` choice of the pipeline, the CLI and the API: "auto" aligns anything that
#: is not already in the CUFS frame and leaves a supplied parsing map's frame alone.
AlignMode = Literal["auto", "true", "false"]

#: The mean iris centres in the CUFS frame (x, y) of its 288 photos and 288
#: sketches as FaceMesh finds them (spread about 0.5 px), image-left eye first.
CUFS_EYES = np.array([[74.80, 125.01], [125.11, 124.98]], dtype=np.float64)
#: The same for dlib's 5-point model: the iris centres :func:`.iris.eye_centres` finds
#: between the corners, the mean over the 288 CUFS sketches (spread 0.69 px in the
#: median; scripts/measure_iris_template.py).
CUFS_IRIS_EYES = np.array([[74.67, 126.06], [124.78, 126.04]], dtype=np.float64)

# A CUFS-sized input whose eyes are this close to the template counts as already aligned.
# FaceMesh's own scatter on CUFS images is about 0.5 px, so 3 px (6 % of the eye
# distance) for it. dlib's iris centres scatter more: on the 288 bundled sketches the
# largest coordinate deviation is 0.84 px in the median and 2.7 px at most, and up to
# 4.2 px on the test sketches rendered as line art, so 6 px for it; every bundled sketch
# then passes through untouched (and every photo but ar-071, whose eye corners dlib
# places 10 px low, as it did before the irises were read).
ALIGNED_TOLERANCE_PX: dict[LandmarkBackend, float] = {"mediapipe": 3.0, "dlib": 6.0}
NO_FACE_HINT = "send an aligned 200x250 sketch, or align=false to use it as it is"


def parse_align(value: bool | str | None) -> AlignMode:
    """``True``/``False``/``"auto"`` and their spellings as one of the three modes."""
    if value is None:
        return "auto"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = value.strip().lower()
    if text in ("auto", ""):
        return "auto"
    if text in ("true", "1", "yes", "on"):
        return "true"
    if text in ("false", "0", "no", "off"):
        return "false"
    raise ValueError(f"align must be auto, true or false, got {value!r}")


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


def _invert(matrix: np.ndarray) -> np.ndarray:
    full = np.vstack([matrix, [0.0, 0.0, 1.0]])
    return np.linalg.inv(full)[:2]


def _warp(image: Image.Image, matrix: np.ndarray, size: tuple[int, int]) -> Image.Image:
    """Apply a forward 2x3 map (source -> destination) with bicubic sampling."""
    inverse = _invert(matrix)  # PIL wants destination -> source coefficients
    coefficients = tuple(inverse.reshape(-1).tolist())
    return image.transform(size, Image.Transform.AFFINE, coefficients, Image.Resampling.BICUBIC)


def eyes_match_template(
    eyes: np.ndarray, tolerance: float = ALIGNED_TOLERANCE_PX["mediapipe"],
    template: np.ndarray = CUFS_EYES,
) -> bool:  # fmt: skip
    """Whether both eyes already sit within ``tolerance`` pixels of the CUFS positions."""
    return bool(np.abs(eyes - template).max() <= tolerance)


@dataclass(frozen=True)
class FoundFace:
    """The eye centres found in an image and where they belong in the CUFS frame: what the
    alignment fits, with either landmark backend, as CUFS is framed by its eyes."""

    backend: LandmarkBackend
    eyes: np.ndarray  # (2, 2) eye centres in the image, image-left first
    template_eyes: np.ndarray  # (2, 2) the same in the CUFS frame


Landmarker = FivePointLandmarker | FaceLandmarker


def find_face(rgb: np.ndarray, landmarker: Landmarker) -> FoundFace | None:
    """The landmarks ``landmarker`` finds in ``rgb`` (H, W, 3 uint8), or None."""
    if isinstance(landmarker, FivePointLandmarker):
        points = landmarker.points(rgb)
        if points is None:
            return None
        # The fit uses the eye centres alone, as CUFS itself was framed (eyes at fixed
        # positions): with the nose too, each face's own proportions tilted and scaled it
        # off the frame the real photo is in (docs/model.md, "Face alignment"). The iris
        # centres scatter less than the corners' mid-points (.iris).
        return FoundFace("dlib", eye_centres(rgb, points), CUFS_IRIS_EYES)
    mesh = landmarker.landmarks(rgb)
    if mesh is None:
        return None
    eyes = mesh[[RIGHT_IRIS_CENTRE, LEFT_IRIS_CENTRE]].astype(np.float64)
    return FoundFace("mediapipe", eyes, CUFS_EYES)


def align_face(image: Image.Image, landmarker: Landmarker) -> Alignment:
    """Warp ``image`` so its face lands on the CUFS positions; raise if no face is found."""
    rgb = to_rgb(image)
    found = find_face(np.asarray(rgb), landmarker)
    if found is None:
        raise NoFaceFoundError(f"no face found in the image; {NO_FACE_HINT}")
    tolerance = ALIGNED_TOLERANCE_PX[found.backend]
    if rgb.size == CUFS_SIZE and eyes_match_template(found.eyes, tolerance, found.template_eyes):
        return Alignment(rgb, np.eye(2, 3), rgb.size, True, found.eyes)
    matrix = similarity_transform(found.eyes, found.template_eyes)
    if not np.isfinite(matrix).all() or abs(np.linalg.det(matrix[:, :2])) < 1e-9:
        raise NoFaceFoundError(f"the detected landmarks coincide; {NO_FACE_HINT}")
    aligned = _warp_replicate(rgb, matrix)
    # Refinements: the landmarks found again in the aligned frame, at the scale the
    # template was measured at, correct what the previous fit got wrong.
    for _ in range(REFINEMENTS):
        again = find_face(np.asarray(aligned), landmarker)
        if again is None:
            break
        correction = similarity_transform(again.eyes, again.template_eyes)
        if not np.isfinite(correction).all() or abs(np.linalg.det(correction[:, :2])) <= 1e-9:
            break
        matrix = _compose(correction, matrix)
        aligned = _warp_replicate(rgb, matrix)
    return Alignment(aligned, matrix, rgb.size, False, found.eyes)


#: How many times alignment reads the landmarks again in its own output and corrects.
REFINEMENTS = 1


def _compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The 2x3 map that applies ``inner`` and then ``outer``."""
    full: np.ndarray = np.vstack([outer, [0.0, 0.0, 1.0]]) @ np.vstack([inner, [0.0, 0.0, 1.0]])
    return full[:2]


def _warp_replicate(rgb: Image.Image, matrix: np.ndarray) -> Image.Image:
    """Warp into the CUFS frame; areas outside the input repeat its border pixels (as the
    canvas padding does) instead of turning black.

    A large input (a scan, a phone photo of a drawing) is first shrunk with a Lanczos
    filter to the warp's scale, so the affine resampling, which does not filter, does not
    alias; and only the border the CUFS frame actually reaches is padded."""
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    if scale < 1:
        width, height = rgb.size
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        rgb = rgb.resize(size, Image.Resampling.LANCZOS)
        matrix = matrix.copy()
        matrix[:, :2] = matrix[:, :2] @ np.diag([width / size[0], height / size[1]])
    width, height = rgb.size
    # Where the CUFS frame's corners come from in the input, and how far outside it that is.
    corners = np.array([[0, 0], [CUFS_SIZE[0], 0], [0, CUFS_SIZE[1]], list(CUFS_SIZE)], float)
    inverse = _invert(matrix)
    sources = corners @ inverse[:, :2].T + inverse[:, 2]
    low = np.ceil(np.maximum(0, -sources.min(0))).astype(int) + 2
    high = np.ceil(np.maximum(0, sources.max(0) - [width, height])).astype(int) + 2
    padded = np.pad(np.asarray(rgb), ((low[1], high[1]), (low[0], high[0]), (0, 0)), mode="edge")
    shifted = matrix.copy()
    shifted[:, 2] -= shifted[:, :2] @ low.astype(np.float64)
    return _warp(Image.fromarray(padded), shifted, CUFS_SIZE)


def place_on_page(
    image: Image.Image, rng: np.random.Generator, page_size: tuple[int, int] = (520, 640)
) -> tuple[Image.Image, np.ndarray]:
    """A CUFS-frame image as a scan or photo of a drawing shows it: turned by up to 12
    degrees either way, scaled 0.75-1.35x and shifted on a larger white page. Returns the
    page and the 2x3 map from CUFS-frame to page pixels. For tests and measurements."""
    angle = np.deg2rad(rng.uniform(-12, 12))
    scale = rng.uniform(0.75, 1.35)
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    centre = np.array(CUFS_SIZE, dtype=np.float64) / 2
    room = (np.array(page_size) - scale * np.hypot(*CUFS_SIZE)) / 2
    target = np.array(page_size) / 2 + rng.uniform(-1, 1, 2) * np.maximum(room, 0)
    matrix = np.hstack([rotation, (target - rotation @ centre)[:, None]])
    inverse = _invert(matrix)
    page = to_rgb(image).transform(
        page_size, Image.Transform.AFFINE, tuple(inverse.reshape(-1).tolist()),
        Image.Resampling.BICUBIC, fillcolor=(255, 255, 255),
    )  # fmt: skip
    return page, matrix
