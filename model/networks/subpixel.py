"""Resize-convolutions rewritten to run at the low resolution, for inference.

A nearest-neighbour 2x resize followed by a 3x3 convolution (``upsample="resize_conv"``)
computes, for each of the four pixels a low-resolution pixel becomes, a 3x3 convolution
of the *low-resolution* input whose taps are sums of the original taps. So the pair is
one 3x3 convolution at the low resolution with four times the output channels, then a
pixel shuffle: the same function (up to the rounding of the summed weights), without
the resize, and with the output channels a convolution library wants. The heads of G1
and G2 make 3 or 8 channels at 256x256, which oneDNN pads to a block of 16 channels:
there the rewrite does a quarter of the padded work.

Zero padding carries over exactly: the resized input's zero border is the low-resolution
input's zero border.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

#: Rewrite only convolutions making fewer channels than this: a CPU library pads a
#: convolution's outputs to a block of 16 channels, which is where the rewrite pays.
#: Measured on the bundled G1+G2 (OpenVINO bf16, 2 cores): the three heads (3 and 8
#: channels) rewritten 22.7 -> 18.6 ms a call; the 32-channel decoder levels as well,
#: 20.5 ms (their resize is cheap next to a 4x wider output).
SUBPIXEL_BELOW_CHANNELS = 16

# Which low-resolution tap (rows) each original tap (columns) lands on, for the output
# pixel at even (0) and odd (1) offsets: offset a, tap k reads low-resolution row
# i + floor((a + k - 1) / 2).
_TAPS = torch.tensor(
    [
        [[1.0, 0.0, 0.0], [0.0, 1.0, 1.0], [0.0, 0.0, 0.0]],
        [[0.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
    ],
    dtype=torch.float64,
)


class SubPixelResizeConv(nn.Module):
    """``Upsample(2, nearest)`` then ``Conv2d(3x3, stride 1, padding 1)``, computed as a
    low-resolution 3x3 convolution with 4x the output channels and a pixel shuffle."""

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        if not is_resize_conv_kernel(conv):
            raise ValueError(f"not a 3x3, stride-1, padding-1 convolution: {conv}")
        out_channels, in_channels = conv.out_channels, conv.in_channels
        weight = conv.weight.detach().double()
        # phase weight[c, a, b] = taps[a] @ W[c] @ taps[b].T, per input channel
        phases = torch.einsum("apk,oikl,bql->oabipq", _TAPS, weight, _TAPS)
        self.conv = nn.Conv2d(
            in_channels, out_channels * 4, 3, padding=1, bias=conv.bias is not None
        ).to(device=conv.weight.device)
        with torch.no_grad():
            self.conv.weight.copy_(phases.reshape(out_channels * 4, in_channels, 3, 3))
            if conv.bias is not None and self.conv.bias is not None:
                self.conv.bias.copy_(conv.bias.detach().repeat_interleave(4))
        self.conv.to(dtype=conv.weight.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(self.conv(x), 2)


def is_resize_conv_kernel(conv: nn.Module) -> bool:
    return (
        isinstance(conv, nn.Conv2d)
        and conv.kernel_size == (3, 3)
        and conv.stride == (1, 1)
        and conv.padding == (1, 1)
        and conv.dilation == (1, 1)
        and conv.groups == 1
        and conv.padding_mode == "zeros"
    )


def resize_conv_parts(layer: nn.Module | None) -> tuple[nn.Upsample, nn.Conv2d] | None:
    """The resize and the convolution of a resize-convolution,
    ``Sequential(Upsample, Conv2d)``, or None for any other layer."""
    if (
        isinstance(layer, nn.Sequential)
        and len(layer) == 2
        and isinstance(layer[0], nn.Upsample)
        and isinstance(layer[1], nn.Conv2d)
    ):
        return layer[0], layer[1]
    return None


def _is_nearest_double(layer: nn.Module) -> bool:
    return (
        isinstance(layer, nn.Upsample)
        and layer.mode == "nearest"
        and layer.size is None
        and layer.scale_factor in (2, 2.0, (2, 2), (2.0, 2.0))
    )


@torch.no_grad()
def rewrite_resize_convs(
    module: nn.Module, below_channels: int | None = SUBPIXEL_BELOW_CHANNELS
) -> int:
    """Replace, in place, every ``Sequential(Upsample(2, nearest), Conv2d(3x3))`` inside
    ``module`` whose convolution makes fewer than ``below_channels`` channels (None: any)
    by its :class:`SubPixelResizeConv`; returns how many. Run it after BatchNorm folding,
    so a norm after the pair is already inside the convolution."""
    count = 0
    for name, child in list(module.named_children()):
        parts = resize_conv_parts(child)
        if parts is None:
            count += rewrite_resize_convs(child, below_channels)
            continue
        resize, conv = parts
        if not (_is_nearest_double(resize) and is_resize_conv_kernel(conv)):
            continue
        if below_channels is None or conv.out_channels < below_channels:
            setattr(module, name, SubPixelResizeConv(conv))
            count += 1
    return count
