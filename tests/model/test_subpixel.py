"""The resize-convolution rewrite: the same function as the resize and 3x3 convolution it
replaces, on random layers and on generators the tests build (random weights: what is
checked is agreement, not a photo)."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from isegan.model.config import GeneratorConfig, IseganConfig
from isegan.model.networks.subpixel import (
    SUBPIXEL_BELOW_CHANNELS,
    SubPixelResizeConv,
    rewrite_resize_convs,
)
from isegan.model.weights.generator_pair import build_generators


def _resize_conv(in_channels: int, out_channels: int, bias: bool = True) -> nn.Sequential:
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="nearest"),
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=bias),
    )


@pytest.mark.parametrize(("in_channels", "out_channels", "bias"), [(5, 3, True), (7, 8, False)])
def test_the_rewrite_computes_the_resize_and_convolution(
    in_channels: int, out_channels: int, bias: bool
) -> None:
    torch.manual_seed(0)
    layer = _resize_conv(in_channels, out_channels, bias)
    rewritten = SubPixelResizeConv(layer[1])
    x = torch.randn(2, in_channels, 9, 6)  # odd sizes: the borders are where it could slip
    with torch.no_grad():
        expected, got = layer(x), rewritten(x)
    assert got.shape == expected.shape == (2, out_channels, 18, 12)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_only_narrow_resize_convolutions_are_rewritten() -> None:
    model = nn.Sequential(
        _resize_conv(4, 3),
        nn.Sequential(_resize_conv(4, SUBPIXEL_BELOW_CHANNELS)),  # wide: kept
        nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear"), nn.Conv2d(4, 3, 3, padding=1)),
        nn.Conv2d(4, 3, 3, padding=1),
    )
    assert rewrite_resize_convs(model, below_channels=SUBPIXEL_BELOW_CHANNELS) == 1
    assert isinstance(model[0], SubPixelResizeConv)
    assert isinstance(model[1][0], nn.Sequential)
    assert isinstance(model[2][0], nn.Upsample)
    assert rewrite_resize_convs(model, below_channels=None) == 1  # no limit: the wide one too
    assert rewrite_resize_convs(model) == 0  # and nothing is rewritten twice


def test_rewritten_generators_make_the_same_outputs() -> None:
    torch.manual_seed(0)
    config = IseganConfig(
        generator=GeneratorConfig(base_channels=8, num_levels=4, upsample="resize_conv")
    )
    generators = build_generators(config).eval()
    rewritten = copy.deepcopy(generators)
    count = sum(
        rewrite_resize_convs(network, below_channels=SUBPIXEL_BELOW_CHANNELS)
        for network in rewritten.networks().values()
    )
    assert count >= 3  # G1's photo and parsing heads and G2's photo head at least
    sketch = torch.rand(2, 3, 64, 64) * 2 - 1
    parsing = torch.softmax(torch.randn(2, 8, 64, 64), dim=1)
    with torch.no_grad():
        first, again = generators.stage1(sketch, parsing), rewritten.stage1(sketch, parsing)
        torch.testing.assert_close(again.photo, first.photo, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(again.parsing, first.parsing, atol=1e-5, rtol=1e-5)
        assert generators.stage2 is not None and rewritten.stage2 is not None
        final = generators.stage2(parsing, first.parsing, first.photo, sketch)
        final_again = rewritten.stage2(parsing, again.parsing, again.photo, sketch)
    torch.testing.assert_close(final_again, final, atol=1e-5, rtol=1e-5)
