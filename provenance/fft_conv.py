"""A 2-D convolution computed by FFT, tile by tile (overlap-save), for large kernels.

RivaGAN's layers are 11x11 convolutions at the photo's full resolution: about 16 GFLOP
per 200x250 photo done directly, as much as the bundled generators. By FFT the same
correlation takes a small fraction of the arithmetic: each 64x64 tile of the padded
input is transformed once, every output channel is a sum of products per frequency (one
complex matrix product), and the inverse transform's first 54x54 samples are exact,
since an 11-tap correlation over a 64-sample period wraps only into the last 10.

Only the layers with many input channels gain (each output channel costs an inverse
transform). On a 2-core AVX2 EPYC (``benchmarks/render_cost.py``), RivaGAN's 32-to-32
layer takes 42 ms by FFT against 215 ms direct (95 ms direct in channels_last), its
32-to-3 layer 16 against 115 ms, while its 3- and 4-input layers take about 28 ms
either way.

The result equals ``torch.nn.functional.conv2d`` (stride 1, zero "same" padding) up to
float rounding (about 1e-6 of the output's range; tests/provenance/test_fft_conv.py).
The kernel's transform is computed once per module and kept (complex64, 17 MB for a
32-to-32 layer at tile 64), whatever the image size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: FFT period per tile side: a power of two; 54 of its 64 outputs are kept per tile.
TILE = 64


class FFTConv2d(nn.Module):
    """Same-padded, stride-1 correlation of ``conv``'s weights and bias, by FFT."""

    spectrum: torch.Tensor
    bias: torch.Tensor | None

    def __init__(self, conv: nn.Conv2d, tile: int = TILE) -> None:
        super().__init__()
        kernel_h, kernel_w = conv.kernel_size
        if not self.takes(conv):
            raise ValueError(
                "FFTConv2d takes odd kernels with 'same' zero padding, stride 1, "
                "dilation 1 and groups 1 only"
            )
        if tile < max(kernel_h, kernel_w) * 2:
            raise ValueError(f"tile {tile} is too small for a {kernel_h}x{kernel_w} kernel")
        self.tile = tile
        self.kernel = (kernel_h, kernel_w)
        weight = conv.weight.detach().float()
        bias = conv.bias.detach().float() if conv.bias is not None else None
        self.register_buffer("bias", bias, persistent=False)
        # conj(FFT(w)) turns the product into a correlation; frequency-major for bmm.
        spectrum = torch.fft.rfft2(weight, s=(tile, tile)).conj()  # (O, C, T, T/2+1)
        spectrum = spectrum.flatten(2).permute(2, 1, 0)  # (F, C, O)
        # The complex product as a real one, which runs as one batched GEMM: with
        # interleaved (re, im) pairs, [xr xi] @ [[wr wi], [-wi wr]] = [yr yi].
        real, imag = spectrum.real, spectrum.imag
        blocks = torch.stack(
            [torch.stack([real, imag], dim=-1), torch.stack([-imag, real], dim=-1)], dim=2
        )  # (F, C, 2, O, 2)
        self.outputs = weight.shape[0]
        self.register_buffer(
            "spectrum",
            blocks.reshape(spectrum.shape[0], 2 * weight.shape[1], -1).contiguous(),
            persistent=False,
        )  # (F, 2C, 2O)

    @staticmethod
    def takes(conv: nn.Conv2d) -> bool:
        """Whether ``conv`` is a correlation this module computes exactly."""
        kernel_h, kernel_w = conv.kernel_size
        return (
            conv.stride == (1, 1)
            and conv.dilation == (1, 1)
            and conv.groups == 1
            and kernel_h % 2 == 1
            and kernel_w % 2 == 1
            and conv.padding == (kernel_h // 2, kernel_w // 2)
            and conv.padding_mode == "zeros"
        )

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        batch, _, height, width = image.shape
        kernel_h, kernel_w = self.kernel
        tile = self.tile
        keep_h, keep_w = tile - kernel_h + 1, tile - kernel_w + 1
        rows, cols = -(-height // keep_h), -(-width // keep_w)
        # 'same' padding before, then enough after for whole tiles.
        padded = F.pad(
            image.float().contiguous(),
            (
                kernel_w // 2,
                cols * keep_w + kernel_w - 1 - width - kernel_w // 2,
                kernel_h // 2,
                rows * keep_h + kernel_h - 1 - height - kernel_h // 2,
            ),
        )
        tiles = padded.unfold(2, tile, keep_h).unfold(3, tile, keep_w)  # B C R Q T T
        spectra = torch.fft.rfft2(tiles)  # B C R Q T T/2+1
        channels = spectra.shape[1]
        frequencies = spectra.shape[-2] * spectra.shape[-1]
        # (F, B*R*Q, 2C) @ (F, 2C, 2O) -> (F, B*R*Q, 2O), complex as (re, im) pairs
        lhs = torch.view_as_real(spectra.permute(4, 5, 0, 2, 3, 1).contiguous())
        product = torch.bmm(lhs.reshape(frequencies, -1, 2 * channels), self.spectrum)
        product = torch.view_as_complex(
            product.reshape(tile, tile // 2 + 1, batch, rows, cols, self.outputs, 2)
        )
        product = product.permute(2, 5, 3, 4, 0, 1).contiguous()  # B O R Q T T/2+1
        result = torch.fft.irfft2(product, s=(tile, tile))[..., :keep_h, :keep_w]
        result = result.permute(0, 1, 2, 4, 3, 5).reshape(batch, self.outputs, rows * keep_h, -1)
        result = result[:, :, :height, :width]
        if self.bias is not None:
            result = result + self.bias[None, :, None, None]
        output: torch.Tensor = result.to(image.dtype)
        return output


def use_fft_convolutions(
    network: nn.Module, min_kernel: int = 7, min_in_channels: int = 16
) -> nn.Module:
    """Replace, in place, every same-padded stride-1 convolution with a kernel of at
    least ``min_kernel`` and at least ``min_in_channels`` inputs by its
    :class:`FFTConv2d` twin (same weights). Fewer inputs stay direct: each output
    channel costs an inverse transform whatever the inputs, so RivaGAN's 3- and 4-input
    layers measured no faster by FFT (``benchmarks/render_cost.py``)."""
    for name, child in list(network.named_children()):
        if (
            isinstance(child, nn.Conv2d)
            and min(child.kernel_size) >= min_kernel
            and child.in_channels >= min_in_channels
            and FFTConv2d.takes(child)
        ):
            setattr(network, name, FFTConv2d(child))
        else:
            use_fft_convolutions(child, min_kernel, min_in_channels)
    return network
