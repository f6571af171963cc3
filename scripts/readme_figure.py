"""The README's figure: test sketches through the bundled pipeline (sketch | P_s | P_int |
photo | real), written to docs/isegan-example.jpg.

    .venv/bin/python scripts/readme_figure.py --data ../shared/data/cufs
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image

from isegan.model.pipeline import FacePipeline
from isegan.model.weights.pretrained import default_generator_path, default_parser_path
from isegan.training.contact_sheet import contact_sheet, overlay
from isegan.training.pairs import PairFolder

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--ids", nargs="+", default=["cuhk-010-te", "ar-110"])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "isegan-example.jpg")
    args = parser.parse_args()
    folder = PairFolder.open(args.data, "test")
    pipeline = FacePipeline.from_files(default_generator_path(), default_parser_path())
    rows = []
    for pair_id in args.ids:
        photo, sketch = (Image.fromarray(a) for a in folder.load_pair(pair_id))
        (result,) = pipeline([sketch], align="false")
        rows.append([
            sketch, overlay(sketch, result.sketch_parsing, 0.6),
            overlay(result.photo, result.intermediate_parsing, 0.6), result.photo, photo,
        ])  # fmt: skip
    captions = [f"{i}: sketch | P_s | P_int | photo Y2 | real photo (test split)" for i in args.ids]
    contact_sheet(rows, captions=captions).save(args.out, quality=90)


if __name__ == "__main__":
    main()
