"""A sheet for looking at models side by side: one row per test sketch, columns the
sketch, each checkpoint's photo at 100 % (the size CUFS has), and the real photo.

    python scripts/comparison_sheet.py DATA \\
        --checkpoint old=model/pretrained/generator.safetensors \\
        --checkpoint new=runs/default-model/generator.safetensors \\
        --checkpoint base=runs/base-yardstick/generator.safetensors --count 12 -o docs/sheet.jpg

The sketches are spread evenly over each source of the split (CUHK, AR: the same number
from each, since their backgrounds differ); every model sees the same ones, with the
bundled parser (or its own: --parser-for LABEL=PATH), in fp32 (the reference path).
With --kinds faint,ink,... each sketch is also shown in those robustness renderings, one
row per (sketch, kind), and --canonicalise on runs the models as the service does.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image

from isegan.cli.arguments import labelled_path
from isegan.model.canonicalise import CanonicaliseConfig
from isegan.model.inference_options import InferenceOptions
from isegan.model.pipeline import FacePipeline
from isegan.model.weights.pretrained import default_parser_path
from isegan.training.contact_sheet import contact_sheet
from isegan.training.pairs import PairFolder
from isegan.training.robustness.suite import parse_kinds, render_split


def spread(ids: list[str], count: int) -> list[str]:
    """``count`` ids, as many from each source (the id's prefix: cuhk, ar) as the others,
    evenly spaced within it."""
    sources: dict[str, list[str]] = {}
    for pair_id in ids:
        sources.setdefault(pair_id.split("-", 1)[0], []).append(pair_id)
    chosen = []
    for index, members in enumerate(sources.values()):
        share = count // len(sources) + (index < count % len(sources))
        share = min(share, len(members))
        step = (len(members) - 1) / max(share - 1, 1)
        chosen += [members[round(i * step)] for i in range(share)]
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="CUFS pair folder")
    parser.add_argument(
        "--checkpoint", type=labelled_path, action="append", required=True,
        metavar="LABEL=PATH", help="a generator checkpoint and its column label (repeat)",
    )  # fmt: skip
    parser.add_argument("--parser", type=Path, help="face parser (default: the bundled one)")
    parser.add_argument(
        "--parser-for", type=labelled_path, action="append", default=[], metavar="LABEL=PATH",
        help="the face parser of one checkpoint, where it differs (repeat)",
    )  # fmt: skip
    parser.add_argument(
        "--kinds", default="", help="robustness renderings to add, comma-separated, e.g. faint,ink"
    )
    parser.add_argument("--canonicalise", choices=("on", "off"), default="off")
    parser.add_argument("--split", default="test")
    parser.add_argument("--count", type=int, default=12, help="test sketches (default 12)")
    parser.add_argument("-o", "--out", type=Path, required=True, help="image to write")
    args = parser.parse_args(argv)
    folder = PairFolder.open(args.data, args.split)
    chosen = spread(list(folder.ids), args.count)
    sketches, photos = [], []
    for pair_id in chosen:
        photo, sketch = folder.load_pair(pair_id)
        sketches.append(Image.fromarray(sketch))
        photos.append(Image.fromarray(photo))
    parser_path = args.parser or default_parser_path()
    if parser_path is None:
        raise SystemExit("no face parser given and none bundled: pass --parser")
    parsers = dict(args.parser_for)
    kinds = parse_kinds(args.kinds) if args.kinds else ()
    inputs, captions, reals = list(sketches), list(chosen), list(photos)
    for kind in kinds:
        inputs += render_split(kind, sketches, photos)
        captions += [f"{pair_id} {kind}" for pair_id in chosen]
        reals += photos
    columns = [("sketch", inputs)]
    for label, checkpoint in args.checkpoint:
        pipeline = FacePipeline.from_files(
            checkpoint, parsers.get(label, parser_path), "cpu",
            options=InferenceOptions.reference(),
        )  # fmt: skip
        if args.canonicalise == "on":
            pipeline.canonicalise = CanonicaliseConfig()
        columns.append((label, [r.photo for r in pipeline(inputs, align="false")]))
    columns.append(("real", reals))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    rows = [[tiles[r] for _, tiles in columns] for r in range(len(inputs))]
    sheet = contact_sheet(
        rows, captions=captions, legend=False, column_labels=[label for label, _ in columns]
    )
    sheet.save(args.out, quality=92)
    print(f"{args.out}: {len(chosen)} sketches ({', '.join(chosen)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
