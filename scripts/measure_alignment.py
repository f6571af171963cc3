"""Compare the alignment backends on the bundled CUFS images: detection rate on the
aligned originals and on copies placed on a larger page (turned up to 12 degrees, scaled
0.75-1.35x, shifted), the eye-position error after alignment (where the original's
template eye centres land, in CUFS pixels), and the time per image.

    python scripts/measure_alignment.py [--data ../shared/data/cufs] [--copies 1]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from PIL import Image

from isegan.model.alignment.align import (
    CUFS_EYES,
    Landmarker,
    NoFaceFoundError,
    align_face,
    place_on_page,
)
from isegan.model.alignment.five_points import FivePointLandmarker


def _landmarkers() -> dict[str, Landmarker]:
    landmarkers: dict[str, Landmarker] = {"dlib 5-point": FivePointLandmarker()}
    try:
        from isegan.model.alignment.landmarks import FaceLandmarker

        landmarkers["MediaPipe FaceMesh"] = FaceLandmarker()
    except ValueError as error:  # MissingComponentError
        print(f"MediaPipe not measured: {error}")
    return landmarkers


def _eye_error(alignment_matrix: np.ndarray, page_matrix: np.ndarray) -> float:
    """Largest distance (px) between the template eyes and where warp-then-align puts them."""
    eyes_on_page = CUFS_EYES @ page_matrix[:, :2].T + page_matrix[:, 2]
    back = eyes_on_page @ alignment_matrix[:, :2].T + alignment_matrix[:, 2]
    return float(np.linalg.norm(back - CUFS_EYES, axis=1).max())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=Path("../shared/data/cufs"))
    parser.add_argument("--copies", type=int, default=1, help="moved copies per image")
    args = parser.parse_args()
    images = {
        f"{kind}/{path.stem}": Image.open(path).convert("RGB")
        for kind in ("sketches", "photos")
        for path in sorted((args.data / kind).glob("*.png"))
    }
    rng = np.random.default_rng(0)
    pages = [
        (name, *place_on_page(image, rng))
        for name, image in images.items()
        for _ in range(args.copies)
    ]
    print("| backend | set | images | detected | eye error median / p95 / max px | ms per image |")
    print("|---|---|---|---|---|---|")
    for label, landmarker in _landmarkers().items():
        for kind in ("sketches", "photos"):
            found, passed, seconds = 0, 0, 0.0
            chosen = {n: i for n, i in images.items() if n.startswith(kind)}
            for image in chosen.values():
                started = time.perf_counter()
                try:
                    alignment = align_face(image, landmarker)
                except NoFaceFoundError:
                    continue
                finally:
                    seconds += time.perf_counter() - started
                found += 1
                passed += alignment.identity
            print(
                f"| {label} | {kind}, aligned originals | {len(chosen)} | {found} "
                f"({passed} passed through untouched) | – | {1000 * seconds / len(chosen):.0f} |"
            )
            moved = [(p, m) for n, p, m in pages if n.startswith(kind)]
            errors, seconds = [], 0.0
            for page, matrix in moved:
                started = time.perf_counter()
                try:
                    alignment = align_face(page, landmarker)
                    errors.append(_eye_error(alignment.matrix, matrix))
                except NoFaceFoundError:
                    pass
                seconds += time.perf_counter() - started
            e = np.array(errors) if errors else np.array([np.nan])
            print(
                f"| {label} | {kind}, moved onto a 520x640 page | {len(moved)} | {len(errors)} "
                f"| {np.median(e):.2f} / {np.percentile(e, 95):.2f} / {e.max():.2f} "
                f"| {1000 * seconds / len(moved):.0f} |"
            )


if __name__ == "__main__":
    main()
