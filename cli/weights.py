"""Where the command line finds weights when the user names none."""

from __future__ import annotations

import argparse
from pathlib import Path

from isegan.cli.images import InputError
from isegan.model.parsing import PARSER_BACKENDS
from isegan.model.weights.pretrained import default_parser_path


def add_parser_options(parser: argparse.ArgumentParser) -> None:
    """--parser, --parser-backend and --device, shared by the commands that parse."""
    parser.add_argument(
        "--parser",
        type=Path,
        help="face parser: isegan .safetensors, public BiSeNet 79999_iter.pth or facer "
        "TorchScript (default: the bundled parser)",
    )
    parser.add_argument(
        "--parser-backend",
        choices=PARSER_BACKENDS,
        default="auto",
        help="which kind of parser file --parser is (auto: by suffix)",
    )
    parser.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N")


def parser_weights(args: argparse.Namespace) -> Path:
    return require_weights(args.parser, "--parser", "face parser", default_parser_path())


def require_weights(given: Path | None, flag: str, what: str, default: Path | None = None) -> Path:
    """The user's file, else the packaged default, else a clear error."""
    if given is not None:
        return given
    if default is not None:
        return default
    raise InputError(
        f"no {what} given and this installation ships no trained default {what}: pass {flag} FILE"
    )
