"""SSIM and PSNR on greyscale images in [0, 255] (piq's implementations: Gaussian
11x11 window, sigma 1.5, K1 0.01, K2 0.03, as in Wang et al. 2004)."""

from __future__ import annotations

import numpy as np
import piq
import torch


def _tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image.astype(np.float64)).float()[None, None]


def ssim(reference: np.ndarray, distorted: np.ndarray) -> float:
    return float(piq.ssim(_tensor(distorted), _tensor(reference), data_range=255.0))


def psnr(reference: np.ndarray, distorted: np.ndarray) -> float:
    """In dB; identical images give +inf, reported as such."""
    if np.array_equal(reference, distorted):
        return float("inf")
    return float(piq.psnr(_tensor(distorted), _tensor(reference), data_range=255.0))
