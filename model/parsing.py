"""Face parsing of sketches into the 8 ISEGAN classes (P_s), from any supported parser.

A :class:`FaceParser` takes images in [-1, 1] on any canvas and returns 8-channel
class probabilities at the same resolution, whatever label set its network predicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import torch
import torch.nn.functional as F
from torch import nn

from isegan.model.config import ParserConfig
from isegan.model.errors import WeightsError
from isegan.model.face_classes import get_label_scheme, to_face_probabilities
from isegan.model.networks.parser import BiSeNet
from isegan.model.networks.vgg import IMAGENET_MEAN, IMAGENET_STD
from isegan.model.stamps import file_sha256
from isegan.model.weights.checkpoint import (
    ParserMetadata,
    check_no_stray_tensors,
    load_into,
    read_checkpoint,
    save_checkpoint,
)
from isegan.model.weights.third_party import load_public_bisenet

PARSER_PREFIX = "parser"


class FaceParser(nn.Module):
    """BiSeNet plus what turns its output into P_s: resize, ImageNet normalisation,
    softmax, and the mapping of its label set onto the 8 classes."""

    def __init__(self, network: BiSeNet, config: ParserConfig) -> None:
        super().__init__()
        if network.num_classes != config.num_classes:
            raise ValueError(
                f"network predicts {network.num_classes} classes but label scheme "
                f"{config.label_scheme!r} has {config.num_classes}"
            )
        self.network = network
        self.config = config
        self.scheme = get_label_scheme(config.label_scheme)
        self.input_size = config.input_size  # the trained size; inference may change it
        self.direct_resize = False  # see forward; an inference option
        self.mean: torch.Tensor
        self.std: torch.Tensor
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        """[-1, 1] images at any size -> ImageNet-normalised at the parser's input size."""
        size = self.input_size
        x = ((images + 1) / 2 - self.mean) / self.std
        if x.shape[-2:] != (size, size):
            x = F.interpolate(x, (size, size), mode="bilinear", align_corners=False)
        return x

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [-1, 1] -> (B, 8, H, W) probabilities summing to 1 per pixel."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected (B, 3, H, W) images, got {tuple(images.shape)}")
        # direct_resize: the network's 1/8-scale logits go straight to the images' size,
        # instead of to its input size (e.g. 512) and back down after the softmax.
        output_size = images.shape[-2:] if self.direct_resize else None
        logits = self.network(self.normalise(images), output_size).logits
        probabilities = logits.softmax(dim=1, dtype=torch.float32)  # one pass, even from bf16
        if probabilities.shape[-2:] != images.shape[-2:]:
            probabilities = F.interpolate(
                probabilities, images.shape[-2:], mode="bilinear", align_corners=False
            )
        return to_face_probabilities(probabilities, self.scheme)


ParserBackend = Literal["auto", "isegan", "bisenet-celebamask", "facer-lapa"]
PARSER_BACKENDS: tuple[str, ...] = get_args(ParserBackend)


@dataclass
class LoadedParser:
    parser: nn.Module  # FaceParser, or FarlLapaParser for facer's models
    parser_id: str  # SHA-256 of the weights file
    metadata: ParserMetadata | None  # None for third-party files


def save_parser(path: str | Path, network: BiSeNet, metadata: ParserMetadata) -> str:
    if network.num_classes != metadata.architecture.num_classes:
        raise ValueError("metadata.architecture must describe the network being saved")
    return save_checkpoint(path, {PARSER_PREFIX: network}, metadata)


def load_parser(
    path: str | Path, device: torch.device | str = "cpu", backend: ParserBackend = "auto"
) -> LoadedParser:
    """Load a face parser; ``backend`` is the one setting that chooses which kind:

    - ``isegan``: the project's own checkpoints (``.safetensors``, e.g. the default);
    - ``bisenet-celebamask``: face-parsing.PyTorch's ``79999_iter.pth`` (19 classes);
    - ``facer-lapa``: a facer FaRL LaPa TorchScript file (11 classes, needs facer);
    - ``auto``: ``.safetensors`` -> isegan, ``.pth`` -> bisenet-celebamask,
      ``.pt``/``.jit`` -> facer-lapa.
    """
    path = Path(path)
    if backend not in PARSER_BACKENDS:
        raise ValueError(f"unknown parser backend {backend!r}, choose one of {PARSER_BACKENDS}")
    if backend == "auto":
        by_suffix: dict[str, ParserBackend] = {
            ".safetensors": "isegan", ".pt": "facer-lapa", ".jit": "facer-lapa",
        }  # fmt: skip
        backend = by_suffix.get(path.suffix, "bisenet-celebamask")
    target = torch.device(device)
    if backend == "facer-lapa":
        from isegan.model.farl_lapa_parser import FarlLapaParser

        if not path.is_file():
            raise WeightsError(f"facer model file not found: {path}")
        return LoadedParser(FarlLapaParser(path, target).eval(), file_sha256(path), None)
    metadata: ParserMetadata | None
    if backend == "isegan":
        tensors, metadata = read_checkpoint(path, ParserMetadata)
        config = metadata.architecture
        network = BiSeNet.from_config(config)
        check_no_stray_tensors(tensors, [PARSER_PREFIX], path)
        load_into(network, tensors, PARSER_PREFIX, path)
    else:
        network, config = load_public_bisenet(path)
        metadata = None
    parser = FaceParser(network, config).to(target).eval()
    return LoadedParser(parser, file_sha256(path), metadata)
