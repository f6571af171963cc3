"""All networks of a training run, built from one :class:`TrainConfig`."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn

from isegan.model.networks.discriminator import PatchDiscriminator
from isegan.model.networks.vgg import VGG19Features
from isegan.model.weights.generator_pair import Generators, build_generators
from isegan.training.gan.config import Condition, TrainConfig
from isegan.training.gan.identity_loss import IdentityPerceptual

_CONDITION_CHANNELS = {"sketch": 3, "sketch_parsing": 8}


def condition_channels(conditions: tuple[Condition, ...]) -> int:
    return sum(_CONDITION_CHANNELS[c] for c in conditions)


def condition_tensor(
    conditions: tuple[Condition, ...], sketch: torch.Tensor, sketch_parsing: torch.Tensor
) -> list[torch.Tensor]:
    sources = {"sketch": sketch, "sketch_parsing": sketch_parsing}
    return [sources[c] for c in conditions]


class TwoStageGAN(nn.Module):
    """G1 and G2 with their discriminators D1, D_par and D2 (those the config uses)."""

    def __init__(self, config: TrainConfig) -> None:
        super().__init__()
        generators = build_generators(config.model)
        self.stage1 = generators.stage1
        self.stage2 = generators.stage2
        discriminators = config.discriminators
        face_in = condition_channels(discriminators.face_condition) + 3
        self.face_discriminator = PatchDiscriminator(face_in, discriminators.face)
        self.parsing_discriminator: PatchDiscriminator | None = None
        if config.loss.parsing_discriminator and config.loss.alpha < 1:
            parsing_in = condition_channels(discriminators.parsing_condition) + 8
            self.parsing_discriminator = PatchDiscriminator(parsing_in, discriminators.parsing)
        self.final_discriminator: PatchDiscriminator | None = None
        if self.stage2 is not None:
            self.final_discriminator = PatchDiscriminator(face_in, discriminators.final)
        self.config = config

    def generators(self) -> Generators:
        return Generators(self.config.model, self.stage1, self.stage2)

    def named_networks(self) -> Iterator[tuple[str, nn.Module]]:
        for name in (
            "stage1", "stage2", "face_discriminator", "parsing_discriminator",
            "final_discriminator",
        ):  # fmt: skip
            network = getattr(self, name)
            if network is not None:
                yield name, network


def perceptual_network(config: TrainConfig, device: torch.device) -> VGG19Features | None:
    """VGG-19 from the configured file, or None when none is given or L_per uses the face
    network."""
    if config.vgg19_weights is None or config.loss.per_weight == 0:
        return None
    if config.loss.per_network == "face":
        return None
    from isegan.model.weights.third_party import load_vgg19_features

    return load_vgg19_features(config.vgg19_weights).to(device)


def face_perceptual_network(
    config: TrainConfig, device: torch.device, vgg_loaded: bool
) -> IdentityPerceptual | None:
    """dlib's face network for L_id and, when L_per resolves to it, L_face-per; None when
    neither term is on, or (under per_network="auto") when the network is not installed."""
    loss = config.loss
    face_per = loss.per_weight > 0 and (
        loss.per_network == "face" or (loss.per_network == "auto" and not vgg_loaded)
    )
    identity = loss.id_weight > 0 or loss.id_contrast_weight > 0
    if not face_per and not identity:
        return None
    from isegan.model.identity.face_recognition import (
        INSTALL_HINT,
        load_face_recognizer,
        locate_packaged_model,
    )

    if config.face_model is None and locate_packaged_model() is None:
        if loss.per_network == "face" or identity:
            raise ValueError(f"the identity losses need the face network: {INSTALL_HINT}")
        return None
    recognizer = load_face_recognizer(config.face_model, device=device)
    taps = tuple(loss.face_per_taps) if face_per else ()
    return IdentityPerceptual(recognizer, taps, loss.id_contrast_temperature)
