"""The installed default model's own figures on the quarter of the test split that
``tests/model/test_default_model.py`` checks, from which its floors are set (each figure
less a margin for another CPU's arithmetic).

    python scripts/default_model_floors.py --data ../shared/data/cufs

Prints FSIM, backdrop agreement and rank-1 of the photos (and of the raw sketches), and
the FSIM of the photos of one robustness kind per family, as the test measures them:
every fourth test pair, the bundled generator and parser, canonicalisation as served.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from isegan.model.canonicalise import CanonicaliseConfig
from isegan.model.identity.face_recognition import load_face_recognizer
from isegan.model.pipeline import FacePipeline
from isegan.model.weights.pretrained import default_generator_path, default_parser_path
from isegan.training.evaluation.evaluate import greyscale
from isegan.training.evaluation.identity import IdentityGallery
from isegan.training.evaluation.quality.backdrop import backdrop_scores
from isegan.training.evaluation.quality.fsim import fsim
from isegan.training.robustness.suite import render_split

EVERY = 4
KINDS = ("faint", "ink")


def mean_fsim(real: list[Image.Image], fake: list[Image.Image]) -> float:
    return float(
        np.mean([fsim(greyscale(r), greyscale(f)) for r, f in zip(real, fake, strict=True)])
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    args = parser.parse_args()
    pipeline = FacePipeline.from_files(
        default_generator_path(), default_parser_path(), device="cpu"
    )
    pipeline.canonicalise = CanonicaliseConfig()
    ids = (args.data / "test.txt").read_text().split()[::EVERY]
    sketches = [Image.open(args.data / "sketches" / f"{i}.png").convert("RGB") for i in ids]
    real = [Image.open(args.data / "photos" / f"{i}.png").convert("RGB") for i in ids]
    photos = [r.photo for r in pipeline(sketches, align="false")]
    with tempfile.TemporaryDirectory() as cache:
        gallery = IdentityGallery.from_folder(
            load_face_recognizer(cache_dir=Path(cache)), args.data / "photos"
        )
        print(f"model {pipeline.model_id[:12]}, parser {pipeline.parser_id[:12]}, {len(ids)} pairs")
        print(f"FSIM photo {mean_fsim(real, photos):.4f} (sketch {mean_fsim(real, sketches):.4f})")
        print(f"backdrop agreement {backdrop_scores(real, photos)['kind_agreement']:.3f}")
        print(
            f"rank-1 photo {gallery.score(ids, photos).rank1:.3f} "
            f"(sketch {gallery.score(ids, sketches).rank1:.3f})"
        )
        for kind in KINDS:
            rendered = render_split(kind, sketches, real)
            made = [r.photo for r in pipeline(rendered, align="false")]
            print(
                f"{kind}: FSIM photo {mean_fsim(real, made):.4f} "
                f"(sketch {mean_fsim(real, rendered):.4f}), "
                f"rank-1 {gallery.score(ids, made).rank1:.3f}"
            )


if __name__ == "__main__":
    main()
