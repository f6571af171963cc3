"""The guided filter makes a mask follow the guide's edges (synthetic images built here)."""

from __future__ import annotations

import numpy as np
import pytest

from isegan.model.colour.guided_filter import guided_filter


def test_a_mask_that_misses_an_edge_is_pulled_onto_it() -> None:
    guide = np.zeros((40, 40))
    guide[:, 20:] = 1.0  # a step edge at column 20
    mask = np.zeros((40, 40))
    mask[:, 17:] = 1.0  # the region's edge 3 px off the photo's
    refined = guided_filter(guide, mask, radius=8, eps=1e-4)
    assert refined[:, 22:30].min() > 0.9  # the bright side stays in the region
    assert refined[:, 17:20].mean() < 0.5  # the strip across the edge mostly leaves it
    assert refined[:, :10].max() < 0.2


def test_a_flat_guide_leaves_a_smooth_mask_alone_and_bad_settings_are_refused() -> None:
    ramp = np.tile(np.linspace(0, 1, 30), (30, 1))
    flat = np.full((30, 30), 0.5)
    assert np.allclose(guided_filter(flat, ramp, radius=2, eps=1e-3)[:, 5:25], ramp[:, 5:25])
    with pytest.raises(ValueError):
        guided_filter(flat, ramp, radius=0, eps=1e-3)
