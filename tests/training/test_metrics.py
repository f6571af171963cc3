"""The paper's metrics: FSIM against an independent implementation, NLDA on known cases,
the Frechet distance in closed form, and the LPIPS/FID code paths with weights the tests
create (the ImageNet backbones cannot be downloaded here)."""

from __future__ import annotations

import numpy as np
import piq
import pytest
import torch
from PIL import Image
from torchvision.models import alexnet, squeezenet1_1

from isegan.model.errors import WeightsError
from isegan.training.evaluation.evaluate import greyscale
from isegan.training.evaluation.quality.fsim import fsim
from isegan.training.evaluation.quality.learned import (
    build_fid_inception,
    build_lpips,
    frechet_distance,
    inception_features,
    lpips_distances,
)
from isegan.training.evaluation.quality.nlda import nlda_accuracy
from isegan.training.evaluation.quality.pixel import psnr, ssim

# piq.fsim (chromatic=False) implements the same paper independently in PyTorch; on real
# CUFS photo/sketch pairs the two agree to this many FSIM units (measured: < 5e-5).
FSIM_TOLERANCE = 1e-3


@pytest.fixture(scope="module")
def pairs(cufs_dir, test_ids):
    chosen = test_ids[:4] + test_ids[-2:]
    return [
        (greyscale(Image.open(cufs_dir / "photos" / f"{i}.png")),
         greyscale(Image.open(cufs_dir / "sketches" / f"{i}.png")))
        for i in chosen
    ]  # fmt: skip


def test_fsim_matches_piq_on_real_pairs(pairs) -> None:
    for photo, sketch in pairs:
        ours = fsim(photo, sketch)
        theirs = float(piq.fsim(
            torch.from_numpy(sketch).float()[None, None], torch.from_numpy(photo).float()[None, None],
            data_range=255.0, chromatic=False,
        ))  # fmt: skip
        assert abs(ours - theirs) < FSIM_TOLERANCE
        assert 0.5 < ours < 0.9


def test_fsim_identity_and_degradation(pairs) -> None:
    photo, _ = pairs[0]
    assert fsim(photo, photo) == pytest.approx(1.0)
    blurred = np.asarray(
        Image.fromarray(photo.astype(np.uint8)).resize((50, 62)).resize((200, 250)), np.float64
    )
    assert fsim(photo, blurred) < 0.95
    with pytest.raises(ValueError, match="same size"):
        fsim(photo, photo[:-1])


def test_ssim_and_psnr(pairs) -> None:
    photo, sketch = pairs[0]
    assert ssim(photo, photo) == pytest.approx(1.0)
    assert ssim(photo, sketch) < 0.9
    assert psnr(photo, photo) == float("inf")
    noisy = np.clip(photo + np.random.default_rng(0).normal(0, 5, photo.shape), 0, 255)
    assert 30 < psnr(photo, noisy) < 40  # sigma 5 noise: about 34 dB


def test_nlda_real_photos_against_themselves_is_perfect(cufs_dir, test_ids) -> None:
    photos = np.stack([greyscale(Image.open(cufs_dir / "photos" / f"{i}.png")).ravel() / 255
                       for i in test_ids[:40]])  # fmt: skip
    result = nlda_accuracy(photos, photos, repeats=5)
    assert result.accuracy == 1.0
    assert (result.train_identities, result.test_identities) == (18, 22)


def test_nlda_random_images_are_near_chance() -> None:
    rng = np.random.default_rng(0)
    real, fake = rng.random((60, 500)), rng.random((60, 500))
    result = nlda_accuracy(real, fake, repeats=10)
    chance = 1 / result.test_identities
    assert result.accuracy < 4 * chance


def test_nlda_best_over_dimensions_is_at_least_the_full_projection(cufs_dir, test_ids) -> None:
    def load(kind):
        return np.stack([greyscale(Image.open(cufs_dir / kind / f"{i}.png")).ravel() / 255
                         for i in test_ids[:40]])  # fmt: skip

    result = nlda_accuracy(load("photos"), load("sketches"), repeats=4)
    assert result.best_accuracy >= result.accuracy
    assert 1 <= result.best_dimensions <= result.train_identities - 1


def test_nlda_face_features_ignore_tone(cufs_dir, test_ids) -> None:
    from isegan.training.evaluation.evaluate import nlda_features

    grey = [greyscale(Image.open(cufs_dir / "photos" / f"{i}.png")) for i in test_ids[:3]]
    shifted = [0.5 * g + 40 for g in grey]
    np.testing.assert_allclose(
        nlda_features(grey, "face"), nlda_features(shifted, "face"), atol=1e-9
    )
    assert not np.allclose(nlda_features(grey, "whole"), nlda_features(shifted, "whole"))
    with pytest.raises(ValueError, match="unknown NLDA feature mode"):
        nlda_features(grey, "pixels")


def test_nlda_needs_enough_identities() -> None:
    with pytest.raises(ValueError, match="too few"):
        nlda_accuracy(np.zeros((3, 10)), np.zeros((3, 10)))


