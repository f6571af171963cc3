"""The named sketch renderings on real CUFS pairs: deterministic, in range, and each doing
what its name says."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from isegan.training.robustness import renderings as r
from isegan.training.robustness.suite import render_split, to_tensor


@pytest.fixture(scope="module")
def pair(cufs_dir, test_ids):
    photo = Image.open(cufs_dir / "photos" / f"{test_ids[0]}.png").convert("RGB")
    sketch = Image.open(cufs_dir / "sketches" / f"{test_ids[0]}.png").convert("RGB")
    return to_tensor(sketch), to_tensor(photo)


@pytest.mark.parametrize("name", r.KIND_NAMES)
def test_every_kind_is_seeded_in_range_and_changes_the_sketch(pair, name) -> None:
    sketch, photo = pair
    first = r.render(name, sketch, photo, index=3)
    assert first.shape == sketch.shape and first.dtype == torch.float32
    assert float(first.min()) >= 0 and float(first.max()) <= 1
    assert torch.equal(first, r.render(name, sketch, photo, index=3))  # fixed seed
    assert float((first - sketch).abs().mean()) > 0.003


def test_seeded_kinds_differ_between_images(pair) -> None:
    sketch, photo = pair
    assert not torch.equal(r.render("paper", sketch, photo, 0), r.render("paper", sketch, photo, 1))


def test_faint_keeps_exactly_its_share_of_each_strokes_darkness(pair) -> None:
    sketch, photo = pair
    faint = r.render("faint", sketch, photo)
    torch.testing.assert_close(1 - faint, 0.45 * (1 - sketch))


def test_paper_is_tinted_cream_and_grey_drawings_stay_grey_elsewhere(pair) -> None:
    sketch, photo = pair
    on_paper = r.render("paper", sketch, photo)
    red, blue = on_paper[:, 0].mean(), on_paper[:, 2].mean()
    assert red - blue > 0.1  # cream: more red than blue
    for name in ("faint", "shadow", "ink", "line_art", "photo_edges"):
        out = r.render(name, sketch, photo)
        torch.testing.assert_close(out[:, 0], out[:, 2], atol=1e-6, rtol=0)


def test_shadow_darkens_one_side_of_the_page_more_than_the_other(pair) -> None:
    sketch, photo = pair
    ratio = r.render("shadow", sketch, photo) / sketch.clamp(min=0.05)
    quadrants = [
        float(q.mean()) for half in ratio.split(125, dim=-2) for q in half.split(100, dim=-1)
    ]
    assert max(quadrants) - min(quadrants) > 0.2


def test_jpeg_is_a_real_codec_round_trip(pair) -> None:
    sketch, _ = pair
    out = r.jpeg(sketch, 30)
    as_bytes = sketch.mul(255).round().to(torch.uint8)
    import io

    buffer = io.BytesIO()
    Image.fromarray(as_bytes[0].permute(1, 2, 0).numpy()).save(buffer, "JPEG", quality=30)
    pil = to_tensor(Image.open(buffer))
    assert float((out - pil).abs().mean()) < 2 / 255  # same codec, same quality


def test_line_renderings_have_no_tone_a_blank_page_has_no_lines() -> None:
    grey_field = torch.full((1, 3, 64, 64), 0.3)  # flat dark shading, no edges
    assert torch.equal(
        r.line_art(grey_field, sigma=1.0, threshold=0.01), torch.ones_like(grey_field)
    )
    assert torch.equal(r.ink(grey_field, sigma=1.0, threshold=0.01), torch.ones_like(grey_field))


def test_ink_is_binary_and_line_art_draws_the_sketch_strokes(pair) -> None:
    sketch, photo = pair
    ink = r.render("ink", sketch, photo)
    grey = ((ink > 0.05) & (ink < 0.95)).float().mean()
    assert float(grey) < 0.01 and float((ink < 0.05).float().mean()) > 0.02  # black or white
    lines = r.render("line_art", sketch, photo)[:, 0] < 0.5
    dark = sketch[:, 0] < 0.5
    assert float(dark[lines].float().mean()) > float(dark.float().mean())  # lines on strokes


def test_photo_edges_come_from_the_photo_not_the_sketch(pair) -> None:
    sketch, photo = pair
    edges = r.render("photo_edges", sketch, photo)
    assert torch.equal(edges, r.render("photo_edges", torch.ones_like(sketch), photo))
    assert not torch.equal(edges, r.render("photo_edges", sketch, sketch))


def test_sparse_keeps_only_some_of_the_strokes(pair) -> None:
    sketch, photo = pair
    full = (r.ink(sketch, sigma=1.0, threshold=0.03) < 0.5).sum()
    kept = (r.render("sparse", sketch, photo) < 0.5).sum()
    assert 0.3 * full < kept < 0.9 * full


def test_render_split_seeds_each_image_by_its_position(pair) -> None:
    sketch, photo = pair
    image = Image.fromarray((sketch[0].permute(1, 2, 0) * 255).round().byte().numpy())
    real = Image.fromarray((photo[0].permute(1, 2, 0) * 255).round().byte().numpy())
    first, second = render_split("scanner", [image, image], [real, real])
    assert first.size == image.size
    assert not np.array_equal(np.asarray(first), np.asarray(second))


def test_unknown_kinds_are_named() -> None:
    with pytest.raises(ValueError, match="unknown rendering 'crayon'"):
        r.kind("crayon")
