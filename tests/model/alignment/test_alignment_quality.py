"""Sketches as users send them: bundled test sketches placed on a larger page (turned up
to 12 degrees, scaled 0.75-1.35x, shifted; made here by the test), through the bundled
model with the default ``align="auto"``, scored by FSIM against the real photo in the
aligned frame, beside the unmoved originals and the same pages warped back with the
exact inverse map (what perfect alignment would give: the pixels resampled twice).

History of the gap (originals against moved): first bundled model 0.0089 (bar 0.01),
second 0.0165 (bar loosened to 0.02), third 0.0246 (0.7922 against 0.7676), although
the third's moved sketches score above the second's originals. The pages warped back
exactly score 0.7912: resampling costs 0.001 since the third model trained on resampled
sketches, and what is left is alignment's eye-position error (a few pixels), which
training cannot undo. Fitting the eye centres alone, each reading the mean of the face's and
its mirror image's, took the gap on all 120 test sketches from 0.0259 to 0.0198
(scripts/measure_alignment_gap.py); on these 12 it read 0.0269, within their noise.
Fitting the iris centres found between the eye corners took it to 0.0005 on the 120 and
0.0037 here (0.7885 against 0.7922). The third model as shipped (trained with
L_id-contrast) reads 0.0001 on the 120 and 0.0034 here (0.7838 against 0.7872; warped back
exactly 0.7869). So the test holds three things: resampling costs at
most 0.005, the moved sketches score at least 0.78, and the whole gap stays within the
issue's 0.01 (docs/model.md, "Face alignment")."""

from __future__ import annotations

import numpy as np
from PIL import Image

from isegan.model.alignment.align import place_on_page
from isegan.model.cufs_frame import CUFS_SIZE
from isegan.model.pipeline import FacePipeline
from isegan.model.weights.pretrained import default_generator_path, default_parser_path
from isegan.training.evaluation.quality.fsim import fsim

SKETCHES = 12
MAX_FSIM_GAP = 0.01
MAX_RESAMPLING_COST = 0.005
#: Below the third bundled model's 0.7838 on the same moved sketches (its first cut's 0.7885,
#: the second's 0.7473).
MOVED_FSIM_FLOOR = 0.78


def _grey(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"), dtype=np.float64)


def test_moved_sketches_score_as_the_aligned_originals(cufs_dir, test_ids) -> None:
    pipeline = FacePipeline.from_files(default_generator_path(), default_parser_path(), "cpu")
    rng = np.random.default_rng(0)
    chosen = test_ids[:: max(1, len(test_ids) // SKETCHES)][:SKETCHES]
    originals, pages, warped_back, reals = [], [], [], []
    for name in chosen:
        sketch = Image.open(cufs_dir / "sketches" / f"{name}.png").convert("RGB")
        originals.append(sketch)
        page, matrix = place_on_page(sketch, rng)
        pages.append(page)
        warped_back.append(
            page.transform(
                CUFS_SIZE,
                Image.Transform.AFFINE,
                tuple(matrix.reshape(-1).tolist()),
                Image.Resampling.BICUBIC,
                fillcolor=(255, 255, 255),
            )
        )
        reals.append(_grey(Image.open(cufs_dir / "photos" / f"{name}.png")))
    from_originals = pipeline(originals)
    from_pages = pipeline(pages)
    assert not any(r.warped for r in from_originals) and all(r.warped for r in from_pages)

    def mean_fsim(results) -> float:  # type: ignore[no-untyped-def]
        return float(
            np.mean([fsim(r, _grey(o.photo)) for r, o in zip(reals, results, strict=True)])
        )

    original_fsim, page_fsim = mean_fsim(from_originals), mean_fsim(from_pages)
    exact_fsim = mean_fsim(pipeline(warped_back, align="false"))
    print(
        f"FSIM, {len(chosen)} test sketches: aligned originals {original_fsim:.4f}, moved "
        f"and warped back exactly {exact_fsim:.4f}, moved and aligned {page_fsim:.4f}"
    )
    assert original_fsim - exact_fsim <= MAX_RESAMPLING_COST
    assert page_fsim >= MOVED_FSIM_FLOOR
    assert abs(page_fsim - original_fsim) <= MAX_FSIM_GAP
