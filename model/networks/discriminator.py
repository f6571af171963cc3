"""PatchGAN discriminators (pix2pix ``NLayerDiscriminator``)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from isegan.model.config import DiscriminatorConfig
from isegan.model.networks.blocks import conv_bias, init_weights, make_norm


def receptive_field(num_layers: int) -> int:
    """Side of the input patch one output logit sees: 70 for 3 layers, 16 for 1."""
    field = 1
    # Two stride-1 4x4 convs at the end, then num_layers stride-2 4x4 convs before them.
    for _ in range(2):
        field += 3
    for _ in range(num_layers):
        field = field * 2 + 2
    return field


class PatchDiscriminator(nn.Module):
    """Maps an (optionally conditioned) image to a grid of real/fake logits.

    The caller concatenates the condition (sketch, sketch parsing) with the judged
    image (photo or parsing) along channels; ``in_channels`` is that total.
    """

    def __init__(self, in_channels: int, config: DiscriminatorConfig) -> None:
        super().__init__()
        if in_channels < 1:
            raise ValueError(f"in_channels must be positive, got {in_channels}")
        width = config.base_channels
        bias = conv_bias(config.norm)
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, width, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
        ]
        multiplier = 1
        for n in range(1, config.num_layers + 1):
            previous, multiplier = multiplier, min(2**n, 8)
            stride = 2 if n < config.num_layers else 1
            layers += [
                nn.Conv2d(width * previous, width * multiplier, 4, stride, 1, bias=bias),
                make_norm(config.norm, width * multiplier),
                nn.LeakyReLU(0.2),
            ]
        layers.append(nn.Conv2d(width * multiplier, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)
        self.receptive_field = receptive_field(config.num_layers)
        init_weights(self)
        if config.spectral_norm:
            for index, layer in enumerate(self.model):
                if isinstance(layer, nn.Conv2d):
                    self.model[index] = spectral_norm(layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)  # type: ignore[no-any-return]

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The logits and the activations after every LeakyReLU, for pix2pixHD's
        feature-matching loss."""
        activations = []
        for layer in self.model:
            x = layer(x)
            if isinstance(layer, nn.LeakyReLU):
                activations.append(x)
        return x, activations
