"""The paper level and the darkest strokes of a split's sketches, after the canonicaliser's
lighting is divided out: the targets of model/canonicalise.py's CanonicaliseConfig.

    .venv/bin/python scripts/measure_sketch_levels.py --data ../shared/data/cufs
"""

from __future__ import annotations

import argparse

import numpy as np
from PIL import Image

from isegan.model.canonicalise import CanonicaliseConfig, paper_lighting
from isegan.training.pairs import PairFolder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--split", default="train")
    args = parser.parse_args()
    config = CanonicaliseConfig()
    folder = PairFolder.open(args.data, args.split)
    papers, inks = [], []
    for pair_id in folder.ids:
        _, sketch = folder.load_pair(pair_id)
        grey = np.asarray(Image.fromarray(sketch).convert("L"), dtype=np.float64) / 255
        lighting = paper_lighting(grey, config)
        flat = np.clip(grey / lighting, 0, 1)
        papers.append(float(np.median(lighting)))
        inks.append(float(np.percentile(1 - flat, config.ink_percentile)))
    for name, values in (("paper_level", papers), ("ink_darkness", inks)):
        print(
            f"{name}: median {np.median(values):.3f}, "
            f"quartiles {np.percentile(values, 25):.3f}-{np.percentile(values, 75):.3f}"
        )


if __name__ == "__main__":
    main()
