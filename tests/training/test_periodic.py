"""The periodic-texture score: it sees a grid-aligned pattern wherever the grid starts,
and stays near its floor on real photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from isegan.training.evaluation.quality.periodic import periodic_texture


def _with_grid(photo: Image.Image, period: int, amplitude: float, shift: int = 0) -> Image.Image:
    """The photo plus a +-amplitude pattern repeating every ``period`` pixels."""
    pixels = np.asarray(photo.convert("RGB"), dtype=np.float64)
    y, x = np.mgrid[: pixels.shape[0], : pixels.shape[1]]
    grid = np.where(((x + shift) // (period // 2) + (y + shift) // (period // 2)) % 2, 1, -1)
    return Image.fromarray(np.clip(pixels + amplitude * grid[..., None], 0, 255).astype(np.uint8))


@pytest.fixture(scope="module")
def photos(cufs_dir: Path, test_ids: list[str]) -> list[Image.Image]:
    return [Image.open(cufs_dir / "photos" / f"{i}.png").convert("RGB") for i in test_ids[::20]]


def test_real_photos_sit_near_the_floor(photos: list[Image.Image]) -> None:
    scores = [periodic_texture(p) for p in photos]
    assert max(scores) < 4.0, scores


@pytest.mark.parametrize("period", [2, 4, 8])
def test_a_grid_raises_the_score_by_about_its_amplitude(photos, period: int) -> None:
    for photo in photos:
        clean = periodic_texture(photo)
        gridded = periodic_texture(_with_grid(photo, period, 4.0))
        assert gridded > clean + 1.5, (period, clean, gridded)


def test_the_score_does_not_depend_on_where_the_grid_starts(photos) -> None:
    photo = photos[0]
    scores = [periodic_texture(_with_grid(photo, 8, 4.0, shift)) for shift in (0, 3, 5)]
    assert max(scores) - min(scores) < 0.3, scores


def test_a_flat_image_scores_zero_and_a_tiny_one_is_refused() -> None:
    assert periodic_texture(Image.new("RGB", (200, 250), (80, 120, 200))) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="too small"):
        periodic_texture(Image.new("RGB", (20, 20)))
