"""Building, saving and loading the generator pair (G1, optional G2) as one checkpoint."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from isegan.model.config import IseganConfig
from isegan.model.networks.generator import StageOneGenerator, StageTwoGenerator
from isegan.model.weights.checkpoint import (
    GeneratorMetadata,
    check_no_stray_tensors,
    load_into,
    read_checkpoint,
    save_checkpoint,
)

STAGE1_PREFIX = "stage1"
STAGE2_PREFIX = "stage2"


@dataclass
class Generators:
    """G1 (DIP-GAN) and, for two-stage models, G2 (SE-GAN)."""

    config: IseganConfig
    stage1: StageOneGenerator
    stage2: StageTwoGenerator | None

    def networks(self) -> dict[str, torch.nn.Module]:
        named: dict[str, torch.nn.Module] = {STAGE1_PREFIX: self.stage1}
        if self.stage2 is not None:
            named[STAGE2_PREFIX] = self.stage2
        return named

    def to(self, device: torch.device) -> Generators:
        for network in self.networks().values():
            network.to(device)
        return self

    def eval(self) -> Generators:
        for network in self.networks().values():
            network.eval()
        return self


def build_generators(config: IseganConfig) -> Generators:
    stage1 = StageOneGenerator(config.generator, use_sketch_parsing=config.use_sketch_parsing)
    stage2 = (
        StageTwoGenerator(config.generator, sees_sketch=config.stage2_sees_sketch)
        if config.stages == 2
        else None
    )
    return Generators(config, stage1, stage2)


def save_generators(
    path: str | Path,
    generators: Generators,
    metadata: GeneratorMetadata,
    *,
    dtype: torch.dtype | None = None,
) -> str:
    """Save G1/G2 with their metadata; returns the model id (file SHA-256)."""
    if metadata.architecture != generators.config:
        raise ValueError("metadata.architecture must describe the generators being saved")
    return save_checkpoint(path, generators.networks(), metadata, dtype=dtype)


@dataclass
class LoadedGenerators:
    generators: Generators
    metadata: GeneratorMetadata


def load_generators(path: str | Path, device: torch.device | str = "cpu") -> LoadedGenerators:
    """Rebuild the generators from a checkpoint's metadata and fill in their weights."""
    tensors, metadata = read_checkpoint(path, GeneratorMetadata)
    generators = build_generators(metadata.architecture)
    networks = generators.networks()
    check_no_stray_tensors(tensors, list(networks), path)
    for prefix, network in networks.items():
        load_into(network, tensors, prefix, path)
    generators.to(torch.device(device)).eval()
    return LoadedGenerators(generators, metadata)
