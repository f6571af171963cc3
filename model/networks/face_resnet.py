"""dlib's face-recognition ResNet (``dlib_face_recognition_resnet_model_v1``) in PyTorch.

The architecture of dlib's ``examples/dnn_face_recognition_ex.cpp``: a 7x7/2 convolution
with 32 filters, max-pooling, then 29 convolutions in residual blocks of 32, 64, 128 and
256 filters, global average pooling and a 128-D linear layer without bias. Its input is
a 150x150 RGB face chip, scaled as dlib's ``input_rgb_image_sized`` does:
``(pixel - channel mean) / 256``. Batch normalisation appears as a per-channel affine
layer, as dlib turns it into one when it loads the network for inference.

Two behaviours of dlib are kept because the weights depend on them: convolutions and
pools with a stride of 2 have no padding, and a residual sum whose two inputs differ in
size (channels, or one row and column after a down-sampling) is taken over the larger
size with the smaller input padded with zeros at the end, as dlib's ``add_prev`` does.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from isegan.model.identity.dlib_format import LayerSpec

INPUT_SIZE = 150
DESCRIPTOR_SIZE = 128
#: dlib's default channel means (the file stores its own, which replace these on load).
DLIB_INPUT_MEANS = (122.782, 117.001, 104.298)
#: (filters, down-samples) of each residual block, input side first.
RESIDUAL_BLOCKS: tuple[tuple[int, bool], ...] = (
    ((32, False),) * 3
    + ((64, True),) + ((64, False),) * 3
    + ((128, True),) + ((128, False),) * 2
    + ((256, True),) + ((256, False),) * 2
    + ((256, True),)
)  # fmt: skip
#: Names of the feature maps ``features`` can return, with their sizes at a 150 input.
FEATURE_TAPS = {
    "stem": "32 x 35 x 35, after max-pooling",
    "level32": "32 x 35 x 35, after the 32-filter blocks",
    "level64": "64 x 17 x 17, after the 64-filter blocks",
    "level128": "128 x 8 x 8, after the 128-filter blocks",
    "level256": "256 x 2 x 2, after the last block",
}
_LEVEL_ENDS = {2: "level32", 6: "level64", 9: "level128", 13: "level256"}


class Affine(nn.Module):
    """Per-channel scale and shift: an inference-time batch norm."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(channels))
        self.shift = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale.view(1, -1, 1, 1) + self.shift.view(1, -1, 1, 1)


def add_prev(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """dlib's ``add_prev``: the sum over the larger shape, each input zero-padded at the end."""
    if a.shape == b.shape:
        return a + b
    channels = max(a.shape[1], b.shape[1])
    height = max(a.shape[2], b.shape[2])
    width = max(a.shape[3], b.shape[3])

    def grow(x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, (0, width - x.shape[3], 0, height - x.shape[2], 0, channels - x.shape[1]))

    return grow(a) + grow(b)


class ResidualBlock(nn.Module):
    """dlib's ``ares`` / ``ares_down``: conv-affine-relu-conv-affine, plus the input
    (average-pooled 2x2/2 when the block down-samples), then ReLU."""

    def __init__(self, in_channels: int, filters: int, down: bool) -> None:
        super().__init__()
        self.down = down
        stride = 2 if down else 1
        self.conv1 = nn.Conv2d(in_channels, filters, 3, stride, 0 if down else 1)
        self.affine1 = Affine(filters)
        self.conv2 = nn.Conv2d(filters, filters, 3, 1, 1)
        self.affine2 = Affine(filters)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.affine2(self.conv2(F.relu(self.affine1(self.conv1(x)))))
        skip = F.avg_pool2d(x, 2, 2) if self.down else x
        return F.relu(add_prev(skip, y))


class FaceFeatures(NamedTuple):
    descriptor: torch.Tensor  # (B, 128)
    maps: dict[str, torch.Tensor]  # the requested FEATURE_TAPS


class DlibFaceResNet(nn.Module):
    """Face chips (B, 3, 150, 150), RGB in dlib's 0-255 pixel scale -> 128-D descriptors."""

    def __init__(self) -> None:
        super().__init__()
        self.input_means: torch.Tensor
        self.register_buffer("input_means", torch.tensor(DLIB_INPUT_MEANS).view(1, 3, 1, 1))
        self.conv = nn.Conv2d(3, 32, 7, 2, 0)
        self.affine = Affine(32)
        blocks = []
        channels = 32
        for filters, down in RESIDUAL_BLOCKS:
            blocks.append(ResidualBlock(channels, filters, down))
            channels = filters
        self.blocks = nn.ModuleList(blocks)
        self.fc = nn.Linear(channels, DESCRIPTOR_SIZE, bias=False)

    def forward(self, chips: torch.Tensor) -> torch.Tensor:
        return self.features(chips).descriptor

    def features(self, chips: torch.Tensor, taps: tuple[str, ...] = ()) -> FaceFeatures:
        """The descriptor and the feature maps named in ``taps`` (see FEATURE_TAPS)."""
        unknown = set(taps) - set(FEATURE_TAPS)
        if unknown:
            raise ValueError(
                f"unknown feature taps {sorted(unknown)}, choose from {list(FEATURE_TAPS)}"
            )
        if chips.shape[1:] != (3, INPUT_SIZE, INPUT_SIZE):
            raise ValueError(f"face chips must be (B, 3, 150, 150), got {tuple(chips.shape)}")
        maps: dict[str, torch.Tensor] = {}
        x = (chips - self.input_means) / 256.0
        x = F.max_pool2d(F.relu(self.affine(self.conv(x))), 3, 2)
        if "stem" in taps:
            maps["stem"] = x
        for index, block in enumerate(self.blocks):
            x = block(x)
            tap = _LEVEL_ENDS.get(index)
            if tap in taps:
                maps[tap] = x
        return FaceFeatures(self.fc(x.mean(dim=(2, 3))), maps)


def dlib_layer_specs() -> list[LayerSpec]:
    """The network's layers as dlib serialises them: outermost (the fc layer) first, with
    the names of the torch parameters each one fills."""
    specs = [
        LayerSpec("fc", "fc", filters=DESCRIPTOR_SIZE),
        LayerSpec("avg_pool", "pool_everything", size=0),
    ]
    for index in reversed(range(len(RESIDUAL_BLOCKS))):
        filters, down = RESIDUAL_BLOCKS[index]
        name = f"blocks.{index}"
        specs += [LayerSpec("relu", f"{name}.relu"), LayerSpec("add_prev", f"{name}.add")]
        if down:
            specs += [
                LayerSpec("avg_pool", f"{name}.pool", size=2, stride=2),
                LayerSpec("skip", ""),
                LayerSpec("tag", ""),
            ]
        specs += [
            LayerSpec("affine", f"{name}.affine2", filters=filters),
            LayerSpec("con", f"{name}.conv2", filters=filters, size=3, stride=1),
            LayerSpec("relu", f"{name}.relu1"),
            LayerSpec("affine", f"{name}.affine1", filters=filters),
            LayerSpec("con", f"{name}.conv1", filters=filters, size=3, stride=2 if down else 1),
            LayerSpec("tag", ""),
        ]
    specs += [
        LayerSpec("max_pool", "pool", size=3, stride=2),
        LayerSpec("relu", "relu"),
        LayerSpec("affine", "affine", filters=32),
        LayerSpec("con", "conv", filters=32, size=7, stride=2),
    ]
    return specs
