"""``isegan parse``: the 8-class parsing P_s of one sketch, as a palette PNG."""

from __future__ import annotations

import argparse
from pathlib import Path

from isegan.cli.images import read_image, write_parsing_png
from isegan.cli.weights import add_parser_options, parser_weights
from isegan.model.device import resolve_device
from isegan.model.parsing import load_parser
from isegan.model.pipeline import parse_sketches


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "parse",
        help="parse a face sketch into the 8 ISEGAN classes",
        description="Writes the sketch parsing P_s as a palette PNG whose pixel values are "
        "class indices (0 background, 1 skin, 2 brows, 3 eyes, 4 nose, 5 inner mouth, "
        "6 lips, 7 hair).",
    )
    parser.add_argument("sketch", type=Path, help="sketch image file")
    parser.add_argument("-o", "--out", type=Path, required=True, help="output PNG path")
    add_parser_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    weights = parser_weights(args)
    sketch = read_image(args.sketch)
    device = resolve_device(args.device)
    loaded = load_parser(weights, device, args.parser_backend)
    (class_map,) = parse_sketches(loaded.parser, [sketch], device=device)
    write_parsing_png(class_map, args.out)
    print(f"wrote {args.out} (parser {loaded.parser_id[:12]})")
    return 0
