"""The ISEGAN generators: pix2pix U-Nets with one or two encoders and split heads.

``MultiEncoderUNet`` is pix2pix's ``unet_256`` generalised to E encoders whose features
are concatenated at every level (for the skips and at the bottleneck). With one
encoder and one tanh head it *is* pix2pix; G1 and G2 of the paper are two-encoder
instances (section 2.2 and 2.3).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

from isegan.model.config import GeneratorConfig
from isegan.model.networks.blocks import conv_bias, init_weights, make_norm


class EncoderLevel(nn.Module):
    """LeakyReLU -> 4x4 stride-2 conv -> norm (the outermost has no activation, the
    innermost no norm, as in pix2pix)."""

    def __init__(
        self, in_channels: int, out_channels: int, config: GeneratorConfig, *, level: int
    ) -> None:
        super().__init__()
        outermost = level == 1
        innermost = level == config.num_levels
        use_norm = not (outermost or innermost)
        self.act: nn.Module = nn.Identity() if outermost else nn.LeakyReLU(0.2)
        self.conv = nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size=4,
            stride=2,
            padding=1,
            bias=conv_bias(config.norm) or not use_norm,
        )
        self.norm = make_norm(config.norm, out_channels) if use_norm else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(self.act(x)))  # type: ignore[no-any-return]


def upsampling_conv(
    in_channels: int, out_channels: int, config: GeneratorConfig, *, bias: bool
) -> nn.Module:
    """Double the resolution: a 4x4 stride-2 transposed convolution (pix2pix), or a
    nearest-neighbour resize and a 3x3 convolution (``upsample="resize_conv"``)."""
    if config.upsample == "resize_conv":
        return nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(in_channels, out_channels, 3, stride=1, padding=1, bias=bias),
        )
    return nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1, bias=bias)


class DecoderLevel(nn.Module):
    """ReLU -> upsampling conv -> norm -> optional dropout."""

    def __init__(
        self, in_channels: int, out_channels: int, config: GeneratorConfig, *, dropout: bool
    ) -> None:
        super().__init__()
        self.act = nn.ReLU()
        self.conv = upsampling_conv(in_channels, out_channels, config, bias=conv_bias(config.norm))
        self.norm = make_norm(config.norm, out_channels)
        self.dropout: nn.Module = nn.Dropout(config.dropout) if dropout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.norm(self.conv(self.act(x))))  # type: ignore[no-any-return]


class OutputHead(nn.Module):
    """The outermost decoder block, one per output (the paper's De1-1 / De1-2).

    Returns pre-activation values; the generator applies softmax or tanh.
    """

    def __init__(self, in_channels: int, out_channels: int, config: GeneratorConfig) -> None:
        super().__init__()
        self.act = nn.ReLU()
        self.conv = upsampling_conv(in_channels, out_channels, config, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.act(x))  # type: ignore[no-any-return]


def level_channels(config: GeneratorConfig) -> list[int]:
    """Feature channels of encoder levels 1..L: ngf * min(2**(k-1), max multiplier)."""
    return [
        config.base_channels * min(2**k, config.max_channel_multiplier)
        for k in range(config.num_levels)
    ]


class UNetEncoder(nn.Module):
    """One encoder path; returns the features of every level, outermost first."""

    def __init__(self, in_channels: int, config: GeneratorConfig) -> None:
        super().__init__()
        channels = level_channels(config)
        inputs = [in_channels, *channels[:-1]]
        self.levels = nn.ModuleList(
            EncoderLevel(cin, cout, config, level=k + 1)
            for k, (cin, cout) in enumerate(zip(inputs, channels, strict=True))
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for level in self.levels:
            x = level(x)
            features.append(x)
        return features


class MultiEncoderUNet(nn.Module):
    """U-Net with ``len(encoder_in_channels)`` encoders and one output head per entry of
    ``head_channels``. Encoder features are concatenated per level; decoder level k+1's
    output is concatenated with the fused level-k features (paper: En(i) with De(i+1))."""

    def __init__(
        self,
        encoder_in_channels: Sequence[int],
        head_channels: Sequence[int],
        config: GeneratorConfig,
    ) -> None:
        super().__init__()
        if not encoder_in_channels or min(encoder_in_channels) < 1:
            raise ValueError(f"encoder_in_channels must be positive, got {encoder_in_channels}")
        if not head_channels or min(head_channels) < 1:
            raise ValueError(f"head_channels must be positive, got {head_channels}")
        self.config = config
        num_encoders = len(encoder_in_channels)
        channels = level_channels(config)
        self.encoders = nn.ModuleList(UNetEncoder(c, config) for c in encoder_in_channels)

        # Decoder levels L..2 (innermost first); level k outputs channels[k-2].
        decoder: list[nn.Module] = []
        num_levels = config.num_levels
        for k in range(num_levels, 1, -1):
            fused = num_encoders * channels[k - 1]
            in_channels = fused if k == num_levels else channels[k - 1] + fused
            # pix2pix puts dropout on the `dropout_levels` blocks just outside the innermost.
            dropout = num_levels - config.dropout_levels <= k < num_levels
            decoder.append(DecoderLevel(in_channels, channels[k - 2], config, dropout=dropout))
        self.decoder = nn.ModuleList(decoder)
        head_in = channels[0] + num_encoders * channels[0]
        self.heads = nn.ModuleList(OutputHead(head_in, c, config) for c in head_channels)
        init_weights(self)

    def forward(self, *inputs: torch.Tensor) -> list[torch.Tensor]:
        if len(inputs) != len(self.encoders):
            raise ValueError(f"expected {len(self.encoders)} inputs, got {len(inputs)}")
        height, width = inputs[0].shape[-2:]
        multiple = self.config.spatial_multiple
        if height % multiple or width % multiple:
            raise ValueError(
                f"input size {height}x{width} must be a multiple of {multiple} "
                f"for a {self.config.num_levels}-level U-Net"
            )
        return self.compute(*inputs)

    def compute(self, *inputs: torch.Tensor) -> list[torch.Tensor]:
        """The forward pass without :meth:`forward`'s checks, so that ``torch.fx`` can
        trace it (for post-training quantisation, which needs a graph)."""
        per_encoder = [encoder(x) for encoder, x in zip(self.encoders, inputs, strict=True)]
        fused = [torch.cat(level, dim=1) for level in zip(*per_encoder, strict=True)]
        x = fused[-1]
        for index, level in enumerate(self.decoder):
            x = torch.cat([level(x), fused[-2 - index]], dim=1)
        return [head(x) for head in self.heads]


class StageOneOutput(NamedTuple):
    parsing_logits: torch.Tensor  # (B, 8, H, W), before softmax
    parsing: torch.Tensor  # P_int, softmax probabilities
    photo: torch.Tensor  # Y1, tanh in [-1, 1]


class StageOneGenerator(nn.Module):
    """G1 of DIP-GAN: sketch X (+ sketch parsing P_s) -> intermediate parsing P_int and Y1.

    Without the parsing encoder (``use_sketch_parsing=False``) the photo head alone is
    pix2pix's generator; the parsing head is then still trained or ignored by the loss.
    """

    def __init__(self, config: GeneratorConfig, *, use_sketch_parsing: bool = True) -> None:
        super().__init__()
        self.use_sketch_parsing = use_sketch_parsing
        encoders = [config.image_channels]
        if use_sketch_parsing:
            encoders.append(config.parsing_channels)
        self.unet = MultiEncoderUNet(
            encoders, [config.parsing_channels, config.image_channels], config
        )

    def forward(
        self, sketch: torch.Tensor, sketch_parsing: torch.Tensor | None = None
    ) -> StageOneOutput:
        if self.use_sketch_parsing:
            if sketch_parsing is None:
                raise ValueError("this G1 encodes the sketch parsing P_s; pass sketch_parsing")
            parsing_logits, photo = self.unet(sketch, sketch_parsing)
        else:
            parsing_logits, photo = self.unet(sketch)
        return StageOneOutput(parsing_logits, parsing_logits.softmax(dim=1), photo.tanh())


class StageTwoGenerator(nn.Module):
    """G2 of SE-GAN: enhanced parsing cat(P_s, P_int) and Y1 -> final photo Y2.

    With ``sees_sketch`` the face encoder reads cat(X, Y1), DIP-GAN's input and output.
    """

    def __init__(self, config: GeneratorConfig, *, sees_sketch: bool = False) -> None:
        super().__init__()
        self.sees_sketch = sees_sketch
        face_channels = config.image_channels * (2 if sees_sketch else 1)
        self.unet = MultiEncoderUNet(
            [2 * config.parsing_channels, face_channels], [config.image_channels], config
        )

    def forward(
        self,
        sketch_parsing: torch.Tensor,
        intermediate_parsing: torch.Tensor,
        coarse_photo: torch.Tensor,
        sketch: torch.Tensor | None = None,
    ) -> torch.Tensor:
        enhanced = torch.cat([sketch_parsing, intermediate_parsing], dim=1)
        face = coarse_photo
        if self.sees_sketch:
            if sketch is None:
                raise ValueError("this G2 reads the sketch with Y1; pass sketch")
            face = torch.cat([sketch, coarse_photo], dim=1)
        photo: torch.Tensor = self.unet(enhanced, face)[0]
        return photo.tanh()
