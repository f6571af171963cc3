"""One training iteration in the paper's order: D1 and D_par, then D2, then G1, then G2.

Each discriminator step sees detached fakes; each generator step sees its discriminators
frozen and called through the unwrapped module (no DDP gradient sync for a network that
is not being updated). G2 takes G1's outputs detached: the two stages are updated by
their own objectives (eq. 6 and eq. 7).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.profiler import record_function

from isegan.model.face_classes import FaceClass
from isegan.model.inference_options import autocast, resolve_precision
from isegan.model.networks.discriminator import PatchDiscriminator
from isegan.model.networks.vgg import VGG19Features
from isegan.training.gan.config import TrainConfig
from isegan.training.gan.identity_loss import FaceTargets, IdentityPerceptual
from isegan.training.gan.losses import (
    compositional_loss,
    dip_gan_objective,
    discriminator_loss,
    gan_loss,
    l1_loss,
    parsing_matching_loss,
    perceptual_loss,
    se_gan_objective,
    stage_one_adversarial,
)
from isegan.training.gan.two_stage_gan import TwoStageGAN, condition_tensor


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

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """Mixed precision as inference runs it (the trainer resolved "auto" already)."""
        return autocast(resolve_precision(self.config.precision, self.device), self.device)


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


@dataclass(frozen=True)
class StepInputs:
    """One batch on the device, with each discriminator's conditioning tensors."""

    sketch: torch.Tensor  # X
    photo: torch.Tensor  # Y, the real photo
    sketch_parsing: torch.Tensor  # P_s
    photo_parsing: torch.Tensor  # P_p, L_PM's target
    frame: torch.Tensor  # where the face sits: crops the identity network's chips
    index: torch.Tensor | None  # which training pair each sample is (L_id-contrast's gallery row)
    face_condition: list[torch.Tensor]
    parsing_condition: list[torch.Tensor]


@dataclass(frozen=True)
class Fakes:
    """The generators' outputs of this iteration (with their graphs)."""

    y1: torch.Tensor  # G1's photo
    intermediate: torch.Tensor  # P_int
    y2: torch.Tensor | None  # G2's photo (None for single-stage presets)


@dataclass(frozen=True)
class RealTargets:
    """What the reconstruction losses compare the fakes with, computed once per step."""

    features: list[torch.Tensor] | None  # VGG-19's features of Y, for L_per
    face: FaceTargets | None  # the face network's targets, for L_id and L_face-per


@dataclass(frozen=True)
class GeneratorStepInputs:
    """What a generator update reads: the batch, this iteration's fakes and the real
    photo's targets."""

    inputs: StepInputs
    fakes: Fakes
    targets: RealTargets


def train_step(
    context: StepContext, batch: dict[str, torch.Tensor], *, gradient_norms: bool = False
) -> dict[str, float]:
    """Run one iteration in the paper's update order; returns every loss term as a float
    for logging, and with ``gradient_norms`` the size of each weighted term's gradient on
    G1's trunk and G2."""
    inputs = step_inputs(context, batch)
    logs: dict[str, float] = {}
    # Each phase is a named range in torch.profiler traces (benchmarks/train_step.py
    # --profile), so a step's time can be told apart by phase.
    with record_function("step.generate"):
        fakes = generate(context, inputs)
    with record_function("step.d1_dpar"):
        update_stage1_discriminators(context, inputs, fakes, logs)
    with record_function("step.d2"):
        update_final_discriminator(context, inputs, fakes, logs)
    with record_function("step.real_targets"):
        generator_inputs = GeneratorStepInputs(inputs, fakes, real_targets(context, inputs))
    with record_function("step.g1"):
        update_stage1_generator(context, generator_inputs, logs, gradient_norms)
    with record_function("step.g2"):
        update_stage2_generator(context, generator_inputs, logs, gradient_norms)
    if context.scaler is not None and context.scaler.is_enabled():
        context.scaler.update()
    return logs


def step_inputs(context: StepContext, batch: dict[str, torch.Tensor]) -> StepInputs:
    config = context.config
    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
    x, y, sketch_parsing, photo_parsing = (
        batch[k].to(context.device, non_blocking=True).contiguous(memory_format=memory_format)
        for k in ("sketch", "photo", "sketch_parsing", "photo_parsing")
    )
    conditions = config.discriminators
    return StepInputs(
        x, y, sketch_parsing, photo_parsing, batch["frame"], batch.get("index"),
        condition_tensor(conditions.face_condition, x, sketch_parsing),
        condition_tensor(conditions.parsing_condition, x, sketch_parsing),
    )  # fmt: skip