def test_frechet_distance_closed_forms() -> None:
    rng = np.random.default_rng(0)
    # Same covariance, shifted mean: the distance is the squared mean difference.
    a = rng.normal(size=(4000, 3))
    b = a + np.array([1.0, 2.0, 0.0])
    assert frechet_distance(a, b) == pytest.approx(5.0, rel=1e-6)
    # Isotropic Gaussians N(0, s1^2 I), N(0, s2^2 I): d * (s1 - s2)^2 with sample covariances.
    x = rng.normal(size=(20000, 4))
    y = 3 * rng.normal(size=(20000, 4))
    expected = (
        np.trace(np.cov(x, rowvar=False))
        + np.trace(np.cov(y, rowvar=False))
        - 2
        * np.trace(
            np.real(
                __import__("scipy").linalg.sqrtm(np.cov(x, rowvar=False) @ np.cov(y, rowvar=False))
            )
        )
        + np.sum((x.mean(0) - y.mean(0)) ** 2)
    )
    assert frechet_distance(x, y) == pytest.approx(expected, rel=1e-6)
    assert frechet_distance(x, y) == pytest.approx(4 * (1 - 3) ** 2, rel=0.05)
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-6)


@pytest.fixture(scope="module")
def backbone_files(tmp_path_factory):
    """torchvision-format ImageNet state dicts with random values, made by the test."""
    folder = tmp_path_factory.mktemp("backbones")
    torch.manual_seed(0)
    torch.save(alexnet(weights=None).state_dict(), folder / "alexnet.pth")
    torch.save(squeezenet1_1(weights=None).state_dict(), folder / "squeezenet1_1.pth")
    return folder


def test_lpips_paths_with_created_weights(backbone_files, cufs_dir, test_ids) -> None:
    photo = Image.open(cufs_dir / "photos" / f"{test_ids[0]}.png").convert("RGB")
    sketch = Image.open(cufs_dir / "sketches" / f"{test_ids[0]}.png").convert("RGB")
    for network, file in (("alex", "alexnet.pth"), ("squeeze", "squeezenet1_1.pth")):
        model = build_lpips(network, backbone_files / file)
        same, different = lpips_distances(model, [photo, photo], [photo, sketch])
        assert same == pytest.approx(0.0, abs=1e-6) and different > 0
    # The trunk really holds the file's weights.
    state = torch.load(backbone_files / "alexnet.pth", weights_only=True)
    torch.testing.assert_close(
        build_lpips("alex", backbone_files / "alexnet.pth").net.slice1[0].weight,
        state["features.0.weight"],
    )
    with pytest.raises(WeightsError, match="LPIPS-squeeze"):
        build_lpips("squeeze", backbone_files / "alexnet.pth")


def _fid_inception_state_dict() -> dict[str, torch.Tensor]:
    """A state dict in the layout of pytorch-fid's FID Inception, random values: the
    torchvision Inception v3 trunk with pytorch-fid's patched blocks (test-only)."""
    from pytorch_fid import inception as fid

    network = fid._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    network.Mixed_5b = fid.FIDInceptionA(192, pool_features=32)
    network.Mixed_5c = fid.FIDInceptionA(256, pool_features=64)
    network.Mixed_5d = fid.FIDInceptionA(288, pool_features=64)
    network.Mixed_6b = fid.FIDInceptionC(768, channels_7x7=128)
    network.Mixed_6c = fid.FIDInceptionC(768, channels_7x7=160)
    network.Mixed_6d = fid.FIDInceptionC(768, channels_7x7=160)
    network.Mixed_6e = fid.FIDInceptionC(768, channels_7x7=192)
    network.Mixed_7b = fid.FIDInceptionE_1(1280)
    network.Mixed_7c = fid.FIDInceptionE_2(2048)
    return network.state_dict()


def test_fid_path_with_created_weights(tmp_path, cufs_dir, test_ids) -> None:
    torch.manual_seed(0)
    path = tmp_path / "fid-inception.pth"
    torch.save(_fid_inception_state_dict(), path)
    model = build_fid_inception(path)
    images = [Image.open(cufs_dir / "photos" / f"{i}.png").convert("RGB") for i in test_ids[:3]]
    features = inception_features(model, images)
    assert features.shape == (3, 2048) and np.isfinite(features).all()
    broken = tmp_path / "broken.pth"
    torch.save({"Conv2d_1a_3x3.conv.weight": torch.zeros(1)}, broken)
    with pytest.raises(WeightsError, match="does not fit"):
        build_fid_inception(broken)


def test_parsing_agreement_pools_pixels_per_class() -> None:
    from isegan.training.evaluation.evaluate import parsing_agreement

    reference = [np.array([[0, 1], [1, 7]]), np.array([[0, 0], [1, 1]])]
    same = parsing_agreement(reference, reference)
    assert same["mean_iou"] == 1.0 and same["per_class_iou"]["eyes"] is None  # absent
    shifted = [np.array([[0, 1], [1, 1]]), np.array([[0, 0], [1, 1]])]
    result = parsing_agreement(shifted, reference)
    # skin: 4 common of 5 pixels; hair: 0 of 1; background: 3 of 3
    assert result["per_class_iou"]["skin"] == pytest.approx(4 / 5)
    assert result["per_class_iou"]["hair"] == 0.0
    assert result["mean_iou"] == pytest.approx((1 + 0.8 + 0) / 3)
