"""Face parsers side by side on the robustness suite's renderings of the test sketches.

    python scripts/measure_parser_robustness.py --data DATA --labels-cache RUN/labels \
        --parser bundled=model/pretrained/parser.safetensors --parser aug=RUN/parser.safetensors \
        [--canonicalise on|off] [--out parser-robustness.json]

Prints a markdown table, kinds down and parsers across: mean IoU of P_s against the
pseudo-labels, with the agreement with the same parser's P_s of the clean sketch in
parentheses (:mod:`isegan.training.face_parser.robustness`). The labels cache is the one
``isegan train-parser`` built (OUT/labels); pairs without labels are skipped.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from isegan.model.canonicalise import CanonicaliseConfig
from isegan.model.device import resolve_device
from isegan.model.parsing import load_parser
from isegan.training.face_parser.label_cache import PseudoLabelCache
from isegan.training.face_parser.robustness import parser_robustness, robustness_markdown
from isegan.training.face_parser.train import load_labelled
from isegan.training.pairs import PairFolder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--labels-cache", type=Path, required=True)
    parser.add_argument("--split", default="test")
    parser.add_argument("--parser", action="append", required=True, help="NAME=PATH")
    parser.add_argument("--canonicalise", choices=("on", "off"), default="on")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    device = resolve_device(args.device)
    folder = PairFolder.open(args.data, args.split)
    cache = PseudoLabelCache(args.labels_cache)
    cache.build(folder, progress=False)
    samples = load_labelled(folder, cache)
    sketches = [s for s in samples if s.kind == "sketches"]
    photos = [s for s in samples if s.kind == "photos"]
    config = CanonicaliseConfig() if args.canonicalise == "on" else None
    tables = {}
    for entry in args.parser:
        name, _, path = entry.partition("=")
        loaded = load_parser(path, device)
        tables[name] = parser_robustness(
            loaded.parser, sketches, photos, device=device, canonicalise_with=config
        )
    print(
        f"P_s mIoU vs pseudo-labels (agreement with clean P_s), {args.split} split, "
        f"{len(sketches)} sketches, canonicalise {args.canonicalise}\n"
    )
    print(robustness_markdown(tables))
    if args.out:
        args.out.write_text(json.dumps({"canonicalise": args.canonicalise, **tables}, indent=2))


if __name__ == "__main__":
    main()
