"""Small building blocks shared by the generators and discriminators."""

from __future__ import annotations

from torch import nn

from isegan.model.config import NormKind


def make_norm(kind: NormKind, channels: int) -> nn.Module:
    """The normalisation layer pix2pix uses for ``--norm``; Identity for 'none'."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}, choose one of ['batch', 'instance', 'none']")


def conv_bias(kind: NormKind) -> bool:
    """BatchNorm has its own shift, so the conv before it needs no bias (as in pix2pix)."""
    return kind != "batch"


def init_weights(module: nn.Module, std: float = 0.02) -> None:
    """pix2pix's 'normal' init: N(0, std) convs, N(1, std) norm scales, zero biases."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(layer.weight, 0.0, std)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.normal_(layer.weight, 1.0, std)
            nn.init.zeros_(layer.bias)
