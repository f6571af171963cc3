"""Skin the parsing has no class for: the neck below the jaw and the ears beside the face.

The 8-class parsing (ISEGAN's) labels the face's skin and nose but not the neck or the
ears, which fall into the background. A skin hint that moved the face alone left them as
the model drew them: a dark skin tone on a light-skinned guess gave a dark face on a light
neck, and the jaw line between them was an edge the real photo does not have. This finds
them from the photo's own colours: background pixels in the band under the jaw and the
strips beside the face that are skin-coloured (nearer the lower face's mean colour than
the backdrop's, in OKLab) and touch the face. Clothes and backdrop of another colour stay
out; a collar of the skin's own colour may come in.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from isegan.model.face_classes import FaceClass

#: The face's classes a skin hint colours (hints.CLASSES takes them from here).
FACE_SKIN = (FaceClass.SKIN, FaceClass.NOSE)
#: Furthest a pixel's OKLab colour may be from the lower face's mean to count as skin
#: (the neck in shadow is about 0.05-0.1 darker than the cheeks).
MAX_SKIN_DISTANCE = 0.12
#: Where the neck and ears may be, in fractions of the face's height (from the top of its
#: skin to the chin) and width.
NECK_BELOW = 0.6
EAR_ROWS = (0.25, 0.8)
EAR_REACH = 0.2
#: The lower face (below this fraction of its height) gives the skin's colour: it is
#: lit as the neck is, and clear of the forehead's highlight.
LOWER_FACE = 0.75
#: Background pixels above this fraction of the face's height give the backdrop's colour.
BACKDROP_ABOVE = 0.5


def uncovered_skin(class_map: np.ndarray, lab: np.ndarray) -> np.ndarray:
    """A boolean (H, W) mask of the neck and ears in a photo whose parsing is
    ``class_map`` (H, W) and whose OKLab colours are ``lab`` (H, W, 3)."""
    face = np.isin(class_map, FACE_SKIN)
    found = np.zeros(class_map.shape, dtype=bool)
    if face.sum() < 20:
        return found
    ys, xs = np.nonzero(face)
    top, chin = int(ys.min()), int(ys.max())
    height = max(chin - top, 1)
    grid = np.indices(class_map.shape)
    rows, cols = grid[0], grid[1]
    lower = face & (rows >= top + LOWER_FACE * height)
    if not lower.any():
        return found
    jaw_columns = cols[lower]
    background = class_map == FaceClass.BACKGROUND
    neck_zone = (rows > top + NECK_BELOW * height) & (cols >= jaw_columns.min())
    neck_zone &= cols <= jaw_columns.max()
    reach = EAR_REACH * (xs.max() - xs.min())
    ear_zone = (rows > top + EAR_ROWS[0] * height) & (rows < top + EAR_ROWS[1] * height)
    ear_zone &= (cols >= xs.min() - reach) & (cols <= xs.max() + reach)
    to_skin = np.linalg.norm(lab - lab[lower].mean(axis=0), axis=-1)
    candidates = background & (neck_zone | ear_zone) & (to_skin < MAX_SKIN_DISTANCE)
    backdrop = background & (rows < top + BACKDROP_ABOVE * height)
    if backdrop.sum() > 50:
        candidates &= to_skin < np.linalg.norm(lab - lab[backdrop].mean(axis=0), axis=-1)
    pieces, count = ndimage.label(candidates)
    if count == 0:
        return found
    touching = np.unique(pieces[ndimage.binary_dilation(face, iterations=2) & candidates])
    return np.isin(pieces, touching[touching > 0])
