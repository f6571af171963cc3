"""Training augmentation: seeded, covering every family, and the P_s it implies."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from isegan.model.parsing import load_parser
from isegan.training.robustness.augment import PHOTOMETRIC, AugmentConfig, SketchAugmenter
from isegan.training.robustness.batches import augment_batch
from isegan.training.robustness.suite import to_tensor


@pytest.fixture(scope="module")
def batch(cufs_dir, test_ids):
    """Two real pairs in [-1, 1], at CUFS size."""
    ids = test_ids[:2]
    sketches = [to_tensor(Image.open(cufs_dir / "sketches" / f"{i}.png")) for i in ids]
    photos = [to_tensor(Image.open(cufs_dir / "photos" / f"{i}.png")) for i in ids]
    return torch.cat(sketches) * 2 - 1, torch.cat(photos) * 2 - 1


def test_off_by_default_and_nothing_changes_at_probability_zero(batch) -> None:
    sketch, photo = batch
    assert not AugmentConfig().enabled
    out = SketchAugmenter(AugmentConfig())(sketch, photo, step=5)
    assert torch.equal(out.sketch, sketch) and not out.changed.any()


def test_draws_are_fixed_by_seed_step_and_item(batch) -> None:
    sketch, photo = batch
    augmenter = SketchAugmenter(AugmentConfig(photometric=1.0, style=0.5, seed=3))
    first = augmenter(sketch, photo, step=7)
    again = augmenter(sketch, photo, step=7)
    assert torch.equal(first.sketch, again.sketch) and first.applied == again.applied
    later = augmenter(sketch, photo, step=8)
    assert not torch.equal(first.sketch, later.sketch)
    other_seed = SketchAugmenter(AugmentConfig(photometric=1.0, style=0.5, seed=4))
    assert not torch.equal(first.sketch, other_seed(sketch, photo, step=7).sketch)
    # one rank's items are seeded apart from another's
    shifted = augmenter(sketch, photo, step=7, first_item=2)
    assert not torch.equal(first.sketch, shifted.sketch)


def test_every_photometric_change_and_the_style_family_is_drawn(batch) -> None:
    sketch, photo = batch
    augmenter = SketchAugmenter(AugmentConfig(photometric=1.0, style=0.5))
    seen: set[str] = set()
    for step in range(60):
        out = augmenter(sketch[:1], photo[:1], step=step)
        assert out.changed.all()
        assert float(out.sketch.min()) >= -1 and float(out.sketch.max()) <= 1
        seen.update(out.applied[0])
    assert seen == {name for name, _ in PHOTOMETRIC} | {"style"}


def test_resampling_changes_pixels_but_not_geometry(batch) -> None:
    """Turned, scaled and warped back: every stroke stays where it was (the pair stays
    aligned), but the pixels differ as a scanned-then-aligned sketch's do."""
    from isegan.training.robustness.augment import _resampled

    image = batch[0][:1].add(1).div(2)
    for seed in range(4):
        out = _resampled(image, torch.Generator().manual_seed(seed))
        assert out.shape == image.shape
        assert not torch.equal(out, image)
        inner = (slice(None), slice(None), slice(40, -40), slice(40, -40))
        assert float((out - image)[inner].abs().mean()) < 0.015
        # a two-pixel shift of the sketch is further away than the round trip
        shifted = torch.roll(image, 2, dims=-1)
        assert float((shifted - image)[inner].abs().mean()) > float(
            (out - image)[inner].abs().mean()
        )


def test_style_replaces_the_sketch_by_lines(batch) -> None:
    sketch, photo = batch
    out = SketchAugmenter(AugmentConfig(style=1.0))(sketch, photo, step=0)
    assert all(applied == ("style",) for applied in out.applied)
    white = (out.sketch > 0.9).float().mean()
    assert float(white) > float((sketch > 0.9).float().mean())  # shading gone: more paper


@pytest.mark.parametrize("mode", ["rendered", "clean"])
def test_changed_sketches_get_the_parsing_of_what_they_became(
    batch, parser_checkpoint, mode
) -> None:
    sketch, photo = batch
    parser = load_parser(parser_checkpoint, torch.device("cpu")).parser.eval()
    cached = torch.full((2, 8, *sketch.shape[-2:]), 1 / 8)
    items = {"sketch": sketch, "photo": photo, "sketch_parsing": cached}
    augmenter = SketchAugmenter(AugmentConfig(style=0.5, seed=1, sketch_parsing=mode))
    step = next(
        s for s in range(50) if augmenter(sketch, photo, s).changed.tolist() == [True, False]
    )
    out = augment_batch(augmenter, parser, items, step=step, device=torch.device("cpu"))
    assert out.changed == 1 and out.seconds > 0
    assert torch.equal(out.batch["sketch_parsing"][1], cached[1])  # unchanged item keeps its map
    if mode == "rendered":
        with torch.no_grad():
            expected = parser(out.batch["sketch"][:1])
        torch.testing.assert_close(out.batch["sketch_parsing"][:1], expected)
    else:
        assert torch.equal(out.batch["sketch_parsing"][0], cached[0])


def test_training_with_augmentation_logs_its_cost_and_resumes_exactly(
    trainer_factory, tmp_path
) -> None:
    """Real training steps on CUFS pairs with both families on; the run's state carries
    what it needs to see the same renderings after a resume."""
    overrides = ("augment.photometric=1.0", "augment.style=0.5", "grad_norm_every=0")
    straight = trainer_factory(tmp_path / "a", overrides=overrides, max_steps=4)
    straight.fit()
    records = [
        json.loads(line) for line in (tmp_path / "a" / "losses.jsonl").read_text().splitlines()
    ]
    assert all(0 < r["augment_seconds"] < r["step_seconds"] for r in records)
    first = trainer_factory(tmp_path / "b", overrides=overrides, max_steps=2)
    first.fit()
    resumed = trainer_factory(tmp_path / "b", overrides=overrides, max_steps=4)
    resumed.resume(tmp_path / "b" / "training-state.pt")
    resumed.fit()
    for name, network in straight.gan.generators().networks().items():
        other = resumed.gan.generators().networks()[name]
        for (key, a), b in zip(
            network.state_dict().items(), other.state_dict().values(), strict=True
        ):
            torch.testing.assert_close(a, b, msg=f"{name}.{key}")
