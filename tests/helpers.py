"""Checkpoint writers for tests: random weights in the real on-disk format."""

from __future__ import annotations

from pathlib import Path

import torch

from isegan.model.config import GeneratorConfig, IseganConfig, ParserConfig
from isegan.model.networks.parser import BiSeNet
from isegan.model.parsing import save_parser
from isegan.model.weights.checkpoint import GeneratorMetadata, ParserMetadata, new_metadata_fields
from isegan.model.weights.generator_pair import build_generators, save_generators

TINY_GENERATOR = GeneratorConfig(base_channels=8)
TINY_PARSER = ParserConfig(base_channels=8, label_scheme="isegan-8", input_size=128)


def write_generator_checkpoint(path: Path, config: IseganConfig, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    generators = build_generators(config)
    metadata = GeneratorMetadata(
        architecture=config, notes="random init (test)", **new_metadata_fields()
    )
    save_generators(path, generators, metadata)
    return path


def write_parser_checkpoint(path: Path, config: ParserConfig = TINY_PARSER, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    network = BiSeNet.from_config(config)
    metadata = ParserMetadata(
        architecture=config, notes="random init (test)", **new_metadata_fields()
    )
    save_parser(path, network, metadata)
    return path
