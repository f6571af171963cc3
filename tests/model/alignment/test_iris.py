"""Iris centres between dlib's eye corners: drawn eyes whose iris position the test knows,
and the real CUFS test sketches, whose eyes all sit at the same place."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from isegan.model.alignment.align import CUFS_IRIS_EYES
from isegan.model.alignment.five_points import FivePointLandmarker
from isegan.model.alignment.iris import (
    IRIS_RADIUS,
    MEAN_OFFSET,
    eye_axes,
    eye_centres,
    iris_centre,
)


def _drawn_eye(width: float, iris: tuple[float, float], *, with_iris: bool = True):
    """A pencil-grey eye outline between two corners on white, and a dark iris disc
    centred at ``iris`` (drawn at 8x and shrunk, so its centre is sub-pixel exact)."""
    scale = 8
    size = (int(6 * width), int(4 * width))
    canvas = Image.new("L", (size[0] * scale, size[1] * scale), 255)
    draw = ImageDraw.Draw(canvas)
    left = np.array([2.5 * width, 2.0 * width])
    right = left + np.array([width, 0.0])
    draw.ellipse(
        [left[0] * scale, (left[1] - 0.3 * width) * scale,
         right[0] * scale, (left[1] + 0.3 * width) * scale],
        outline=110, width=scale,
    )  # fmt: skip
    if with_iris:
        radius = IRIS_RADIUS * width * scale
        centre = (np.array(iris) + 0.5) * scale
        draw.ellipse([*(centre - radius), *(centre + radius)], fill=40)
    grey = canvas.resize(size, Image.Resampling.BOX)
    return np.asarray(grey, dtype=np.float64), np.stack([left, right])


@pytest.mark.parametrize("width", [12.0, 21.0, 60.0])
def test_a_drawn_iris_is_found_at_any_scale(width) -> None:
    """A centred iris is found to a fraction of a pixel; a moved one moves the answer the
    same way, at least half as far (the preference for the middle that keeps a brow out
    also holds an iris near the eye's edge back a little) and never further."""
    grey, corners = _drawn_eye(width, (0.0, 0.0), with_iris=False)
    middle = corners.mean(0)
    grey, corners = _drawn_eye(width, tuple(middle))
    found = iris_centre(grey, corners)
    assert found is not None and np.linalg.norm(found - middle) < max(0.3, 0.02 * width)
    for shift in ((0.1, 0.0), (-0.1, 0.0), (0.0, 0.08), (0.0, -0.08), (0.13, -0.07)):
        grey, corners = _drawn_eye(width, tuple(middle + np.array(shift) * width))
        found = iris_centre(grey, corners)
        assert found is not None
        moved = (found - middle) / width
        for axis in (0, 1):
            if shift[axis]:
                assert 0.5 <= moved[axis] / shift[axis] <= 1.05, (shift, moved)
            else:
                assert abs(moved[axis]) < 0.01, (shift, moved)


def test_an_eye_too_small_to_search_has_no_iris() -> None:
    grey, corners = _drawn_eye(12.0, (0.0, 0.0), with_iris=False)
    assert iris_centre(grey, corners * [0.25, 1.0] + [40, 0]) is None


def _five_points(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """The 5-point model's order: image-right eye (outer, inner), image-left eye (outer,
    inner), nose."""
    nose = (left.mean(0) + right.mean(0)) / 2 + [0.0, 40.0]
    return np.stack([right[1], right[0], left[0], left[1], nose])


def test_an_eye_without_an_iris_falls_back_to_its_corners() -> None:
    """No dark blob where an iris can be (a stroke far above the eye is the darkest
    thing in reach): the corners' mid-point, moved by the mean offset, is used instead."""
    width = 21.0
    grey, left = _drawn_eye(width, (0.0, 0.0), with_iris=False)
    image = np.full((grey.shape[0], grey.shape[1] * 2), 255.0)
    image[:, : grey.shape[1]] = grey
    image[:, grey.shape[1] :] = grey
    right = left + np.array([grey.shape[1], 0.0])
    stroke_row = int(left[0, 1] - 0.45 * width)
    image[stroke_row - 1 : stroke_row + 2, :] = 0.0  # a brow-like stroke, no iris at all
    points = _five_points(left, right)
    centres = eye_centres(image, points)
    across, down = eye_axes(points)
    for side, corners in enumerate((left, right)):
        expected = corners.mean(0) + width * (MEAN_OFFSET[side] @ np.stack([across, down]))
        np.testing.assert_allclose(centres[side], expected, atol=1e-9)


def test_eye_axes_follow_a_turned_face() -> None:
    left = np.array([[40.0, 60.0], [60.0, 60.0]])
    right = left + np.array([50.0, 0.0])
    across, down = eye_axes(_five_points(left, right))
    np.testing.assert_allclose(across, [1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(down, [0.0, 1.0], atol=1e-12)
    turn = np.deg2rad(30)
    rotation = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    across, down = eye_axes(_five_points(left, right) @ rotation.T)
    np.testing.assert_allclose(across, rotation @ [1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(down, rotation @ [0.0, 1.0], atol=1e-12)


def test_irises_scatter_less_than_corner_midpoints_on_cufs_sketches(cufs_dir, test_ids) -> None:
    """Every CUFS sketch has its eyes at the same place, so how far each reading lies
    from the readings' mean is the reader's own error: the irises' is smaller than the
    corners' mid-points' (0.69 against 0.96 px in the median over all 288 sketches)."""
    landmarker = FivePointLandmarker()
    irises, middles = [], []
    for name in test_ids[::3]:
        rgb = np.asarray(Image.open(cufs_dir / "sketches" / f"{name}.png").convert("RGB"))
        points = landmarker.points(rgb)
        assert points is not None
        irises.append(eye_centres(rgb, points))
        middles.append(np.stack([points[2:4].mean(0), points[0:2].mean(0)]))

    def scatter(readings: list[np.ndarray]) -> float:
        stacked = np.array(readings)
        return float(np.median(np.linalg.norm(stacked - stacked.mean(0), axis=2)))

    assert scatter(irises) < 0.85 * scatter(middles)
    # and their mean is the template alignment fits to
    assert np.abs(np.mean(irises, axis=0) - CUFS_IRIS_EYES).max() < 0.5


def test_a_large_photo_of_a_sketch_gives_the_same_iris(cufs_sketches) -> None:
    """A phone photo's eye is hundreds of pixels wide and is searched at a reduced size;
    the iris it finds is the one found at CUFS's own size (in CUFS pixels)."""
    sketch = cufs_sketches[0]
    landmarker = FivePointLandmarker()
    rgb = np.asarray(sketch)
    points = landmarker.points(rgb)
    assert points is not None
    at_cufs_size = eye_centres(rgb, points)
    for scale in (3, 16):
        big = sketch.resize((sketch.width * scale, sketch.height * scale), Image.Resampling.BICUBIC)
        scaled_points = (points + 0.5) * scale - 0.5  # the same corners, at the larger size
        found = eye_centres(np.asarray(big), scaled_points)
        np.testing.assert_allclose((found + 0.5) / scale - 0.5, at_cufs_size, atol=0.5)
