"""One training iteration in the paper's order: D1 and D_par, then D2, then G1, then G2.

Each discriminator step sees detached fakes; each generator step sees its discriminators
frozen and called through the unwrapped module (no DDP gradient sync for a network that
is not being updated). G2 takes G1's outputs detached: the two stages are updated by
their own objectives (eq. 6 and eq. 7).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from isegan.model.networks.vgg import VGG19Features
from isegan.training.config import TrainConfig
from isegan.training.identity_loss import FaceTargets, IdentityPerceptual
from isegan.training.losses import (
    compositional_loss,
    discriminator_loss,
    gan_loss,
    l1_loss,
    parsing_matching_loss,
    perceptual_loss,
    stage_one_adversarial,
)
from isegan.training.networks import TwoStageGAN, condition_tensor


@dataclass
class StepContext:
    config: TrainConfig
    gan: TwoStageGAN  # the plain networks
    wrapped: dict[str, nn.Module]  # the same networks, possibly DDP-wrapped, for updates
    optimisers: dict[str, torch.optim.Optimizer]
    device: torch.device
    perceptual: VGG19Features | None = None
    face: IdentityPerceptual | None = None
    scaler: torch.amp.GradScaler | None = None
    extra: dict[str, float] = field(default_factory=dict)

    def autocast(self) -> contextlib.AbstractContextManager[None]:
        precision = self.config.precision
        if precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if precision == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)


def set_requires_grad(networks: Sequence[nn.Module | None], flag: bool) -> None:
    for network in networks:
        if network is not None:
            network.requires_grad_(flag)


def _update(context: StepContext, loss: torch.Tensor, names: list[str]) -> None:
    optimisers = [context.optimisers[n] for n in names if n in context.optimisers]
    for optimiser in optimisers:
        optimiser.zero_grad(set_to_none=True)
    scaler = context.scaler
    if scaler is not None and scaler.is_enabled():
        scaler.scale(loss).backward()
        for optimiser in optimisers:
            scaler.step(optimiser)
    else:
        loss.backward()
        for optimiser in optimisers:
            optimiser.step()


def _cat(*tensors: torch.Tensor) -> torch.Tensor:
    return torch.cat(tensors, dim=1)


@contextlib.contextmanager
def frozen(networks: Sequence[nn.Module | None]) -> Iterator[None]:
    set_requires_grad(networks, False)
    try:
        yield
    finally:
        set_requires_grad(networks, True)


def train_step(context: StepContext, batch: dict[str, torch.Tensor]) -> dict[str, float]:
    """Run one iteration; returns every loss term as a float for logging."""
    config, gan, wrapped = context.config, context.gan, context.wrapped
    loss_config = config.loss
    mode = loss_config.gan_mode
    alpha = loss_config.alpha
    device = context.device
    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
    x, y, sketch_parsing, photo_parsing = (
        batch[k].to(device, non_blocking=True).contiguous(memory_format=memory_format)
        for k in ("sketch", "photo", "sketch_parsing", "photo_parsing")
    )
    face_condition = condition_tensor(config.discriminators.face_condition, x, sketch_parsing)
    parsing_condition = condition_tensor(config.discriminators.parsing_condition, x, sketch_parsing)
    logs: dict[str, float] = {}

    with context.autocast():
        stage1 = wrapped["stage1"](x, sketch_parsing if config.model.use_sketch_parsing else None)
        y1, intermediate = stage1.photo, stage1.parsing
        y2 = None
        if gan.stage2 is not None:
            y2 = wrapped["stage2"](sketch_parsing, intermediate.detach(), y1.detach())

    # 1. D1 and D_par on detached fakes.
    with context.autocast():
        d_face = discriminator_loss(
            wrapped["face_discriminator"](_cat(*face_condition, y)),
            wrapped["face_discriminator"](_cat(*face_condition, y1.detach())),
            mode,
        )
        d_stage1 = d_face
        if gan.parsing_discriminator is not None:
            d_parsing = discriminator_loss(
                wrapped["parsing_discriminator"](_cat(*parsing_condition, photo_parsing)),
                wrapped["parsing_discriminator"](_cat(*parsing_condition, intermediate.detach())),
                mode,
            )
            d_stage1 = stage_one_adversarial(d_face, d_parsing, alpha)
            logs["d_parsing"] = float(d_parsing.detach())
    _update(context, d_stage1, ["face_discriminator", "parsing_discriminator"])
    logs["d_face"] = float(d_face.detach())

    # 2. D2.
    if gan.final_discriminator is not None and y2 is not None:
        with context.autocast():
            d_final = discriminator_loss(
                wrapped["final_discriminator"](_cat(*face_condition, y)),
                wrapped["final_discriminator"](_cat(*face_condition, y2.detach())),
                mode,
            )
        _update(context, d_final, ["final_discriminator"])
        logs["d_final"] = float(d_final.detach())

    discriminators = [gan.face_discriminator, gan.parsing_discriminator, gan.final_discriminator]
    real_features = None
    if context.perceptual is not None:
        with torch.no_grad(), context.autocast():
            real_features = context.perceptual(y)
    face_targets = None
    if context.face is not None:
        with context.autocast():
            face_targets = context.face.targets(y, batch["frame"])

    # 3. G1 with the discriminators frozen.
    with frozen(discriminators), context.autocast():
        adversarial = gan_loss(gan.face_discriminator(_cat(*face_condition, y1)), True, mode)
        logs["g1_adv_face"] = float(adversarial.detach())
        if gan.parsing_discriminator is not None:
            adv_parsing = gan_loss(
                gan.parsing_discriminator(_cat(*parsing_condition, intermediate)), True, mode
            )
            logs["g1_adv_parsing"] = float(adv_parsing.detach())
            adversarial = stage_one_adversarial(adversarial, adv_parsing, alpha)
        g1 = adversarial + _reconstruction_terms(
            context, y, y1, intermediate, sketch_parsing, real_features, face_targets, logs, "g1"
        )
        if loss_config.pm_weight > 0:
            pm = parsing_matching_loss(
                photo_parsing, intermediate, loss_config.pm_beta, loss_config.pm_norm
            )
            logs["g1_pm"] = float(pm.detach())
            g1 = g1 + loss_config.pm_weight * pm
    _update(context, g1, ["stage1"])
    logs["g1_total"] = float(g1.detach())

    # 4. G2 with the discriminators frozen.
    if gan.final_discriminator is not None and y2 is not None:
        with frozen(discriminators), context.autocast():
            g2 = gan_loss(gan.final_discriminator(_cat(*face_condition, y2)), True, mode)
            logs["g2_adv"] = float(g2.detach())
            g2 = g2 + _reconstruction_terms(
                context, y, y2, intermediate, sketch_parsing, real_features, face_targets, logs,
                "g2",
            )  # fmt: skip
        _update(context, g2, ["stage2"])
        logs["g2_total"] = float(g2.detach())

    if context.scaler is not None and context.scaler.is_enabled():
        context.scaler.update()
    return logs


def _reconstruction_terms(
    context: StepContext,
    real: torch.Tensor,
    fake: torch.Tensor,
    intermediate: torch.Tensor,
    sketch_parsing: torch.Tensor,
    real_features: list[torch.Tensor] | None,
    face_targets: FaceTargets | None,
    logs: dict[str, float],
    prefix: str,
) -> torch.Tensor:
    """lambda * L_cmp + gamma * L_per (+ the base model's L1, + L_id), shared by G1 and G2.
    L_per is VGG-19's or, as its offline stand-in, the face network's (L_face-per)."""
    loss_config = context.config.loss
    total = torch.zeros((), device=real.device)
    if loss_config.l1_weight > 0:
        l1 = l1_loss(real, fake)
        logs[f"{prefix}_l1"] = float(l1.detach())
        total = total + loss_config.l1_weight * l1
    if loss_config.cmp_weight > 0:
        masks = intermediate if loss_config.cmp_masks == "intermediate" else sketch_parsing
        cmp = compositional_loss(real, fake, masks, loss_config.cmp_delta)
        logs[f"{prefix}_cmp"] = float(cmp.detach())
        total = total + loss_config.cmp_weight * cmp
    if real_features is not None and context.perceptual is not None:
        per = perceptual_loss(real_features, context.perceptual(fake), loss_config.per_distance)
        logs[f"{prefix}_per"] = float(per.detach())
        total = total + loss_config.per_weight * per
    if face_targets is not None and context.face is not None:
        identity, face_per, distance = context.face.losses(face_targets, fake)
        logs[f"{prefix}_id_distance"] = float(distance.detach())
        if loss_config.id_weight > 0:
            logs[f"{prefix}_id"] = float(identity.detach())
            total = total + loss_config.id_weight * identity
        if context.face.taps:
            logs[f"{prefix}_face_per"] = float(face_per.detach())
            total = total + loss_config.per_weight * face_per
    return total
