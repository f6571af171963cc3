"""Face chips for dlib's face-recognition network, cut with ``grid_sample`` so gradients
flow through them.

dlib cuts a 150x150 chip by fitting a similarity transform from its 5-point template
(``get_face_chip_details``, 25 % padding) to the face's landmarks, then samples the
image bilinearly at the chip's pixel grid, whose corners map onto the corners of the
transformed square (``extract_image_chips``). The same geometry is rebuilt here in
numpy, and the sampling in torch.

Two cases:
- any image with the five landmarks of dlib's 5-point model (``chip_matrix``);
- the CUFS frame, where every face is aligned the same way: one fixed transform from
  the mean landmarks of the bundled CUFS photos (``cufs_chip_matrix``), so no landmark
  detector is needed to score or train on CUFS-aligned images.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from isegan.model.cufs_frame import CUFS_SIZE

CHIP_SIZE = 150
CHIP_PADDING = 0.25
#: dlib's 5-point template (``get_face_chip_details``) in the unit square, in the order
#: of the 5-point model's parts: image-right eye outer and inner corner, image-left eye
#: outer and inner corner, bottom of the nose.
DLIB_FIVE_POINT_TEMPLATE = np.array(
    [
        [0.8595674595992, 0.2134981538014],
        [0.6460604764104, 0.2289674387677],
        [0.1205750620789, 0.2137274526848],
        [0.3340850613712, 0.2290642403242],
        [0.4901123135679, 0.6277975316475],
    ]
)
#: The mean 5-point landmarks (x, y) dlib's frontal
#: detector and 5-point model find on the 288 bundled CUFS photos (all 288 found;
#: per-coordinate spread 0.9-1.7 px, 3.1 px for the nose's height), from
#: ``scripts/derive_cufs_chip.py``.
CUFS_FIVE_POINTS = np.array(
    [
        [135.03, 126.46],
        [115.15, 127.52],
        [64.52, 126.28],
        [84.38, 127.43],
        [99.94, 163.81],
    ]
)


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, shift) mapping ``source`` points
    onto ``target`` points (Umeyama 1991, as dlib's ``find_similarity_transform``); 2x3."""
    source = np.asarray(source, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if source.shape != target.shape or source.ndim != 2 or source.shape[1] != 2:
        raise ValueError(
            f"need two (N, 2) point sets of one shape, got {source.shape}, {target.shape}"
        )
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    source_centred, target_centred = source - source_mean, target - target_mean
    covariance = target_centred.T @ source_centred / len(source)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rotation = u @ sign @ vt
    variance = (source_centred**2).sum() / len(source)
    if variance <= 0:
        raise ValueError("the source points coincide; no similarity transform fits them")
    scale = float(np.trace(np.diag(singular) @ sign)) / variance
    shift = target_mean - scale * rotation @ source_mean
    return np.hstack([scale * rotation, shift[:, None]])


def chip_matrix(
    landmarks: np.ndarray, size: int = CHIP_SIZE, padding: float = CHIP_PADDING
) -> np.ndarray:
    """The 2x3 map from chip pixels (x, y) to image pixels for a face with dlib's five
    landmarks (image pixel coordinates), as ``dlib.get_face_chip`` cuts it."""
    landmarks = np.asarray(landmarks, dtype=np.float64)
    if landmarks.shape != (5, 2):
        raise ValueError(f"need the five points of dlib's 5-point model, got {landmarks.shape}")
    template = (padding + DLIB_FIVE_POINT_TEMPLATE) / (2 * padding + 1) * size
    transform = similarity_transform(template, landmarks)
    angle = np.arctan2(transform[1, 0], transform[0, 0])
    scale = float(np.hypot(transform[0, 0], transform[1, 0]))
    centre = transform[:, :2] @ np.array([size / 2, size / 2]) + transform[:, 2]
    # dlib's chip rectangle spans size*scale - 1 pixels, and its corner pixels map onto
    # the rectangle's corners: one chip pixel is (size*scale - 1)/(size - 1) image pixels.
    extent = size * scale - 1
    step = extent / (size - 1)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    linear = rotation * step
    offset = centre + rotation @ np.array([-extent / 2, -extent / 2])
    return np.hstack([linear, offset[:, None]])


def cufs_chip_matrix(image_size: tuple[int, int] = CUFS_SIZE) -> np.ndarray:
    """The fixed chip map of the CUFS frame, for an image of ``image_size`` (w, h) that
    shows the CUFS frame at any resolution."""
    scale = np.array([image_size[0] / CUFS_SIZE[0], image_size[1] / CUFS_SIZE[1]])
    return chip_matrix(CUFS_FIVE_POINTS * scale)


def extract_chips(
    images: torch.Tensor, matrices: torch.Tensor | np.ndarray, size: int = CHIP_SIZE
) -> torch.Tensor:
    """Bilinear face chips (B, C, size, size) from images (B, C, H, W), each cut along its
    2x3 chip-to-image map (or one map for all); differentiable in ``images``. Samples
    outside the image read zero, as dlib's do."""
    if images.ndim != 4:
        raise ValueError(f"images must be (B, C, H, W), got {tuple(images.shape)}")
    batch, _, height, width = images.shape
    maps = torch.as_tensor(matrices, dtype=torch.float64)
    if maps.shape == (2, 3):
        maps = maps.expand(batch, 2, 3)
    if maps.shape != (batch, 2, 3):
        raise ValueError(f"need one 2x3 map per image, got {tuple(maps.shape)}")
    axis = torch.arange(size, dtype=torch.float64)
    grid_y, grid_x = torch.meshgrid(axis, axis, indexing="ij")
    chip_points = torch.stack([grid_x, grid_y, torch.ones_like(grid_x)], dim=-1)  # (S, S, 3)
    image_points = torch.einsum("bij,yxj->byxi", maps, chip_points)  # (B, S, S, 2)
    # grid_sample with align_corners=True puts -1 and 1 on the first and last pixel centres.
    scale = torch.tensor([2 / (width - 1), 2 / (height - 1)], dtype=torch.float64)
    grid = (image_points * scale - 1).to(dtype=images.dtype, device=images.device)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