def generate(context: StepContext, inputs: StepInputs) -> Fakes:
    """G1, then G2 on G1's outputs detached (each stage is updated by its own objective)."""
    config, wrapped = context.config, context.wrapped
    with context.autocast():
        sketch_parsing = inputs.sketch_parsing if config.model.use_sketch_parsing else None
        stage1 = wrapped["stage1"](inputs.sketch, sketch_parsing)
        y2 = None
        if context.gan.stage2 is not None:
            y2 = wrapped["stage2"](
                inputs.sketch_parsing, stage1.parsing.detach(), stage1.photo.detach(), inputs.sketch
            )
    return Fakes(stage1.photo, stage1.parsing, y2)


def update_stage1_discriminators(
    context: StepContext, inputs: StepInputs, fakes: Fakes, logs: dict[str, float]
) -> None:
    """1. D1 (and D_par) on the real photo (parsing) against G1's detached fakes."""
    gan, wrapped, mode = context.gan, context.wrapped, context.config.loss.gan_mode
    with context.autocast():
        d_face = discriminator_loss(
            wrapped["face_discriminator"](_cat(*inputs.face_condition, inputs.photo)),
            wrapped["face_discriminator"](_cat(*inputs.face_condition, fakes.y1.detach())),
            mode,
        )
        d_stage1 = d_face
        if gan.parsing_discriminator is not None:
            condition = inputs.parsing_condition
            d_parsing = discriminator_loss(
                wrapped["parsing_discriminator"](_cat(*condition, inputs.photo_parsing)),
                wrapped["parsing_discriminator"](_cat(*condition, fakes.intermediate.detach())),
                mode,
            )
            d_stage1 = stage_one_adversarial(d_face, d_parsing, context.config.loss.alpha)
            logs["d_parsing"] = float(d_parsing.detach())
    _update(context, d_stage1, ["face_discriminator", "parsing_discriminator"])
    logs["d_face"] = float(d_face.detach())


def update_final_discriminator(
    context: StepContext, inputs: StepInputs, fakes: Fakes, logs: dict[str, float]
) -> None:
    """2. D2 on the real photo against G2's detached fake."""
    wrapped = context.wrapped
    if context.gan.final_discriminator is None or fakes.y2 is None:
        return
    with context.autocast():
        d_final = discriminator_loss(
            wrapped["final_discriminator"](_cat(*inputs.face_condition, inputs.photo)),
            wrapped["final_discriminator"](_cat(*inputs.face_condition, fakes.y2.detach())),
            context.config.loss.gan_mode,
        )
    _update(context, d_final, ["final_discriminator"])
    logs["d_final"] = float(d_final.detach())


def real_targets(context: StepContext, inputs: StepInputs) -> RealTargets:
    features = None
    if context.perceptual is not None:
        with torch.no_grad(), context.autocast():
            features = context.perceptual(inputs.photo)
    face = None
    if context.face is not None:
        with context.autocast():
            background = None
            if context.config.loss.id_face_only:  # P_p's background, as (B, 1, H, W)
                background = inputs.photo_parsing[:, FaceClass.BACKGROUND, None]
            face = context.face.targets(inputs.photo, inputs.frame, inputs.index, background)
    return RealTargets(features, face)


def update_stage1_generator(
    context: StepContext, step: GeneratorStepInputs, logs: dict[str, float], gradient_norms: bool
) -> None:
    """3. G1 against the frozen D1 and D_par, by eq. 6 (L_DIP)."""
    gan, loss_config = context.gan, context.config.loss
    inputs, fakes = step.inputs, step.fakes
    with frozen(_discriminators(gan)), context.autocast():
        terms = _adversarial_terms(
            context, gan.face_discriminator, inputs.face_condition, inputs.photo, fakes.y1,
            logs, "g1_adv_face",
        )  # fmt: skip
        if gan.parsing_discriminator is not None:
            judged = _cat(*inputs.parsing_condition, fakes.intermediate)
            adv_parsing = gan_loss(gan.parsing_discriminator(judged), True, loss_config.gan_mode)
            logs["g1_adv_parsing"] = float(adv_parsing.detach())
            terms["adv"] = stage_one_adversarial(terms["adv"], adv_parsing, loss_config.alpha)
        terms |= _reconstruction_terms(context, step, fakes.y1, logs, "g1")
        if loss_config.pm_weight > 0:
            pm = parsing_matching_loss(
                inputs.photo_parsing, fakes.intermediate, loss_config.pm_beta, loss_config.pm_norm
            )
            logs["g1_pm"] = float(pm.detach())
            terms["pm"] = loss_config.pm_weight * pm
        g1 = dip_gan_objective(terms)
    if gradient_norms:
        trunk = [p for n, p in gan.stage1.named_parameters() if ".heads." not in n]
        logs |= _gradient_norms(terms, trunk, "grad_g1")
    _update(context, g1, ["stage1"])
    logs["g1_total"] = float(g1.detach())


