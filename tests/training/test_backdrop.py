"""The backdrop check on the real CUFS photos: its rule must sort every real photo into
its subset's kind, and it must see a backdrop painted the wrong colour."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from isegan.training.evaluation.quality.backdrop import (
    backdrop_colour,
    backdrop_kind,
    backdrop_scores,
)
from isegan.training.evaluation.report import report_markdown


def _photos(cufs_dir: Path) -> dict[str, Image.Image]:
    return {
        path.stem: Image.open(path).convert("RGB")
        for path in sorted((cufs_dir / "photos").glob("*.png"))
    }


def _whitewashed(photo: Image.Image) -> Image.Image:
    """The photo with its top third painted white, as a generator that drifts to AR's
    backdrop would."""
    painted = photo.copy()
    ImageDraw.Draw(painted).rectangle((0, 0, photo.width, photo.height // 3), fill="white")
    return painted


def test_every_real_cufs_photo_has_its_subsets_backdrop(cufs_dir: Path) -> None:
    kinds = {name: backdrop_kind(backdrop_colour(p)) for name, p in _photos(cufs_dir).items()}
    cuhk = {kinds[n] for n in kinds if n.startswith("cuhk")}
    ar = {kinds[n] for n in kinds if n.startswith("ar")}
    assert cuhk == {"blue"}
    assert ar == {"light"}


def test_scores_see_a_blue_backdrop_painted_white(cufs_dir: Path) -> None:
    photos = _photos(cufs_dir)
    names = [n for n in photos if n.startswith("cuhk")][:6] + [
        n for n in photos if n.startswith("ar")
    ][:4]
    real = [photos[n] for n in names]
    same = backdrop_scores(real, real)
    assert same["kind_agreement"] == 1.0
    assert same["mean_colour_distance"] == 0.0
    assert same["real_kind_counts"] == {"blue": 6, "light": 4}

    washed = backdrop_scores(real, [_whitewashed(p) for p in real])
    assert washed["kind_agreement_by_real_kind"] == {"blue": 0.0, "light": 1.0}
    assert washed["kind_agreement"] == pytest.approx(0.4)
    assert washed["mean_colour_distance"] > 50


def test_dark_grey_backdrop_is_neither_blue_nor_light() -> None:
    grey = Image.new("RGB", (200, 250), (90, 90, 90))
    assert backdrop_kind(backdrop_colour(grey)) == "other"
    assert backdrop_kind(np.array([250.0, 250.0, 252.0])) == "light"


def test_scores_refuse_unpaired_lists() -> None:
    image = Image.new("RGB", (200, 250), "white")
    with pytest.raises(ValueError, match="equally many"):
        backdrop_scores([image], [image, image])
    with pytest.raises(ValueError, match="equally many"):
        backdrop_scores([], [])


def test_report_has_a_backdrop_row_per_method(cufs_dir: Path) -> None:
    photos = _photos(cufs_dir)
    real = [photos[n] for n in sorted(photos)[:3] + sorted(photos)[-3:]]
    rows = {
        "itself": {"backdrop": backdrop_scores(real, real)},
        "washed": {"backdrop": backdrop_scores(real, [_whitewashed(p) for p in real])},
    }
    report = report_markdown(rows, "header")
    backdrop_lines = [line for line in report.splitlines() if line.startswith("| washed |")]
    # the first table, the identity table and the backdrop table each have a row
    assert len(backdrop_lines) == 3
    assert (
        backdrop_lines[-1].split(" | ")[1] == f"{rows['washed']['backdrop']['kind_agreement']:.3f}"
    )
