"""The alignment figure of docs/model.md: a bundled test sketch placed on a page as a scan would
show it, the photo warped back onto that page, and the photo in the aligned frame.

    python scripts/alignment_example.py [--data ../shared/data/cufs] [-o docs/alignment-example.jpg]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from isegan.model.alignment.align import place_on_page
from isegan.model.pipeline import FacePipeline
from isegan.model.weights.pretrained import default_generator_path, default_parser_path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=Path("../shared/data/cufs"))
    parser.add_argument("-o", "--out", type=Path, default=Path("docs/alignment-example.jpg"))
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    name = (args.data / "test.txt").read_text().split()[0]
    with Image.open(args.data / "sketches" / f"{name}.png") as sketch:
        page, _ = place_on_page(sketch, np.random.default_rng(args.seed))
    pipeline = FacePipeline.from_files(default_generator_path(), default_parser_path(), "cpu")
    (result,) = pipeline([page])
    on_page = result.photo_on_input(page)
    height = page.height
    aligned = result.photo.resize((round(200 * height / 250), height), Image.Resampling.LANCZOS)
    panels = [("input: a sketch on a page", page), ("output, warped back", on_page),
              ("output, aligned frame", aligned)]  # fmt: skip
    width = sum(image.width for _, image in panels) + 20 * (len(panels) - 1)
    sheet = Image.new("RGB", (width, height + 24), "white")
    draw = ImageDraw.Draw(sheet)
    x = 0
    for caption, image in panels:
        sheet.paste(image.convert("RGB"), (x, 24))
        draw.text((x + 4, 6), caption, fill="black")
        x += image.width + 20
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, quality=90)
    print(f"wrote {args.out} ({name}, warped: {result.warped})")


if __name__ == "__main__":
    main()
