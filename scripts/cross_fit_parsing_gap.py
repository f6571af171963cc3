"""How much cleaner P_s is on the sketches a parser was trained on: the gap cross-fitting
closes (issue #17, item 3).

    python scripts/cross_fit_parsing_gap.py DATA_DIR CROSS_FIT_DIR [--parser PARSER]

Scores sketch parsings against the MediaPipe pseudo-labels (mean IoU over the classes, as
``isegan train-parser`` reports it) three ways: the run's parser (default: the bundled
one) on the training sketches it was trained on, the same parser on the test sketches it
never saw, and each fold parser of ``scripts/build_cross_fit_parsers.sh`` on the training
sketches it held out. CROSS_FIT_DIR is that script's output folder (fold lists, parsers
and the pseudo-label cache it built).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from isegan.model.device import resolve_device
from isegan.model.parsing import load_parser
from isegan.model.weights.pretrained import default_parser_path
from isegan.training.face_parser.label_cache import PseudoLabelCache
from isegan.training.face_parser.train import evaluate_parser, load_labelled
from isegan.training.pairs import PairFolder


def sketch_iou(parser_path: str | Path, folder: PairFolder, cache: PseudoLabelCache) -> float:
    device = resolve_device("cpu")
    parser = load_parser(parser_path, device=device).parser
    samples = load_labelled(folder, cache, kinds=("sketches",))
    mean = evaluate_parser(parser, samples, device)["sketches"]["mean"]
    assert mean is not None
    return mean


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    arguments.add_argument("data", type=Path)
    arguments.add_argument("cross_fit", type=Path)
    arguments.add_argument("--parser", type=Path, default=default_parser_path())
    args = arguments.parse_args()
    cache = PseudoLabelCache(args.cross_fit / "labels")
    train, test = PairFolder.open(args.data, "train"), PairFolder.open(args.data, "test")
    rows = [
        ("run's parser, training sketches (seen)", sketch_iou(args.parser, train, cache)),
        ("run's parser, test sketches (unseen)", sketch_iou(args.parser, test, cache)),
    ]
    for entry in json.loads((args.cross_fit / "held-out-parsers.json").read_text()):
        held = set(Path(entry["ids"]).read_text().split())
        fold = PairFolder(train.root, train.split, tuple(i for i in train.ids if i in held))
        name = Path(entry["parser"]).parent.name
        rows.append(
            (f"{name}, its held-out training sketches", sketch_iou(entry["parser"], fold, cache))
        )
    print("| P_s from | sketch mean IoU |")
    print("|---|---|")
    for label, value in rows:
        print(f"| {label} | {value:.4f} |")


if __name__ == "__main__":
    main()
