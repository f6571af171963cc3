"""The FFT convolution against torch's own, and the watermark it speeds up on real photos."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from isegan.provenance.fft_conv import FFTConv2d, use_fft_convolutions
from isegan.provenance.watermark import Watermarker


@pytest.mark.parametrize(
    ("in_channels", "out_channels", "kernel", "height", "width", "batch"),
    [
        (3, 32, 11, 250, 200, 1),  # RivaGAN's first layer on a CUFS-sized photo
        (32, 3, 11, 37, 501, 2),  # shapes that are no multiple of the kept tile
        (4, 8, 7, 1, 1, 1),  # smaller than the kernel
        (5, 6, 11, 54, 108, 3),  # exactly one and two kept tiles
    ],
)
def test_fft_convolution_equals_direct(
    in_channels: int, out_channels: int, kernel: int, height: int, width: int, batch: int
) -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2)
    image = torch.randn(batch, in_channels, height, width)
    with torch.no_grad():
        expected = F.conv2d(image, conv.weight, conv.bias, padding=kernel // 2)
        got = FFTConv2d(conv)(image)
    assert got.shape == expected.shape
    assert torch.allclose(got, expected, atol=1e-5 * float(expected.abs().max()), rtol=0)


def test_fft_convolution_without_bias_and_in_channels_last() -> None:
    torch.manual_seed(1)
    conv = nn.Conv2d(16, 4, 9, padding=4, bias=False)
    image = torch.randn(1, 16, 70, 90).to(memory_format=torch.channels_last)
    with torch.no_grad():
        expected = conv(image.contiguous())
        got = FFTConv2d(conv)(image)
    assert torch.allclose(got, expected, atol=1e-5 * float(expected.abs().max()), rtol=0)


@pytest.mark.parametrize(
    "conv",
    [
        nn.Conv2d(3, 3, 11, padding=5, stride=2),
        nn.Conv2d(3, 3, 10, padding=5),
        nn.Conv2d(3, 3, 11, padding=0),
        nn.Conv2d(4, 4, 11, padding=5, groups=2),
        nn.Conv2d(3, 3, 11, padding=10, dilation=2),
        nn.Conv2d(3, 3, 11, padding=5, padding_mode="reflect"),
    ],
)
def test_only_same_padded_stride_one_convolutions_are_taken(conv: nn.Conv2d) -> None:
    with pytest.raises(ValueError, match="FFTConv2d takes"):
        FFTConv2d(conv)


def test_use_fft_convolutions_leaves_what_it_cannot_compute_direct() -> None:
    network = nn.Sequential(
        nn.Conv2d(16, 16, 10, padding=5),  # even kernel
        nn.Conv2d(16, 16, 11, padding=10, dilation=2),
        nn.Conv2d(16, 16, 11, padding=5, padding_mode="reflect"),
    )
    use_fft_convolutions(network)
    assert [type(module).__name__ for module in network] == ["Conv2d"] * 3


def test_use_fft_convolutions_swaps_large_kernels_with_many_inputs_only() -> None:
    network = nn.Sequential(
        nn.Conv2d(3, 16, 11, padding=5),  # few inputs: stays direct
        nn.Sequential(nn.Tanh(), nn.Conv2d(16, 16, 3, padding=1), nn.Conv2d(16, 16, 11, padding=5)),
        nn.Conv2d(16, 2, 11, padding=5),
        nn.Conv2d(2, 2, 11, padding=5, stride=2),
    )
    image = torch.randn(1, 3, 40, 30)
    with torch.no_grad():
        expected = network(image)
        use_fft_convolutions(network)
        got = network(image)
    kinds = [type(module).__name__ for module in network.modules()]
    assert kinds.count("FFTConv2d") == 2 and kinds.count("Conv2d") == 3
    assert isinstance(network[1][2], FFTConv2d) and isinstance(network[2], FFTConv2d)
    assert torch.allclose(got, expected, atol=1e-5 * float(expected.abs().max()), rtol=0)


def test_watermark_by_fft_matches_the_direct_one_on_real_photos(cufs_dir, test_ids) -> None:
    """The service's watermark (FFT) against RivaGAN run directly: the same pixels but
    for float rounding (a grey level in a few pixels), the same payload read back."""
    fast, direct = Watermarker.load(), Watermarker.load(fft=False)
    for record, name in enumerate(test_ids[:3], start=5):
        with Image.open(cufs_dir / "photos" / f"{name}.png") as image:
            photo = image.convert("RGB")
        by_fft = np.asarray(fast.embed(photo, "inst-fft", record), np.int16)
        by_direct = np.asarray(direct.embed(photo, "inst-fft", record), np.int16)
        assert np.abs(by_fft - by_direct).max() <= 1
        assert (by_fft != by_direct).mean() < 1e-3
        assert np.abs(fast.scores(photo) - direct.scores(photo)).max() < 1e-3
        reading = fast.read(Image.fromarray(by_fft.astype(np.uint8)), ["inst-fft"])
        assert reading is not None and reading.record == record
