"""What alignment costs the photo: FSIM to the real photo from sketches as they are and
from the same sketches placed on a page (turned up to 12 degrees, scaled 0.75-1.35x,
shifted; ``place_on_page``) and aligned back, with the bundled model.

    .venv/bin/python scripts/measure_alignment_gap.py --data ../shared/data/cufs \\
        [--split test] [--ids FILE] [--limit N] [--seed 0] [--landmarks dlib|mediapipe]

Prints the mean FSIM of each, the gap and its standard error over the pairs (the same
placements for every run with the same seed, so two versions of alignment compare pair
by pair). tests/model/alignment/test_alignment_quality.py holds a 12-sketch version.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from isegan.model.alignment.align import LANDMARK_BACKENDS, place_on_page
from isegan.model.pipeline import FacePipeline
from isegan.model.weights.pretrained import default_generator_path, default_parser_path
from isegan.training.evaluation.quality.fsim import fsim
from isegan.training.pairs import PairFolder, read_id_list


def _grey(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"), dtype=np.float64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--split", default="test")
    parser.add_argument("--ids", type=Path, help="a file of pair ids to measure on")
    parser.add_argument("--limit", type=int, help="at most this many pairs, evenly spread")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--landmarks", choices=LANDMARK_BACKENDS, default="dlib", help="alignment's backend"
    )
    args = parser.parse_args()
    folder = PairFolder.open(args.data, args.split)
    if args.ids is not None:
        folder = folder.only(read_id_list(args.ids), args.ids.stem)
    ids = list(folder.ids)
    if args.limit:
        ids = ids[:: max(1, len(ids) // args.limit)][: args.limit]
    pipeline = FacePipeline.from_files(default_generator_path(), default_parser_path())
    pipeline.landmarks = args.landmarks
    rng = np.random.default_rng(args.seed)
    originals, pages, reals = [], [], []
    for pair_id in ids:
        photo, sketch = folder.load_pair(pair_id)
        originals.append(Image.fromarray(sketch).convert("RGB"))
        pages.append(place_on_page(originals[-1], rng)[0])
        reals.append(_grey(Image.fromarray(photo)))
    as_they_are = np.array(
        [fsim(r, _grey(o.photo)) for r, o in zip(reals, pipeline(originals), strict=True)]
    )
    aligned = np.array(
        [fsim(r, _grey(o.photo)) for r, o in zip(reals, pipeline(pages), strict=True)]
    )
    gap = as_they_are - aligned
    print(
        f"{len(ids)} sketches ({args.split}): originals {as_they_are.mean():.4f}, moved and "
        f"aligned {aligned.mean():.4f}, gap {gap.mean():.4f} "
        f"(standard error {gap.std(ddof=1) / np.sqrt(len(gap)):.4f})"
    )


if __name__ == "__main__":
    main()
