"""Canonicalisation on real CUFS sketches rendered as people bring them."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from isegan.model.alignment.align import NoFaceFoundError
from isegan.model.canonicalise import CanonicaliseConfig, canonicalise
from isegan.model.pipeline import FacePipeline
from isegan.training.robustness.renderings import render
from isegan.training.robustness.suite import to_image, to_tensor


def grey(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"), dtype=np.float64) / 255


@pytest.fixture(scope="module")
def pairs(cufs_dir, test_ids):
    chosen = [test_ids[0], test_ids[50], test_ids[-1]]  # CUHK and AR
    return [
        (
            Image.open(cufs_dir / "sketches" / f"{i}.png").convert("RGB"),
            Image.open(cufs_dir / "photos" / f"{i}.png").convert("RGB"),
        )
        for i in chosen
    ]


def _rendered(name: str, sketch: Image.Image, photo: Image.Image) -> Image.Image:
    return to_image(render(name, to_tensor(sketch), to_tensor(photo)))


@pytest.mark.parametrize("name", ["faint", "paper", "shadow"])
def test_brings_faint_tinted_and_shadowed_sketches_back_towards_the_clean_one(pairs, name) -> None:
    for sketch, photo in pairs:
        clean = grey(canonicalise(sketch))
        rendered = _rendered(name, sketch, photo)
        before = np.abs(grey(rendered) - grey(sketch)).mean()
        after = np.abs(grey(canonicalise(rendered)) - clean).mean()
        assert after < 0.75 * before, (name, before, after)


def test_a_clean_cufs_sketch_changes_little(pairs) -> None:
    for sketch, _ in pairs:
        assert np.abs(grey(canonicalise(sketch)) - grey(sketch)).mean() < 0.03


def test_output_is_grey_with_paper_at_the_configured_level(pairs) -> None:
    config = CanonicaliseConfig()
    out = np.asarray(canonicalise(_rendered("paper", *pairs[0]), config), dtype=np.int16)
    assert np.array_equal(out[..., 0], out[..., 2]) and np.array_equal(out[..., 0], out[..., 1])
    assert abs(np.percentile(out[..., 0], 90) / 255 - config.paper_level) < 0.03


def test_a_blank_page_is_not_turned_into_strokes() -> None:
    rng = np.random.default_rng(0)
    page = np.clip(0.8 + 0.01 * rng.standard_normal((250, 200)), 0, 1)
    out = grey(canonicalise(Image.fromarray((page * 255).round().astype(np.uint8))))
    config = CanonicaliseConfig()
    assert out.min() > 1 - config.max_gain * (1 - page / page.max()).max() - 0.05
    assert out.std() <= config.max_gain * page.std() + 0.01


def test_the_pipeline_canonicalises_before_anything_else_and_records_it(
    pairs, generator_checkpoint, parser_checkpoint
) -> None:
    pipeline = FacePipeline.from_files(generator_checkpoint, parser_checkpoint, device="cpu")
    faint = _rendered("faint", *pairs[0])
    assert pipeline.inference_record()["canonicalise"] is False
    by_hand = pipeline([canonicalise(faint)], align="false")[0]
    pipeline.canonicalise = CanonicaliseConfig()
    run = pipeline.run([faint], align="false")
    assert pipeline.inference_record()["canonicalise"] is True
    assert run.timings.extra["canonicalise"] > 0
    assert np.array_equal(np.asarray(run.results[0].photo), np.asarray(by_hand.photo))
    assert not np.array_equal(
        np.asarray(run.results[0].photo),
        np.asarray(FacePipeline.from_files(generator_checkpoint, parser_checkpoint, device="cpu")(
            [faint], align="false")[0].photo),
    )  # fmt: skip


def test_what_is_not_a_face_stays_not_a_face(generator_checkpoint, parser_checkpoint) -> None:
    """Canonicalisation must not make a face appear: a page of noise and a photo of a
    landscape-like gradient are still refused by alignment (the service's 422)."""
    pipeline = FacePipeline.from_files(generator_checkpoint, parser_checkpoint, device="cpu")
    pipeline.canonicalise = CanonicaliseConfig()
    rng = np.random.default_rng(1)
    noise = Image.fromarray(rng.integers(150, 255, (300, 260, 3), dtype=np.uint8))
    ramp = Image.fromarray(np.tile(np.linspace(40, 250, 260, dtype=np.uint8), (300, 1)))
    for image in (noise, ramp, Image.new("RGB", (300, 260), (250, 240, 200))):
        with pytest.raises(NoFaceFoundError):
            pipeline([image], align="true")


def test_transparent_paper_is_white_paper_as_in_preprocessing(pairs) -> None:
    """A sketch on a transparent layer is flattened onto white, never onto black."""
    sketch = pairs[0][0]
    alpha = Image.fromarray((255 - np.asarray(sketch.convert("L"))).astype(np.uint8))
    layer = Image.new("RGBA", sketch.size, (0, 0, 0, 0))
    layer.putalpha(alpha)
    flattened = Image.alpha_composite(Image.new("RGBA", sketch.size, "white"), layer)
    assert np.array_equal(np.asarray(canonicalise(layer)), np.asarray(canonicalise(flattened)))
    assert grey(canonicalise(layer)).mean() > 0.7  # paper, not black
