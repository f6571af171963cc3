"""The weights that ship inside the package, trained in-project (see MODEL_CARD.md)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

PARSER_FILE = "parser.safetensors"
GENERATOR_FILE = "generator.safetensors"


def _packaged(name: str) -> Path | None:
    path = Path(str(resources.files("isegan.model") / "pretrained" / name))
    return path if path.is_file() else None


def default_parser_path() -> Path | None:
    """The project's default 8-class parser, or None if this install ships none."""
    return _packaged(PARSER_FILE)


def default_generator_path() -> Path | None:
    """The project's default generator checkpoint, or None if this install ships none."""
    return _packaged(GENERATOR_FILE)
