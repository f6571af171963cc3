"""Each loss of the paper on small tensors whose value can be worked out by hand."""

import math

import pytest
import torch

from isegan.training.gan.losses import (
    compositional_loss,
    discriminator_loss,
    gan_loss,
    l1_loss,
    parsing_matching_loss,
    perceptual_loss,
    stage_one_adversarial,
)


def test_vanilla_gan_loss_is_bce_on_logits() -> None:
    logits = torch.zeros(1, 1, 2, 2)  # sigmoid(0) = 0.5 -> BCE = ln 2 either way
    assert gan_loss(logits, True, "vanilla").item() == pytest.approx(math.log(2))
    assert gan_loss(logits, False, "vanilla").item() == pytest.approx(math.log(2))
    confident = torch.full((1, 1, 2, 2), 20.0)
    assert gan_loss(confident, True, "vanilla").item() == pytest.approx(0.0, abs=1e-6)


def test_lsgan_loss_is_squared_distance_to_target() -> None:
    logits = torch.tensor([[[[0.5, 2.0]]]])
    assert gan_loss(logits, True, "lsgan").item() == pytest.approx((0.25 + 1.0) / 2)
    assert gan_loss(logits, False, "lsgan").item() == pytest.approx((0.25 + 4.0) / 2)
    with pytest.raises(ValueError, match="unknown gan_mode"):
        gan_loss(logits, True, "hinge")  # type: ignore[arg-type]


def test_discriminator_loss_halves_real_plus_fake() -> None:
    real, fake = torch.tensor([[[[0.5]]]]), torch.tensor([[[[2.0]]]])
    assert discriminator_loss(real, fake, "lsgan").item() == pytest.approx(0.5 * (0.25 + 4.0))


def test_stage_one_adversarial_weights_face_and_parsing() -> None:
    value = stage_one_adversarial(torch.tensor(2.0), torch.tensor(10.0), alpha=0.3)
    assert value.item() == pytest.approx(0.3 * 2 + 0.7 * 10)


def test_parsing_matching_loss_by_hand() -> None:
    # Two channels, 1x2 pixels: difference is 0.5 everywhere in channel 0, 0 in channel 1.
    photo = torch.tensor([[[[1.0, 1.0]], [[0.0, 0.0]]]])
    intermediate = torch.tensor([[[[0.5, 0.5]], [[0.0, 0.0]]]])
    # mse: global = mean(0.25, 0.25, 0, 0) = 0.125; channels = 0.25 + 0 = 0.25
    value = parsing_matching_loss(photo, intermediate, beta=0.3, norm="mse")
    assert value.item() == pytest.approx(0.3 * 0.125 + 0.7 * 0.25)
    # l2: global = sqrt(0.25 + 0.25) = sqrt(0.5); channels = sqrt(0.5) + 0
    value = parsing_matching_loss(photo, intermediate, beta=0.3, norm="l2")
    assert value.item() == pytest.approx(0.3 * math.sqrt(0.5) + 0.7 * math.sqrt(0.5))
    # rms: the l2 norms divided by sqrt(h w) = sqrt(2)
    value = parsing_matching_loss(photo, intermediate, beta=0.3, norm="rms")
    assert value.item() == pytest.approx(math.sqrt(0.5) / math.sqrt(2))
    assert parsing_matching_loss(photo, photo).item() == 0.0
    with pytest.raises(ValueError, match="unknown norm"):
        parsing_matching_loss(photo, intermediate, norm="l1")  # type: ignore[arg-type]


def test_l2_and_rms_gradients_do_not_vanish_but_mse_does() -> None:
    """The issue behind the choice: near the target, the norm's gradient keeps its size."""
    photo = torch.softmax(torch.randn(1, 8, 16, 16, generator=torch.Generator().manual_seed(0)), 1)
    sizes = {}
    for norm in ("l2", "rms", "mse"):
        for gap in (0.1, 0.001):
            intermediate = (photo + gap * torch.randn_like(photo)).requires_grad_(True)
            parsing_matching_loss(photo, intermediate, norm=norm).backward()
            sizes[norm, gap] = float(intermediate.grad.norm())
    assert sizes["l2", 0.001] == pytest.approx(sizes["l2", 0.1], rel=0.05)
    assert sizes["rms", 0.001] == pytest.approx(sizes["rms", 0.1], rel=0.05)
    assert sizes["rms", 0.1] == pytest.approx(sizes["l2", 0.1] / 16, rel=1e-4)
    assert sizes["mse", 0.001] < sizes["mse", 0.1] / 50


def test_compositional_loss_by_hand() -> None:
    # 1 image channel for readability (the loss sums over channels), 1x2 pixels.
    real = torch.tensor([[[[1.0, 0.0]]]])
    fake = torch.tensor([[[[0.0, 0.0]]]])  # |diff| = (1, 0)
    masks = torch.tensor([[[[1.0, 0.0]], [[0.0, 1.0]]]])  # component 0 = pixel 0, 1 = pixel 1
    # global: sum |diff| / (h w) = 1 / 2; components: 1 / 1 + 0 / 1 = 1
    value = compositional_loss(real, fake, masks, delta=0.7)
    assert value.item() == pytest.approx(0.7 * 0.5 + 0.3 * 1.0, rel=1e-5)


def test_compositional_loss_normalises_by_component_area() -> None:
    real = torch.ones(1, 1, 2, 2)
    fake = torch.zeros(1, 1, 2, 2)
    masks = torch.zeros(1, 2, 2, 2)
    masks[:, 0] = 1.0  # one component covers everything, the other is empty
    value = compositional_loss(real, fake, masks, delta=0.0)
    assert value.item() == pytest.approx(1.0, rel=1e-5)  # 4 / 4, empty component adds 0


def test_compositional_masks_are_detached() -> None:
    masks = torch.rand(1, 8, 4, 4, requires_grad=True)
    fake = torch.rand(1, 3, 4, 4, requires_grad=True)
    compositional_loss(torch.rand(1, 3, 4, 4), fake, masks).backward()
    assert masks.grad is None and fake.grad is not None


def test_perceptual_and_l1_losses() -> None:
    real = [torch.zeros(1, 2, 2, 2), torch.zeros(1, 1, 1, 1)]
    fake = [torch.ones(1, 2, 2, 2), torch.full((1, 1, 1, 1), 3.0)]
    assert perceptual_loss(real, fake, "mse").item() == pytest.approx(1.0 + 9.0)
    assert perceptual_loss(real, fake, "l1").item() == pytest.approx(1.0 + 3.0)
    assert l1_loss(torch.zeros(2, 2), torch.tensor([[1.0, -1.0], [0.0, 2.0]])).item() == 1.0
    with pytest.raises(ValueError, match="same, non-empty"):
        perceptual_loss(real, fake[:1])
