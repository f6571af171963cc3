"""The ``isegan`` command: one entry point, one subcommand per task."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from isegan.cli import (
    api_key,
    audit,
    bench,
    credentials,
    evaluate,
    export,
    parse,
    serve,
    synthesize,
    train,
    train_parser,
)
from isegan.cli.images import InputError
from isegan.model.errors import WeightsError
from isegan.model.version import code_version


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="isegan",
        description="Face sketch to photo synthesis with ISEGAN.",
    )
    parser.add_argument("--version", action="version", version=f"isegan {code_version()}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    synthesize.add_parser(subparsers)
    parse.add_parser(subparsers)
    train.add_parser(subparsers)
    train_parser.add_parser(subparsers)
    evaluate.add_parser(subparsers)
    serve.add_parser(subparsers)
    audit.add_parser(subparsers)
    api_key.add_parser(subparsers)
    credentials.add_parsers(subparsers)
    bench.add_parser(subparsers)
    export.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.run(args))
    except (InputError, WeightsError, ValueError) as error:
        print(f"isegan {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
