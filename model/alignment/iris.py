"""Iris centres between dlib's eye corners: where alignment puts the eyes.

dlib's 5-point model gives each eye's two corners, and their mid-point is a rough eye
centre: on the 288 CUFS sketches, which all have their eyes at the same place, the
mid-points scatter 0.96 px (median; 2.05 px at the 95th percentile), and that scatter
was most of what alignment cost the photo. The iris is the darkest round blob between
the corners in a sketch and in a photo alike, and finding it scatters 0.69 px (1.43 px)
on the same sketches: nearly MediaPipe's iris centres (0.5 px), without MediaPipe.

It is found as the peak of the image's darkness averaged over a disc the iris's size,
weighted towards the corners' mid-point, then read to a fraction of a pixel as the
centroid of the peak's plateau. The weighting keeps brows and lashes out, and holds an
iris near the eye's edge back a little (a drawn iris a tenth of the eye's width off the
middle reads 80 % of the way there); reading the plateau without it drew the readings
towards the upper lid and scattered them more (1.62 against 1.43 px at the 95th
percentile). Sizes are fractions of the eye's width (corner to corner), so the search
works at any scale. A peak that is not where an iris can be
(a sparse drawing with no iris, a stroke across the eye) falls back to the mid-point,
moved by the iris's mean offset from it, so either answer lands on the same template.
docs/model.md ("Face alignment") has the measurements.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from isegan.model.alignment.five_points import greyscale

#: The iris disc's radius and the smoothing before it, as fractions of the eye's width.
IRIS_RADIUS = 0.18
SMOOTHING = 0.083
#: How far from the corners' mid-point the search reaches (across, down) and how wide
#: its preference for the middle is, as fractions of the eye's width.
SEARCH_REACH = (0.75, 0.5)
PRIOR_WIDTH = (0.5, 0.3)
#: The plateau whose centroid is the answer: scores within this share of the peak.
PLATEAU = 0.9
#: An iris further than this (times the eye's width) from where it usually sits relative
#: to the corners is not trusted. On CUFS sketches the distance is 0.026 in the median,
#: 0.060 at the 95th percentile (at most 0.066 in any photometric rendering of the test
#: sketches) and 0.118 at most.
TRUST_RADIUS = 0.15
#: The iris's mean offset from the corners' mid-point, in eye widths along the face's
#: eye line (image-left to image-right) and down the face, for the image-left and the
#: image-right eye; measured on the 288 CUFS sketches (scripts/measure_iris_template.py).
MEAN_OFFSET = np.array([[-0.0090, -0.0543], [-0.0057, -0.0581]])
#: Eyes narrower than this many pixels are too small to search: the mid-point is used.
MIN_EYE_WIDTH_PX = 6.0
#: Eyes wider than this are searched in a copy shrunk by a whole factor to about this
#: width (CUFS's eyes are 21 px wide).
SEARCH_WIDTH_PX = 32


def _block_mean(image: np.ndarray, factor: int) -> np.ndarray:
    """``image`` shrunk by averaging ``factor`` x ``factor`` blocks (a ragged edge dropped)."""
    if factor == 1:
        return image
    rows, cols = (image.shape[0] // factor) * factor, (image.shape[1] // factor) * factor
    blocks = image[:rows, :cols].reshape(rows // factor, factor, cols // factor, factor)
    reduced: np.ndarray = blocks.mean(axis=(1, 3))
    return reduced


def eye_axes(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The face's eye line (image-left to image-right eye) and its downward normal, as unit
    vectors, from the 5-point model's points (image-right eye first)."""
    across = points[2:4].mean(0) - points[0:2].mean(0)
    across = -across / max(float(np.linalg.norm(across)), 1e-9)  # image-left -> right
    down = np.array([-across[1], across[0]])
    return across, down


def iris_centre(image: np.ndarray, corners: np.ndarray) -> np.ndarray | None:
    """The iris centre (x, y) of the eye whose two corners are ``corners`` (2, 2) in
    ``image``, RGB (H, W, 3) or greyscale (H, W), 0-255; None when the eye is too small to
    search. Only the search window is converted to grey: an upload may be 12 MP."""
    width = float(np.linalg.norm(corners[0] - corners[1]))
    if width < MIN_EYE_WIDTH_PX:
        return None
    middle = corners.mean(axis=0)
    height, image_width = image.shape[:2]
    x0 = max(0, int(np.floor(middle[0] - SEARCH_REACH[0] * width)))
    x1 = min(image_width, int(np.ceil(middle[0] + SEARCH_REACH[0] * width)) + 1)
    y0 = max(0, int(np.floor(middle[1] - SEARCH_REACH[1] * width)))
    y1 = min(height, int(np.ceil(middle[1] + SEARCH_REACH[1] * width)) + 1)
    # a large photo's eye is searched at a reduced size: the disc's cost grows with the
    # fourth power of the eye's width (4 s an eye at 4000 px, 1 ms at CUFS's size)
    factor = max(1, int(width // SEARCH_WIDTH_PX))
    window = image[y0:y1, x0:x1]
    window = _block_mean(greyscale(window) if window.ndim == 3 else window, factor)
    if min(window.shape) < 3:
        return None
    size = width / factor  # the eye's width in window pixels
    darkness = ndimage.gaussian_filter(255.0 - window, SMOOTHING * size)
    radius = IRIS_RADIUS * size
    reach = int(np.ceil(radius))
    dy, dx = np.mgrid[-reach : reach + 1, -reach : reach + 1]
    disc = (dx**2 + dy**2 <= radius**2).astype(np.float64)
    response = ndimage.correlate(darkness, disc / disc.sum(), mode="nearest")
    # each window pixel's centre in image coordinates
    rows, cols = np.indices(window.shape).astype(np.float64)
    ys = y0 + rows * factor + (factor - 1) / 2
    xs = x0 + cols * factor + (factor - 1) / 2
    prior = np.exp(
        -(((xs - middle[0]) / (PRIOR_WIDTH[0] * width)) ** 2)
        - ((ys - middle[1]) / (PRIOR_WIDTH[1] * width)) ** 2
    )
    score = response * prior
    peak = np.unravel_index(int(np.argmax(score)), score.shape)
    if score[peak] <= 0:
        return None
    plateaus, _ = ndimage.label(score >= PLATEAU * score[peak])
    weights = score * (plateaus == plateaus[peak])
    total = weights.sum()
    return np.array([(xs * weights).sum() / total, (ys * weights).sum() / total])


def eye_centres(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Both iris centres (image-left eye first) from the 5-point model's ``points``; an
    eye whose iris is not found where one can be gets its corners' mid-point moved by
    :data:`MEAN_OFFSET`. ``image`` is RGB or greyscale, as for :func:`iris_centre`."""
    across, down = eye_axes(points)
    centres = []
    for side, corners in enumerate((points[2:4], points[0:2])):
        width = float(np.linalg.norm(corners[0] - corners[1]))
        offset = MEAN_OFFSET[side]
        expected = corners.mean(axis=0) + width * (offset[0] * across + offset[1] * down)
        found = iris_centre(image, corners)
        trusted = found is not None and np.linalg.norm(found - expected) <= TRUST_RADIUS * width
        centres.append(found if trusted and found is not None else expected)
    return np.stack(centres)
