"""Colour conversions and CIEDE2000 against published reference values."""

from __future__ import annotations

import numpy as np
import pytest

from isegan.model.colour.spaces import ciede2000, oklab_to_srgb, srgb_to_cielab, srgb_to_oklab

# Sharma, Wu and Dalal (2005), Table 1: CIELab pairs and their CIEDE2000 difference.
SHARMA = [
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, 3.1571, -77.2803), (50.0, 0.0, -82.7485), 2.8615),
    ((50.0, 2.8361, -74.0200), (50.0, 0.0, -82.7485), 3.4412),
    ((50.0, -1.3802, -84.2814), (50.0, 0.0, -82.7485), 1.0000),
    ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((22.7233, 20.0904, -46.6940), (23.0331, 14.9730, -42.5619), 2.0373),
]


@pytest.mark.parametrize(("first", "second", "expected"), SHARMA)
def test_ciede2000_matches_the_published_pairs(first, second, expected) -> None:
    assert float(ciede2000(np.array(first), np.array(second))) == pytest.approx(expected, abs=1e-4)
    assert float(ciede2000(np.array(second), np.array(first))) == pytest.approx(expected, abs=1e-4)


def test_oklab_round_trips_and_has_its_reference_white() -> None:
    rng = np.random.default_rng(0)
    rgb = rng.random((100, 3))
    np.testing.assert_allclose(oklab_to_srgb(srgb_to_oklab(rgb)), rgb, atol=1e-9)
    np.testing.assert_allclose(srgb_to_oklab(np.ones(3)), [1.0, 0.0, 0.0], atol=1e-4)
    assert srgb_to_oklab(np.array([1.0, 0.0, 0.0]))[1] > 0.2  # red is +a


def test_cielab_of_white_and_a_known_colour() -> None:
    np.testing.assert_allclose(srgb_to_cielab(np.ones(3)), [100, 0, 0], atol=1e-2)
    # sRGB (0.5, 0.5, 0.5) is L* 53.39 (a grey: a* = b* = 0)
    np.testing.assert_allclose(srgb_to_cielab(np.full(3, 0.5)), [53.389, 0, 0], atol=1e-2)
