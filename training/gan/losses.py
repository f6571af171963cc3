"""The paper's losses, one function each (eq. 1-5), on batched tensors.

Images are (B, 3, H, W) in [-1, 1]; parsing maps (B, 8, H, W) probabilities. Where the
paper writes ||.||_2 without saying how it is normalised, ``norm`` chooses:

- ``"l2"`` (the default, as eq. 3 reads): the Euclidean norm per sample, averaged over
  the batch. Its gradient has unit size however small the difference, and its value
  grows with the image size (about 80 per term on a 256x256 pair early in training);
- ``"rms"``: the same norm divided by sqrt(H W), the root-mean-square difference per
  pixel: the same direction and non-vanishing gradient, at a scale that does not depend
  on the image size and is comparable with the other losses;
- ``"mse"``: the mean of squared differences, as PyTorch implementations of these losses
  often do; its gradient vanishes as P_int nears P_p, which lets small classes fade.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import torch
import torch.nn.functional as F

GanMode = Literal["vanilla", "lsgan"]
PmNorm = Literal["l2", "rms", "mse"]


def gan_loss(logits: torch.Tensor, target_is_real: bool, mode: GanMode) -> torch.Tensor:
    """Adversarial loss of one discriminator output (pix2pix's GANLoss)."""
    target = torch.ones_like(logits) if target_is_real else torch.zeros_like(logits)
    if mode == "vanilla":
        return F.binary_cross_entropy_with_logits(logits, target)
    if mode == "lsgan":
        return F.mse_loss(logits, target)
    raise ValueError(f"unknown gan_mode {mode!r}, choose 'vanilla' or 'lsgan'")


def discriminator_loss(
    real_logits: torch.Tensor, fake_logits: torch.Tensor, mode: GanMode
) -> torch.Tensor:
    """D's side of the game: real -> 1, fake -> 0, halved as in pix2pix."""
    return 0.5 * (gan_loss(real_logits, True, mode) + gan_loss(fake_logits, False, mode))


def stage_one_adversarial(face: torch.Tensor, parsing: torch.Tensor, alpha: float) -> torch.Tensor:
    """L_adv1 = alpha * L_adv1-face + (1 - alpha) * L_adv1-par (eq. 1)."""
    return alpha * face + (1 - alpha) * parsing


def _norm(difference: torch.Tensor, norm: PmNorm) -> torch.Tensor:
    if norm == "mse":
        return difference.pow(2).mean()
    if norm == "l2":
        return difference.flatten(1).norm(dim=1).mean()
    if norm == "rms":
        pixels = difference.shape[-2] * difference.shape[-1]
        return difference.flatten(1).norm(dim=1).mean() / pixels**0.5
    raise ValueError(f"unknown norm {norm!r}, choose 'l2', 'rms' or 'mse'")


def parsing_matching_loss(
    photo_parsing: torch.Tensor,
    intermediate_parsing: torch.Tensor,
    beta: float = 0.3,
    norm: PmNorm = "l2",
) -> torch.Tensor:
    """L_PM = beta * ||P_p - P_int|| + (1 - beta) * sum_c ||p_p^c - p_int^c|| (eq. 3)."""
    difference = photo_parsing - intermediate_parsing
    global_term = _norm(difference, norm)
    channel_term = sum(
        (_norm(difference[:, c], norm) for c in range(difference.shape[1])),
        start=torch.zeros((), device=difference.device, dtype=difference.dtype),
    )
    return beta * global_term + (1 - beta) * channel_term


def compositional_loss(
    real: torch.Tensor,
    fake: torch.Tensor,
    masks: torch.Tensor,
    delta: float = 0.7,
    eps: float = 1e-6,
) -> torch.Tensor:
    """L_cmp (eq. 4): delta * ||Y - Y^||_1 / (h w) + (1 - delta) * sum_c
    ||Y . p^c - Y^ . p^c||_1 / sum(p^c). ``masks`` are detached here (the paper's P_int)."""
    masks = masks.detach()
    height, width = real.shape[-2:]
    absolute = (real - fake).abs()  # (B, 3, H, W)
    global_term = absolute.sum(dim=(1, 2, 3)) / (height * width)
    weighted = (absolute.unsqueeze(1) * masks.unsqueeze(2)).sum(dim=(2, 3, 4))  # (B, C)
    area = masks.sum(dim=(2, 3))  # (B, C)
    component_term = (weighted / (area + eps)).sum(dim=1)
    return (delta * global_term + (1 - delta) * component_term).mean()


def perceptual_loss(
    real_features: Sequence[torch.Tensor],
    fake_features: Sequence[torch.Tensor],
    distance: Literal["mse", "l1"] = "mse",
) -> torch.Tensor:
    """L_per = sum over the tapped VGG-19 layers of ||phi_l(Y) - phi_l(Y^)|| (eq. 5)."""
    if len(real_features) != len(fake_features) or not real_features:
        raise ValueError("perceptual loss needs the same, non-empty list of feature maps")
    terms = [
        F.mse_loss(fake, real) if distance == "mse" else F.l1_loss(fake, real)
        for real, fake in zip(real_features, fake_features, strict=True)
    ]
    return torch.stack(terms).sum()


def l1_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """pix2pix's reconstruction term (mean absolute error)."""
    return F.l1_loss(fake, real)


def dip_gan_objective(weighted_terms: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Eq. 6, G1's objective: L_DIP = L_adv1 + lambda L_cmp + gamma L_per + mu L_PM,
    from its terms already weighted (plus those a recipe adds: L1, L_id, L_face-per,
    feature matching). L_adv1 is the one term every preset has."""
    return _sum_of_terms(weighted_terms)


def se_gan_objective(weighted_terms: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Eq. 7, G2's objective: L_SE = L_adv2 + lambda L_cmp + gamma L_per, from its terms
    already weighted (plus a recipe's L_id, L_face-per, feature matching); no L_PM, since
    G2 makes no parsing map."""
    if "pm" in weighted_terms:
        raise ValueError("eq. 7 has no L_PM: G2 makes no parsing map")
    return _sum_of_terms(weighted_terms)


def _sum_of_terms(weighted_terms: Mapping[str, torch.Tensor]) -> torch.Tensor:
    if "adv" not in weighted_terms:
        raise ValueError(f"an adversarial term is missing: {sorted(weighted_terms)}")
    return torch.stack(list(weighted_terms.values())).sum()