def update_stage2_generator(
    context: StepContext, step: GeneratorStepInputs, logs: dict[str, float], gradient_norms: bool
) -> None:
    """4. G2 against the frozen D2, by eq. 7 (L_SE)."""
    gan, inputs, fakes = context.gan, step.inputs, step.fakes
    if gan.final_discriminator is None or gan.stage2 is None or fakes.y2 is None:
        return
    with frozen(_discriminators(gan)), context.autocast():
        terms = _adversarial_terms(
            context, gan.final_discriminator, inputs.face_condition, inputs.photo, fakes.y2,
            logs, "g2_adv",
        )  # fmt: skip
        terms |= _reconstruction_terms(context, step, fakes.y2, logs, "g2")
        g2 = se_gan_objective(terms)
    if gradient_norms:
        logs |= _gradient_norms(terms, list(gan.stage2.parameters()), "grad_g2")
    _update(context, g2, ["stage2"])
    logs["g2_total"] = float(g2.detach())


def _discriminators(gan: TwoStageGAN) -> list[nn.Module | None]:
    return [gan.face_discriminator, gan.parsing_discriminator, gan.final_discriminator]


def _adversarial_terms(
    context: StepContext,
    discriminator: PatchDiscriminator,
    condition: list[torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    logs: dict[str, float],
    log_name: str,
) -> dict[str, torch.Tensor]:
    """The generator's adversarial loss against ``discriminator`` and, with fm_weight,
    pix2pixHD's feature matching on the same discriminator's activations."""
    loss_config = context.config.loss
    judged = _cat(*condition, fake)
    terms: dict[str, torch.Tensor] = {}
    if loss_config.fm_weight > 0:
        logits, fake_features = discriminator.features(judged)
        with torch.no_grad():
            _, real_features = discriminator.features(_cat(*condition, real))
        matching = torch.stack(
            [F.l1_loss(f, r) for f, r in zip(fake_features, real_features, strict=True)]
        ).mean()
        logs[log_name.replace("_adv_face", "").replace("_adv", "") + "_fm"] = float(
            matching.detach()
        )
        terms["fm"] = loss_config.fm_weight * matching
    else:
        logits = discriminator(judged)
    adversarial = gan_loss(logits, True, loss_config.gan_mode)
    logs[log_name] = float(adversarial.detach())
    return {"adv": adversarial, **terms}


def _gradient_norms(
    terms: dict[str, torch.Tensor], parameters: Sequence[torch.Tensor], prefix: str
) -> dict[str, float]:
    """||d term / d parameters|| for each weighted term (one extra backward each)."""
    norms = {}
    for name, term in terms.items():
        if not term.requires_grad:
            continue
        grads = torch.autograd.grad(term, parameters, retain_graph=True, allow_unused=True)
        squares = [g.float().pow(2).sum() for g in grads if g is not None]
        norms[f"{prefix}_{name}"] = float(torch.stack(squares).sum().sqrt()) if squares else 0.0
    return norms


def _reconstruction_terms(
    context: StepContext,
    step: GeneratorStepInputs,
    fake: torch.Tensor,
    logs: dict[str, float],
    prefix: str,
) -> dict[str, torch.Tensor]:
    """lambda * L_cmp + gamma * L_per (+ the base model's L1, + L_id), shared by G1 and G2,
    as weighted terms. L_per is VGG-19's or, as its offline stand-in, the face network's
    (L_face-per)."""
    loss_config = context.config.loss
    inputs, fakes = step.inputs, step.fakes
    real, real_features, face_targets = inputs.photo, step.targets.features, step.targets.face
    terms: dict[str, torch.Tensor] = {}
    if loss_config.l1_weight > 0:
        l1 = l1_loss(real, fake)
        logs[f"{prefix}_l1"] = float(l1.detach())
        terms["l1"] = loss_config.l1_weight * l1
    if loss_config.cmp_weight > 0:
        masks = (
            fakes.intermediate if loss_config.cmp_masks == "intermediate" else inputs.sketch_parsing
        )
        cmp = compositional_loss(real, fake, masks, loss_config.cmp_delta)
        logs[f"{prefix}_cmp"] = float(cmp.detach())
        terms["cmp"] = loss_config.cmp_weight * cmp
    if real_features is not None and context.perceptual is not None:
        per = perceptual_loss(real_features, context.perceptual(fake), loss_config.per_distance)
        logs[f"{prefix}_per"] = float(per.detach())
        terms["per"] = loss_config.per_weight * per
    if face_targets is not None and context.face is not None:
        face = context.face.losses(face_targets, fake)
        logs[f"{prefix}_id_distance"] = float(face.distance.detach())
        if loss_config.id_weight > 0:
            logs[f"{prefix}_id"] = float(face.identity.detach())
            terms["id"] = loss_config.id_weight * face.identity
        if context.face.taps:
            logs[f"{prefix}_face_per"] = float(face.perceptual.detach())
            terms["face_per"] = loss_config.per_weight * face.perceptual
        if face.contrast is not None and loss_config.id_contrast_weight > 0:
            logs[f"{prefix}_id_contrast"] = float(face.contrast.detach())
            terms["id_contrast"] = loss_config.id_contrast_weight * face.contrast
    return terms
