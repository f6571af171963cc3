"""BiSeNet face parser (Yu et al. 2018) with a ResNet-18 context path.

Module and attribute names follow face-parsing.PyTorch so that its released
``79999_iter.pth`` state dict loads key for key (``cp.resnet.layer1.0.conv1.weight``,
``cp.arm16.conv_atten.weight``, ``ffm.convblk.bn.running_mean``, ...). Nothing here
downloads weights: the ResNet-18 starts random and is filled by a checkpoint.
``base_channels`` scales every width (64 reproduces the public network exactly).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.resnet import BasicBlock

from isegan.model.config import ParserConfig


class ConvBNReLU(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False
        )
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


class ResNet18Backbone(nn.Module):
    """torchvision's ResNet-18 blocks without the classifier; returns the 1/8, 1/16 and
    1/32 feature maps."""

    def __init__(self, base_channels: int = 64) -> None:
        super().__init__()
        width = base_channels
        self.conv1 = nn.Conv2d(3, width, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(width, width, stride=1)
        self.layer2 = self._make_layer(width, 2 * width, stride=2)
        self.layer3 = self._make_layer(2 * width, 4 * width, stride=2)
        self.layer4 = self._make_layer(4 * width, 8 * width, stride=2)

    @staticmethod
    def _make_layer(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
        downsample = None
        if stride != 1 or in_channels != out_channels:
            downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )
        return nn.Sequential(
            BasicBlock(in_channels, out_channels, stride=stride, downsample=downsample),
            BasicBlock(out_channels, out_channels),
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        feat_8x = self.layer2(self.layer1(x))
        feat_16x = self.layer3(feat_8x)
        feat_32x = self.layer4(feat_16x)
        return feat_8x, feat_16x, feat_32x


class AttentionRefinementModule(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = ConvBNReLU(in_channels, out_channels, 3)
        self.conv_atten = nn.Conv2d(out_channels, out_channels, 1, bias=False)
        self.bn_atten = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat: torch.Tensor = self.conv(x)
        pooled = F.adaptive_avg_pool2d(feat, 1)
        attention: torch.Tensor = self.bn_atten(self.conv_atten(pooled)).sigmoid()
        return feat * attention


class ContextPath(nn.Module):
    def __init__(self, base_channels: int = 64) -> None:
        super().__init__()
        width = base_channels
        self.resnet = ResNet18Backbone(width)
        self.arm16 = AttentionRefinementModule(4 * width, 2 * width)
        self.arm32 = AttentionRefinementModule(8 * width, 2 * width)
        self.conv_head32 = ConvBNReLU(2 * width, 2 * width, 3)
        self.conv_head16 = ConvBNReLU(2 * width, 2 * width, 3)
        self.conv_avg = ConvBNReLU(8 * width, 2 * width, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        feat_8x, feat_16x, feat_32x = self.resnet(x)
        global_context = self.conv_avg(F.adaptive_avg_pool2d(feat_32x, 1))
        feat_32x_sum = self.arm32(feat_32x) + global_context  # broadcast == nearest upsample
        feat_32x_up = self.conv_head32(
            F.interpolate(feat_32x_sum, feat_16x.shape[-2:], mode="nearest")
        )
        feat_16x_sum = self.arm16(feat_16x) + feat_32x_up
        feat_16x_up = self.conv_head16(
            F.interpolate(feat_16x_sum, feat_8x.shape[-2:], mode="nearest")
        )
        return feat_8x, feat_16x_up, feat_32x_up


class FeatureFusionModule(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.convblk = ConvBNReLU(in_channels, out_channels, 1)
        self.conv1 = nn.Conv2d(out_channels, out_channels // 4, 1, bias=False)
        self.conv2 = nn.Conv2d(out_channels // 4, out_channels, 1, bias=False)

    def forward(self, spatial: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        feat: torch.Tensor = self.convblk(torch.cat([spatial, context], dim=1))
        pooled = F.adaptive_avg_pool2d(feat, 1)
        attention: torch.Tensor = self.conv2(F.relu(self.conv1(pooled))).sigmoid()
        return feat + feat * attention


class BiSeNetOutput(nn.Module):
    def __init__(self, in_channels: int, mid_channels: int, num_classes: int) -> None:
        super().__init__()
        self.conv = ConvBNReLU(in_channels, mid_channels, 3)
        self.conv_out = nn.Conv2d(mid_channels, num_classes, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_out(self.conv(x))  # type: ignore[no-any-return]


class ParserOutput(NamedTuple):
    logits: torch.Tensor  # (B, classes, H, W) at input resolution
    aux_logits_8x: torch.Tensor | None  # deep-supervision heads, training only
    aux_logits_16x: torch.Tensor | None


class BiSeNet(nn.Module):
    """The face-parsing network; its spatial path is the ResNet's 1/8 features, as in
    face-parsing.PyTorch."""

    def __init__(self, num_classes: int = 19, base_channels: int = 64) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}")
        if base_channels < 4 or base_channels % 4:
            raise ValueError(f"base_channels must be a positive multiple of 4, got {base_channels}")
        width = base_channels
        self.num_classes = num_classes
        self.cp = ContextPath(width)
        self.ffm = FeatureFusionModule(4 * width, 4 * width)
        self.conv_out = BiSeNetOutput(4 * width, 4 * width, num_classes)
        self.conv_out16 = BiSeNetOutput(2 * width, width, num_classes)
        self.conv_out32 = BiSeNetOutput(2 * width, width, num_classes)
        for layer in self.modules():
            if isinstance(layer, nn.Conv2d):
                nn.init.kaiming_normal_(layer.weight, a=1)

    @classmethod
    def from_config(cls, config: ParserConfig) -> BiSeNet:
        return cls(num_classes=config.num_classes, base_channels=config.base_channels)

    def forward(self, x: torch.Tensor, output_size: Sequence[int] | None = None) -> ParserOutput:
        """Logits at ``output_size`` (default: the input's size)."""
        size = tuple(output_size) if output_size is not None else tuple(x.shape[-2:])
        feat_8x, context_8x, context_16x = self.cp(x)
        fused = self.ffm(feat_8x, context_8x)
        logits = _upsample(self.conv_out(fused), size)
        if not self.training:
            return ParserOutput(logits, None, None)
        return ParserOutput(
            logits,
            _upsample(self.conv_out16(context_8x), size),
            _upsample(self.conv_out32(context_16x), size),
        )


def _upsample(x: torch.Tensor, size: tuple[int, ...]) -> torch.Tensor:
    return F.interpolate(x, size, mode="bilinear", align_corners=True)
