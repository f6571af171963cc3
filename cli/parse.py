"""``isegan parse``: the 8-class parsing P_s of one sketch, as a palette PNG."""

from __future__ import annotations

import argparse
from pathlib import Path

from isegan.cli.images import read_image, write_parsing_png
from isegan.cli.weights import require_weights
from isegan.model.device import resolve_device
from isegan.model.parsing import PARSER_BACKENDS, load_parser
from isegan.model.pipeline import parse_sketches
from isegan.model.pretrained import default_parser_path


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
    parser.add_argument(
        "--parser",
        type=Path,
        help="face parser: isegan .safetensors or public BiSeNet 79999_iter.pth (default: bundled)",
    )
    parser.add_argument(
        "--parser-backend",
        choices=PARSER_BACKENDS,
        default="auto",
        help="which kind of parser file --parser is (auto: by suffix)",
    )
    parser.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    weights = require_weights(args.parser, "--parser", "face parser", default_parser_path())
    sketch = read_image(args.sketch)
    device = resolve_device(args.device)
    loaded = load_parser(weights, device, args.parser_backend)
    (class_map,) = parse_sketches(loaded.parser, [sketch], device=device)
    write_parsing_png(class_map, args.out)
    print(f"wrote {args.out} (parser {loaded.parser_id[:12]})")
    return 0
