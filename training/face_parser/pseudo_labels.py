"""8-class pseudo-labels for CUFS photos and sketches, from landmarks and colour.

CUFS has no parsing labels. Facial components (brows, eyes, nose, lips, inner mouth)
and the face outline come from each image's own FaceMesh landmarks. Hair and the
backdrop come from the *photo* (person mask from selfie segmentation, hair and skin
colour models estimated per image) and carry over to the aligned sketch, where colour
says little. Ears count as skin and neck and clothes as background, as in the
CelebAMask-HQ grouping the project uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from isegan.model.alignment import landmarks as lm
from isegan.model.alignment.landmarks import FaceLandmarker
from isegan.model.face_classes import FaceClass

_MIN_SEED_PIXELS = 60


@dataclass(frozen=True)
class FaceGeometry:
    """Component masks of one face and the reference lines derived from its landmarks."""

    oval: np.ndarray
    brows: np.ndarray
    eyes: np.ndarray
    nose: np.ndarray
    lips: np.ndarray
    inner_mouth: np.ndarray
    brow_top: float
    eye_line: float
    mouth_line: float
    chin: float
    centre_x: float
    half_width: float

    @property
    def face_height(self) -> float:
        return self.chin - self.brow_top


def polygon_mask(points: np.ndarray, shape: tuple[int, int], *, hull: bool = False) -> np.ndarray:
    """Rasterise a polygon (or the convex hull of points) at 1/16-pixel precision."""
    mask = np.zeros(shape, np.uint8)
    vertices = np.round(points * 16).astype(np.int32)
    outline = cv2.convexHull(vertices) if hull else vertices
    cv2.fillPoly(mask, [outline.reshape(-1, 1, 2)], 1, lineType=cv2.LINE_8, shift=4)
    return mask.astype(bool)


def face_geometry(points: np.ndarray, shape: tuple[int, int]) -> FaceGeometry:
    def outline(indices: tuple[int, ...], *, hull: bool = False) -> np.ndarray:
        return polygon_mask(points[list(indices)], shape, hull=hull)

    lips_outer = outline(lm.LIPS_OUTER)
    inner_mouth = outline(lm.LIPS_INNER)
    oval_points = points[list(lm.FACE_OVAL)]
    brow_points = points[list(lm.RIGHT_BROW + lm.LEFT_BROW)]
    return FaceGeometry(
        oval=outline(lm.FACE_OVAL),
        brows=outline(lm.RIGHT_BROW) | outline(lm.LEFT_BROW),
        eyes=outline(lm.RIGHT_EYE) | outline(lm.LEFT_EYE),
        nose=outline(lm.NOSE_POINTS, hull=True),
        lips=lips_outer & ~inner_mouth,
        inner_mouth=inner_mouth,
        brow_top=float(brow_points[:, 1].min()),
        eye_line=float(points[[lm.RIGHT_IRIS_CENTRE, lm.LEFT_IRIS_CENTRE], 1].mean()),
        mouth_line=float(points[list(lm.MOUTH_CORNERS), 1].mean()),
        chin=float(oval_points[:, 1].max()),
        centre_x=float(points[lm.NOSE_TIP, 0]),
        half_width=float(oval_points[:, 0].max() - oval_points[:, 0].min()) / 2,
    )


class ColourModel:
    """A Gaussian in CIE Lab; distance is Mahalanobis, so thresholds are in std units."""

    def __init__(self, samples: np.ndarray) -> None:
        self.mean = samples.mean(axis=0)
        covariance = np.cov(samples, rowvar=False) + np.eye(3) * 4.0
        self.inverse = np.linalg.inv(covariance)

    def distance(self, lab: np.ndarray) -> np.ndarray:
        centred = lab - self.mean
        return np.sqrt(np.einsum("...i,ij,...j->...", centred, self.inverse, centred))


def _rows_cols(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    return rows.astype(np.float32), cols.astype(np.float32)


def _kernel(size: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))


def skin_sample_mask(geometry: FaceGeometry) -> np.ndarray:
    """Cheeks and nose sides: inside the face outline, below the brows, off the components."""
    features = geometry.brows | geometry.eyes | geometry.nose | geometry.lips | geometry.inner_mouth
    features = cv2.dilate(features.astype(np.uint8), _kernel(7)).astype(bool)
    inner = cv2.erode(geometry.oval.astype(np.uint8), _kernel(9)).astype(bool)
    rows, _ = _rows_cols(geometry.oval.shape)
    return inner & ~features & (rows > geometry.eye_line)


def to_lab(rgb: np.ndarray) -> np.ndarray:
    """RGB uint8 -> CIE Lab float32, the space the colour models work in."""
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)


def hair_mask(
    lab: np.ndarray, person: np.ndarray, geometry: FaceGeometry, skin: ColourModel
) -> np.ndarray:
    """Hair in a photo (``lab`` from :func:`to_lab`): person pixels coloured more like the
    hair above the brows than like the face's skin, connected to the top of the head, kept
    out of the lower face and of the neck column."""
    shape = person.shape
    rows, cols = _rows_cols(shape)
    skin_distance = skin.distance(lab)
    darker_than_skin = lab[..., 0] < skin.mean[0]
    top_zone = person & (rows < geometry.brow_top - 0.08 * geometry.face_height)
    seeds = top_zone & (skin_distance > 3.0) & darker_than_skin
    if seeds.sum() < _MIN_SEED_PIXELS:
        return np.zeros(shape, bool)  # bald, or the head leaves the frame: no hair model
    hair = ColourModel(lab[seeds])
    hair_distance = hair.distance(lab)
    # Below the brows only the outline's flanks may be hair (hair over the cheeks).
    flanks = np.abs(cols - geometry.centre_x) > 0.75 * geometry.half_width
    lower_face = geometry.oval & (rows >= geometry.brow_top) & ~(flanks & darker_than_skin)
    neck_column = (rows > geometry.chin) & (
        np.abs(cols - geometry.centre_x) < 0.6 * geometry.half_width
    )
    candidate = (
        person
        & (hair_distance < skin_distance)
        & (hair_distance < 4.0)
        & ~lower_face
        & ~neck_column
        & (darker_than_skin | ~geometry.oval)
    )
    candidate = cv2.morphologyEx(candidate.astype(np.uint8), cv2.MORPH_OPEN, _kernel(3))
    candidate = cv2.morphologyEx(candidate, cv2.MORPH_CLOSE, _kernel(7))
    _, components = cv2.connectedComponents(candidate, connectivity=8)
    touching_top = np.unique(components[(components > 0) & top_zone])
    result = np.isin(components, touching_top) & (components > 0)
    core = geometry.oval & (rows >= geometry.brow_top) & ~flanks
    return _fill_small_holes(result, max_area=0.01 * result.size) & ~core


def _fill_small_holes(mask: np.ndarray, max_area: float) -> np.ndarray:
    count, holes, stats, _ = cv2.connectedComponentsWithStats(
        (~mask).astype(np.uint8), connectivity=4
    )
    filled = mask.copy()
    height, width = mask.shape
    for label in range(1, count):
        x, y, w, h, area = stats[label]
        touches_border = x == 0 or y == 0 or x + w == width or y + h == height
        if area <= max_area and not touches_border:
            filled[holes == label] = True
    return filled


def ear_mask(
    lab: np.ndarray, person: np.ndarray, geometry: FaceGeometry, skin: ColourModel
) -> np.ndarray:
    """Skin-coloured person pixels just beside the face between eye and mouth height."""
    rows, cols = _rows_cols(person.shape)
    beside = (
        (rows > geometry.eye_line - 0.15 * geometry.face_height)
        & (rows < geometry.mouth_line)
        & (np.abs(cols - geometry.centre_x) < 1.35 * geometry.half_width)
    )
    return person & beside & ~geometry.oval & (skin.distance(lab) < 3.0)


def forehead_cap(geometry: FaceGeometry) -> np.ndarray:
    """Upper half-ellipse over the brows: FaceMesh's outline stops below many hairlines, so
    the forehead up to the hair is filled in (hair, painted later, wins)."""
    rows, cols = _rows_cols(geometry.oval.shape)
    semi_x = 0.95 * geometry.half_width
    semi_y = 0.6 * geometry.face_height
    inside = ((cols - geometry.centre_x) / semi_x) ** 2 + (
        (rows - geometry.brow_top) / semi_y
    ) ** 2 <= 1.0
    return inside & (rows <= geometry.brow_top)


def compose(
    geometry: FaceGeometry, hair: np.ndarray, ears: np.ndarray, person: np.ndarray
) -> np.ndarray:
    """Paint classes back to front: skin, hair, then the components on top."""
    labels = np.full(hair.shape, FaceClass.BACKGROUND, np.uint8)
    labels[geometry.oval | ears | (forehead_cap(geometry) & person)] = FaceClass.SKIN
    labels[hair] = FaceClass.HAIR
    for mask, face_class in (
        (geometry.nose, FaceClass.NOSE),
        (geometry.brows, FaceClass.BROWS),
        (geometry.eyes, FaceClass.EYES),
        (geometry.lips, FaceClass.LIPS),
        (geometry.inner_mouth, FaceClass.INNER_MOUTH),
    ):
        labels[mask] = face_class
    return labels


@dataclass(frozen=True)
class PairLabels:
    photo: np.ndarray  # (H, W) uint8 class indices
    sketch: np.ndarray
    photo_landmarks: np.ndarray  # (478, 2)
    sketch_landmarks: np.ndarray


class NoFaceError(ValueError):
    """Neither the photo nor the sketch of a pair gave landmarks."""


def label_pair(landmarker: FaceLandmarker, photo: np.ndarray, sketch: np.ndarray) -> PairLabels:
    """Pseudo-labels for one aligned (photo, sketch) pair of RGB uint8 arrays.

    When FaceMesh misses one image of the pair, the other's landmarks stand in (the
    pair is aligned); colour-derived regions always come from the photo.
    """
    if photo.shape != sketch.shape:
        raise ValueError(f"photo {photo.shape} and sketch {sketch.shape} sizes differ")
    photo_points = landmarker.landmarks(photo)
    sketch_points = landmarker.landmarks(sketch)
    if photo_points is None and sketch_points is None:
        raise NoFaceError("no face found in the photo or the sketch")
    photo_points = photo_points if photo_points is not None else sketch_points
    sketch_points = sketch_points if sketch_points is not None else photo_points
    assert photo_points is not None and sketch_points is not None
    shape = photo.shape[:2]
    photo_geometry = face_geometry(photo_points, shape)
    sketch_geometry = face_geometry(sketch_points, shape)

    person = landmarker.person_probability(photo) > 0.5
    person |= photo_geometry.oval
    lab = to_lab(photo)
    skin = ColourModel(lab[skin_sample_mask(photo_geometry)])
    hair = hair_mask(lab, person, photo_geometry, skin)
    ears = ear_mask(lab, person, photo_geometry, skin) & ~hair
    rows, _ = _rows_cols(shape)
    sketch_lower_face = sketch_geometry.oval & (rows >= sketch_geometry.brow_top)
    return PairLabels(
        photo=compose(photo_geometry, hair, ears, person),
        sketch=compose(
            sketch_geometry, hair & ~sketch_lower_face, ears & ~sketch_geometry.oval, person
        ),
        photo_landmarks=photo_points,
        sketch_landmarks=sketch_points,
    )
