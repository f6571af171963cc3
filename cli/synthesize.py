"""``isegan synthesize``: sketches in, photos and intermediate parsing maps out."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from tqdm import tqdm

from isegan.cli.images import (
    expand_inputs,
    output_stems,
    read_image,
    write_parsing_png,
    write_png,
)
from isegan.cli.weights import add_parser_options, parser_weights, require_weights
from isegan.model.pipeline import FacePipeline
from isegan.model.pretrained import default_generator_path


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "synthesize",
        help="turn face sketches into photos",
        description="Writes <name>.png (the photo) and <name>.parsing.png (the intermediate "
        "parsing P_int as a palette PNG) for every input sketch.",
    )
    parser.add_argument(
        "sketches", nargs="+", type=Path, help="sketch image files, or folders of them"
    )
    parser.add_argument("-o", "--out", type=Path, required=True, help="output folder")
    parser.add_argument(
        "--checkpoint", type=Path, help="generator checkpoint (default: the bundled model)"
    )
    add_parser_options(parser)
    parser.add_argument("--batch-size", type=int, default=4, help="sketches per forward pass")
    parser.add_argument(
        "--extras",
        action="store_true",
        help="also write <name>.stage1.png (Y1) and <name>.sketch-parsing.png (P_s)",
    )
    parser.add_argument(
        "--align",
        action="store_true",
        help="first warp each sketch so its eyes sit where CUFS has them (needs MediaPipe); "
        "also writes <name>.on-input.png, the photo warped back onto the input frame",
    )
    remote = parser.add_argument_group(
        "remote", "send the sketches to a running service instead of loading the model here"
    )
    remote.add_argument("--url", help="service base URL, e.g. http://localhost:8000")
    remote.add_argument(
        "--api-key",
        default=os.environ.get("ISEGAN_API_KEY"),
        help="API key for the service (default: $ISEGAN_API_KEY)",
    )
    remote.add_argument(
        "--concurrency", type=int, default=4, help="requests in flight at once (default 4)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1, got {args.batch_size}")
    args.sketches = expand_inputs(args.sketches)
    if args.url:
        from isegan.cli.remote import synthesize_remote

        return synthesize_remote(args)
    checkpoint = require_weights(
        args.checkpoint, "--checkpoint", "generator checkpoint", default_generator_path()
    )
    parser_file = parser_weights(args)
    stems = output_stems(args.sketches)
    sketches = [read_image(path) for path in args.sketches]
    pipeline = FacePipeline.from_files(
        checkpoint, parser_file, device=args.device, parser_backend=args.parser_backend
    )
    out: Path = args.out
    with tqdm(total=len(sketches), unit="sketch", disable=len(sketches) < 2) as progress:
        for start in range(0, len(sketches), args.batch_size):
            batch = sketches[start : start + args.batch_size]
            results = pipeline(batch, align=args.align)
            for stem, sketch, result in zip(stems[start:], batch, results, strict=False):
                write_png(result.photo, out / f"{stem}.png")
                if args.align:
                    write_png(result.photo_on_input(sketch), out / f"{stem}.on-input.png")
                write_parsing_png(result.intermediate_parsing, out / f"{stem}.parsing.png")
                if args.extras:
                    write_png(result.stage1_photo, out / f"{stem}.stage1.png")
                    write_parsing_png(result.sketch_parsing, out / f"{stem}.sketch-parsing.png")
            progress.update(len(batch))
    print(f"wrote {len(sketches)} photo(s) to {out} (model {pipeline.model_id[:12]})")
    return 0
