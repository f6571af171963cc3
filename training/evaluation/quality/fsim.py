"""FSIM (Zhang, Zhang, Mou and Zhang, IEEE TIP 2011), the luminance score.

This follows the authors' MATLAB ``FeatureSIM.m`` (its first output, FSIM) and the
``phasecong2`` phase congruency it ships with: 4 scales x 4 orientations of log-Gabor
filters (minimum wavelength 6, multiplier 2, sigma_f 0.55, dTheta/sigma 1.2, k = 2,
noise threshold divided by 1.7), Scharr gradients, T1 = 0.85, T2 = 160, and the
``max(1, round(min(h, w) / 256))`` average-and-subsample step. Inputs are greyscale
images in [0, 255]. The paper's protocol scores 250x200 CUFS images, for which no
subsampling happens.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import convolve, uniform_filter

_SCALES = 4
_ORIENTATIONS = 4
_MIN_WAVELENGTH = 6.0
_MULT = 2.0
_SIGMA_ON_F = 0.55
_D_THETA_ON_SIGMA = 1.2
_K = 2.0
_EPSILON = 1e-4
_T1 = 0.85
_T2 = 160.0


def _frequency_grid(rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """Normalised radius and angle of each FFT sample (zero frequency at [0, 0])."""

    def axis(n: int) -> np.ndarray:
        if n % 2:
            return np.arange(-(n - 1) / 2, (n - 1) / 2 + 1) / (n - 1)
        return np.arange(-n / 2, n / 2) / n

    x, y = np.meshgrid(axis(cols), axis(rows))
    radius = np.fft.ifftshift(np.sqrt(x**2 + y**2))
    theta = np.fft.ifftshift(np.arctan2(-y, x))
    return radius, theta


def _low_pass(rows: int, cols: int, cutoff: float = 0.45, order: int = 15) -> np.ndarray:
    radius, _ = _frequency_grid(rows, cols)
    return 1.0 / (1.0 + (radius / cutoff) ** (2 * order))


def phase_congruency(image: np.ndarray) -> np.ndarray:
    """Kovesi's phase congruency as simplified in the FSIM code (``phasecong2``)."""
    rows, cols = image.shape
    spectrum = np.fft.fft2(image)
    radius, theta = _frequency_grid(rows, cols)
    radius = radius.copy()
    radius[0, 0] = 1.0
    sin_theta, cos_theta = np.sin(theta), np.cos(theta)
    low_pass = _low_pass(rows, cols)

    log_gabor = []
    for scale in range(_SCALES):
        centre = 1.0 / (_MIN_WAVELENGTH * _MULT**scale)
        gabor = np.exp(-(np.log(radius / centre) ** 2) / (2 * np.log(_SIGMA_ON_F) ** 2))
        gabor *= low_pass
        gabor[0, 0] = 0.0
        log_gabor.append(gabor)

    theta_sigma = np.pi / _ORIENTATIONS / _D_THETA_ON_SIGMA
    energy_all = np.zeros((rows, cols))
    amplitude_all = np.zeros((rows, cols))
    for orientation in range(_ORIENTATIONS):
        angle = orientation * np.pi / _ORIENTATIONS
        ds = sin_theta * np.cos(angle) - cos_theta * np.sin(angle)
        dc = cos_theta * np.cos(angle) + sin_theta * np.sin(angle)
        spread = np.exp(-(np.abs(np.arctan2(ds, dc)) ** 2) / (2 * theta_sigma**2))

        responses = []
        spatial_filters = []
        sum_even = np.zeros((rows, cols))
        sum_odd = np.zeros((rows, cols))
        sum_amplitude = np.zeros((rows, cols))
        mean_filter_energy = 0.0
        for scale in range(_SCALES):
            band = log_gabor[scale] * spread
            spatial_filters.append(np.real(np.fft.ifft2(band)) * np.sqrt(rows * cols))
            response = np.fft.ifft2(spectrum * band)
            responses.append(response)
            sum_amplitude += np.abs(response)
            sum_even += response.real
            sum_odd += response.imag
            if scale == 0:
                mean_filter_energy = float(np.sum(band**2))

        x_energy = np.sqrt(sum_even**2 + sum_odd**2) + _EPSILON
        mean_even = sum_even / x_energy
        mean_odd = sum_odd / x_energy
        energy = np.zeros((rows, cols))
        for response in responses:
            even, odd = response.real, response.imag
            energy += even * mean_even + odd * mean_odd - np.abs(even * mean_odd - odd * mean_even)

        median_e2n = np.median(np.abs(responses[0]) ** 2)
        mean_e2n = -median_e2n / np.log(0.5)
        noise_power = mean_e2n / mean_filter_energy
        sum_an2 = sum(float(np.sum(f**2)) for f in spatial_filters)
        sum_ai_aj = sum(
            float(np.sum(spatial_filters[i] * spatial_filters[j]))
            for i in range(_SCALES - 1)
            for j in range(i + 1, _SCALES)
        )
        noise_energy2 = 2 * noise_power * sum_an2 + 4 * noise_power * sum_ai_aj
        tau = np.sqrt(noise_energy2 / 2)
        noise_energy = tau * np.sqrt(np.pi / 2)
        noise_sigma = np.sqrt((2 - np.pi / 2) * tau**2)
        threshold = (noise_energy + _K * noise_sigma) / 1.7
        energy_all += np.maximum(energy - threshold, 0.0)
        amplitude_all += sum_amplitude
    return energy_all / amplitude_all


_SCHARR_X = np.array([[3, 0, -3], [10, 0, -10], [3, 0, -3]], dtype=np.float64) / 16
_SCHARR_Y = np.array([[3, 10, 3], [0, 0, 0], [-3, -10, -3]], dtype=np.float64) / 16


def _gradient_magnitude(image: np.ndarray) -> np.ndarray:
    # MATLAB conv2(..., 'same') pads with zeros; convolve's 'constant' mode matches that.
    gx = convolve(image, _SCHARR_X, mode="constant")
    gy = convolve(image, _SCHARR_Y, mode="constant")
    return np.sqrt(gx**2 + gy**2)


def _downsample(image: np.ndarray) -> np.ndarray:
    factor = max(1, round(min(image.shape) / 256))
    if factor == 1:
        return image
    # MATLAB: conv2 with an F x F average kernel ('same', zero padding), then every F-th pixel.
    averaged = uniform_filter(image, size=factor, mode="constant")
    return averaged[::factor, ::factor]


def fsim(reference: np.ndarray, distorted: np.ndarray) -> float:
    """Luminance FSIM of two greyscale images (2-D arrays in [0, 255]); 1.0 = identical."""
    if reference.shape != distorted.shape or reference.ndim != 2:
        raise ValueError(
            f"FSIM needs two greyscale images of the same size, got {reference.shape} "
            f"and {distorted.shape}"
        )
    y1 = _downsample(reference.astype(np.float64))
    y2 = _downsample(distorted.astype(np.float64))
    pc1, pc2 = phase_congruency(y1), phase_congruency(y2)
    g1, g2 = _gradient_magnitude(y1), _gradient_magnitude(y2)
    pc_similarity = (2 * pc1 * pc2 + _T1) / (pc1**2 + pc2**2 + _T1)
    gradient_similarity = (2 * g1 * g2 + _T2) / (g1**2 + g2**2 + _T2)
    pc_max = np.maximum(pc1, pc2)
    return float(np.sum(gradient_similarity * pc_similarity * pc_max) / np.sum(pc_max))
