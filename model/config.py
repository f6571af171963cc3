"""Typed, immutable architecture configuration: the one place network shapes are decided.

Configs are pydantic models so a checkpoint's JSON metadata round-trips through them
with validation (unknown keys and bad values are refused with a message naming them).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from isegan.model.cufs_frame import CUFS_HEIGHT, CUFS_WIDTH
from isegan.model.face_classes import LABEL_SCHEMES, NUM_FACE_CLASSES

NormKind = Literal["batch", "instance", "none"]


class FrozenConfig(BaseModel):
    """Base for every config: immutable, and unknown keys are an error, not ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class GeneratorConfig(FrozenConfig):
    """A pix2pix-style U-Net (``unet_256``) with one or two encoders.

    ``base_channels`` is pix2pix's ngf; the paper uses 64.
    """

    base_channels: int = Field(64, ge=1)
    num_levels: int = Field(8, ge=2, le=10)
    max_channel_multiplier: int = Field(8, ge=1)
    norm: NormKind = "batch"
    dropout: float = Field(0.5, ge=0.0, lt=1.0)
    dropout_levels: int = Field(3, ge=0)
    image_channels: int = Field(3, ge=1)
    parsing_channels: int = Field(NUM_FACE_CLASSES, ge=1)
    # How the decoder doubles the resolution: pix2pix's 4x4 stride-2 transposed
    # convolution, or nearest-neighbour resize then a 3x3 convolution (Odena et al. 2016),
    # which cannot paint the checkerboard of uneven kernel overlap.
    upsample: Literal["transposed", "resize_conv"] = "transposed"

    @model_validator(mode="after")
    def _dropout_fits(self) -> GeneratorConfig:
        if self.dropout_levels > self.num_levels - 1:
            raise ValueError(
                f"dropout_levels={self.dropout_levels} exceeds the "
                f"{self.num_levels - 1} inner decoder levels"
            )
        return self

    @property
    def spatial_multiple(self) -> int:
        """Input height and width must be multiples of this."""
        return int(2**self.num_levels)


class DiscriminatorConfig(FrozenConfig):
    """pix2pix ``NLayerDiscriminator``: 3 layers -> 70x70 patches, 1 layer -> 16x16."""

    base_channels: int = Field(64, ge=1)
    num_layers: int = Field(3, ge=1)
    norm: NormKind = "batch"
    spectral_norm: bool = False  # Miyato et al. 2018 on every convolution


class IseganConfig(FrozenConfig):
    """The generator side of a checkpoint: which stages exist and their shapes.

    ``stages=2`` is full ISEGAN (G1 then G2, Y2 is the output); ``stages=1`` is a
    stage-I-only model (DIP-GAN or an ablation), whose output is Y1.
    ``use_sketch_parsing=False`` drops G1's parsing encoder (the pix2pix base model).
    """

    generator: GeneratorConfig = GeneratorConfig()
    stages: Literal[1, 2] = 2
    use_sketch_parsing: bool = True
    # G2's face encoder reads cat(X, Y1) instead of Y1 alone: the paper concatenates "the
    # outputs and inputs of DIP-GAN", and the sketch carries identity Y1 may have lost.
    stage2_sees_sketch: bool = False


class ParserConfig(FrozenConfig):
    """A BiSeNet face parser (ResNet-18 context path).

    ``base_channels=64`` with 19 classes is exactly face-parsing.PyTorch's network; the
    project's own parser may be narrower and predict the 8 ISEGAN classes directly.
    """

    base_channels: int = Field(64, ge=4)
    label_scheme: str = "celebamask-hq-19"
    input_size: int = Field(512, ge=32)

    @model_validator(mode="after")
    def _known_scheme(self) -> ParserConfig:
        if self.label_scheme not in LABEL_SCHEMES:
            raise ValueError(
                f"unknown label_scheme {self.label_scheme!r}, choose one of {sorted(LABEL_SCHEMES)}"
            )
        if self.base_channels % 4:
            raise ValueError(f"base_channels must be a multiple of 4, got {self.base_channels}")
        return self

    @property
    def num_classes(self) -> int:
        return LABEL_SCHEMES[self.label_scheme].num_classes


class PreprocessConfig(FrozenConfig):
    """How any input image is placed on the generator's square canvas and mapped back.

    The content box is the CUFS frame (250x200, h x w): a CUFS image is padded, never
    resized (3 px top/bottom, 28 px left/right); other sizes are first resized to fit
    the box with their aspect ratio kept.
    """

    canvas_size: int = Field(256, ge=32)
    content_height: int = Field(CUFS_HEIGHT, ge=1)
    content_width: int = Field(CUFS_WIDTH, ge=1)
    pad_mode: Literal["replicate", "reflect", "constant"] = "replicate"

    @model_validator(mode="after")
    def _box_fits(self) -> PreprocessConfig:
        if self.content_height > self.canvas_size or self.content_width > self.canvas_size:
            raise ValueError(
                f"content box {self.content_height}x{self.content_width} does not fit the "
                f"{self.canvas_size}x{self.canvas_size} canvas"
            )
        return self
