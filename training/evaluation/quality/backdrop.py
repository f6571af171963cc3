"""Is the synthesised photo's backdrop of the right kind?

CUFS photos stand on one of two backdrops: CUHK's saturated blue and AR's near-white.
A generator that cannot tell the two apart from the sketch paints one where the other
belongs, which FSIM and SSIM (computed in greyscale) barely see. The backdrop is read
from the two top corners of the frame, which hair and shoulders do not reach in aligned
CUFS-style photos, and classified by a colour rule measured on every real CUFS photo:
all 188 CUHK corners have blue minus red >= 27 grey levels, all 100 AR corners <= 0 with
a mean level >= 245.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from PIL import Image

BackdropKind = Literal["blue", "light", "other"]
#: Fraction of the frame's width and height covered by each top-corner patch.
CORNER_FRACTION = (0.15, 0.16)
#: Blue minus red, in grey levels, from which a backdrop counts as blue.
BLUE_MARGIN = 20.0
#: Mean grey level from which a backdrop that is not blue counts as light.
LIGHT_LEVEL = 200.0


def backdrop_colour(image: Image.Image) -> np.ndarray:
    """Mean RGB of the frame's two top-corner patches."""
    pixels = np.asarray(image.convert("RGB"), dtype=np.float64)
    height, width = pixels.shape[:2]
    patch_w = max(1, round(width * CORNER_FRACTION[0]))
    patch_h = max(1, round(height * CORNER_FRACTION[1]))
    corners = np.concatenate(
        [
            pixels[:patch_h, :patch_w].reshape(-1, 3),
            pixels[:patch_h, width - patch_w :].reshape(-1, 3),
        ]
    )
    colour: np.ndarray = corners.mean(axis=0)
    return colour


def backdrop_kind(colour: np.ndarray) -> BackdropKind:
    """ "blue" (CUHK-like), "light" (AR-like) or "other" (grey, dark, tinted)."""
    red, _, blue = (float(c) for c in colour)
    if blue - red >= BLUE_MARGIN:
        return "blue"
    return "light" if float(np.mean(colour)) >= LIGHT_LEVEL else "other"


def backdrop_scores(real: Sequence[Image.Image], fake: Sequence[Image.Image]) -> dict[str, Any]:
    """How often the fake's backdrop is of the real one's kind (overall and per real
    kind), and the mean RGB distance between the two backdrop colours."""
    if len(real) != len(fake) or not real:
        raise ValueError(f"need equally many real and fake images, got {len(real)}, {len(fake)}")
    real_colours = [backdrop_colour(image) for image in real]
    fake_colours = [backdrop_colour(image) for image in fake]
    real_kinds = [backdrop_kind(c) for c in real_colours]
    matches = [backdrop_kind(f) == k for f, k in zip(fake_colours, real_kinds, strict=True)]
    by_kind = {
        kind: float(np.mean([m for m, k in zip(matches, real_kinds, strict=True) if k == kind]))
        for kind in sorted(set(real_kinds))
    }
    distances = [
        float(np.linalg.norm(f - r)) for f, r in zip(fake_colours, real_colours, strict=True)
    ]
    return {
        "kind_agreement": float(np.mean(matches)),
        "kind_agreement_by_real_kind": by_kind,
        "real_kind_counts": {kind: real_kinds.count(kind) for kind in by_kind},
        "mean_colour_distance": float(np.mean(distances)),
    }
