"""VGG-19 features for the perceptual loss L_per (paper eq. 5).

Built on torchvision's VGG-19 definition with ``weights=None``: ImageNet weights
cannot be downloaded, so they come from a user-given torchvision state-dict file.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models import vgg19

#: ReLU outputs after conv1_1, conv3_4 and conv4_1 in ``vgg19().features``.
PERCEPTUAL_TAPS: tuple[int, ...] = (1, 17, 20)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class VGG19Features(nn.Module):
    """Frozen VGG-19 trunk returning the tapped feature maps of an image in [-1, 1]."""

    def __init__(self, taps: tuple[int, ...] = PERCEPTUAL_TAPS) -> None:
        super().__init__()
        if not taps or min(taps) < 0 or max(taps) > 35:
            raise ValueError(f"taps must be indices into vgg19().features (0..35), got {taps}")
        self.taps = tuple(sorted(taps))
        self.features = vgg19(weights=None).features[: self.taps[-1] + 1]
        self.mean: torch.Tensor
        self.std: torch.Tensor
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        x = ((image + 1) / 2 - self.mean) / self.std
        outputs = []
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in self.taps:
                outputs.append(x)
        return outputs
