"""The constants iris-based alignment rests on, measured on the bundled CUFS images.

    .venv/bin/python scripts/measure_iris_template.py --data ../shared/data/cufs

For each sketch (and, for comparison, each photo) dlib's 5-point model finds the eye
corners and :func:`isegan.model.alignment.iris.iris_centre` the irises. Prints the iris's
mean offset from its corners' mid-point in eye widths (``iris.MEAN_OFFSET``), the mean
iris centres in the CUFS frame (``align.CUFS_IRIS_EYES``), how far each image's irises
and corner mid-points lie from their means (the scatter alignment inherits), and how
far the found irises lie from where they usually sit (``iris.TRUST_RADIUS``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from isegan.model.alignment.five_points import FivePointLandmarker
from isegan.model.alignment.iris import eye_axes, eye_centres, iris_centre


def _measure(files: list[Path], landmarker: FivePointLandmarker) -> dict[str, np.ndarray]:
    offsets, irises, middles, distances = [], [], [], []
    for path in files:
        rgb = np.asarray(Image.open(path).convert("RGB"))
        points = landmarker.points(rgb)
        if points is None:
            raise SystemExit(f"no face found in {path}")
        across, down = eye_axes(points)
        per_eye = []
        for corners in (points[2:4], points[0:2]):
            found = iris_centre(rgb, corners)
            assert found is not None
            width = np.linalg.norm(corners[0] - corners[1])
            step = (found - corners.mean(0)) / width
            per_eye.append([step @ across, step @ down])
        offsets.append(per_eye)
        irises.append(eye_centres(rgb, points))
        middles.append(np.stack([points[2:4].mean(0), points[0:2].mean(0)]))
    mean_offset = np.mean(offsets, axis=0)
    for found_offset in offsets:
        distances.extend(np.linalg.norm(np.asarray(found_offset) - mean_offset, axis=1))
    return {
        "offset": mean_offset, "irises": np.array(irises), "middles": np.array(middles),
        "trust": np.array(distances),
    }  # fmt: skip


def _scatter(points: np.ndarray) -> str:
    off = np.linalg.norm(points - points.mean(0), axis=2)
    return f"median {np.median(off):.2f}, p95 {np.percentile(off, 95):.2f}, max {off.max():.2f} px"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    args = parser.parse_args()
    landmarker = FivePointLandmarker()
    for kind in ("sketches", "photos"):
        measured = _measure(sorted((args.data / kind).glob("*.png")), landmarker)
        print(f"{kind} ({len(measured['irises'])})")
        offset = measured["offset"].round(4).tolist()
        print(f"  MEAN_OFFSET (along, down; left eye, right eye): {offset}")
        print(f"  CUFS_IRIS_EYES: {measured['irises'].mean(0).round(2).tolist()}")
        print(f"  scatter of the irises: {_scatter(measured['irises'])}")
        print(f"  scatter of the corner mid-points: {_scatter(measured['middles'])}")
        trust = measured["trust"]
        print(
            f"  distance from the mean offset, eye widths: median {np.median(trust):.3f}, "
            f"p95 {np.percentile(trust, 95):.3f}, max {trust.max():.3f}"
        )


if __name__ == "__main__":
    main()
