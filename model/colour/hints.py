"""Colour hints: what a witness said about hair, skin and eyes, applied to a photo.

A sketch carries no colour, so the model can only guess it from the populations it was
trained on. A hint moves one region's colour to a stated colour while keeping its shading
and texture: the region (from the intermediate parsing P_int, feathered at its edge) is
shifted in OKLab by the difference between the target and the region's own mean colour
(hue and chroma all the way, lightness :data:`LIGHTNESS_STRENGTH` of it), so every pixel
keeps its offset from that mean. Eye hints act on the iris only (the
darker half of the eye region), never on the whites of the eyes. A skin hint also
colours the neck and ears, which the parsing has no class for (:mod:`.uncovered_skin`);
the face alone gives the mean it moves from.

Values are names from a small documented palette or ``#rrggbb``. The palette's colours
are as regions look in photos under studio light (darker and less saturated than
swatches), which is what hints are compared with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from PIL import Image
from scipy import ndimage

from isegan.model.colour.guided_filter import guided_filter
from isegan.model.colour.spaces import oklab_to_srgb, srgb_to_oklab
from isegan.model.colour.uncovered_skin import FACE_SKIN, uncovered_skin
from isegan.model.face_classes import FaceClass


class HintRegion(StrEnum):
    HAIR = "hair"
    SKIN = "skin"
    EYES = "eyes"


#: Named colours per region, sRGB 0-255, in the order variations span them.
PALETTES: dict[HintRegion, dict[str, tuple[int, int, int]]] = {
    HintRegion.HAIR: {
        "black": (32, 28, 27),
        "dark-brown": (58, 42, 34),
        "brown": (96, 68, 50),
        "blond": (178, 150, 108),
        "red": (132, 62, 38),
        "grey": (140, 138, 134),
        "white": (208, 206, 200),
    },
    HintRegion.SKIN: {  # a 6-step scale, lightest first
        "1": (226, 196, 176),
        "2": (208, 168, 140),
        "3": (184, 140, 108),
        "4": (156, 112, 80),
        "5": (118, 80, 56),
        "6": (78, 54, 40),
    },
    HintRegion.EYES: {
        "brown": (78, 52, 36),
        "hazel": (112, 88, 52),
        "green": (86, 104, 66),
        "blue": (86, 112, 146),
        "grey": (112, 118, 124),
    },
}
#: The parsing classes each hint colours (the nose is skin too).
CLASSES: dict[HintRegion, tuple[FaceClass, ...]] = {
    HintRegion.HAIR: (FaceClass.HAIR,),
    HintRegion.SKIN: FACE_SKIN,
    HintRegion.EYES: (FaceClass.EYES,),
}
_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")
#: The guided filter that makes a region's weights follow the photo's edges (radius in
#: pixels, eps in OKLab lightness squared), chosen on the train split (docs/colour.md).
EDGE_RADIUS, EDGE_EPS = 8, 1e-4
#: How far a hint moves a region's lightness (OKLab L) towards the target's; hue and
#: chroma move all the way. Chosen on the validation slice held out of training
#: (docs/colour.md): the full move cost FSIM on photos the model had not seen, 0.7 did not,
#: and brought the hair's colour as close or closer.
LIGHTNESS_STRENGTH = 0.7
_STRENGTH = np.array([LIGHTNESS_STRENGTH, 1.0, 1.0])
#: A region smaller than this share of the image cannot carry a hint.
MIN_REGION_FRACTION = {HintRegion.HAIR: 0.01, HintRegion.SKIN: 0.02, HintRegion.EYES: 0.0005}


class HintError(ValueError):
    """A hint value that is neither a palette name nor a hex colour."""

    def __init__(self, region: HintRegion, value: str) -> None:
        names = ", ".join(PALETTES[region])
        self.reason = f"{value!r} is not one of {names} or a #rrggbb colour"
        super().__init__(f"{region.value}: {self.reason}")
        self.region = region


@dataclass(frozen=True)
class ColourHint:
    region: HintRegion
    value: str  # as given: a palette name or #rrggbb
    rgb: tuple[int, int, int]

    @classmethod
    def parse(cls, region: HintRegion | str, value: str) -> ColourHint:
        region = HintRegion(region)
        text = value.strip().lower()
        if text in PALETTES[region]:
            return cls(region, text, PALETTES[region][text])
        found = _HEX.match(text)
        if found is None:
            raise HintError(region, value)
        digits = found.group(1)
        rgb = (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16))
        return cls(region, f"#{digits}", rgb)

    def record(self) -> dict[str, str]:
        return {"value": self.value, "rgb": "#{:02x}{:02x}{:02x}".format(*self.rgb)}


@dataclass(frozen=True)
class HintOutcome:
    """What became of each hint: applied, or why not."""

    applied: dict[str, dict[str, str]]
    not_applied: dict[str, str]  # region -> reason


def region_weights(
    class_map: np.ndarray, region: HintRegion, lab: np.ndarray, *, uncovered: bool = True
) -> np.ndarray:
    """Soft per-pixel weights of a region: the class, feathered over about 1.5 px, then
    made to follow the photo's own edges (OKLab lightness, ``lab[..., 0]``) by a guided
    filter; for the eyes only the darker half of the eye region (the iris, not the
    whites); for the skin also the neck and ears unless ``uncovered`` is False."""
    lightness = lab[..., 0]
    mask = np.isin(class_map, CLASSES[region]).astype(np.float64)
    if region is HintRegion.SKIN and uncovered:
        mask = np.maximum(mask, uncovered_skin(class_map, lab))
    if region is HintRegion.EYES and mask.any():
        median = float(np.median(lightness[mask > 0]))
        mask = mask * (lightness < median)
    feathered = np.clip(ndimage.gaussian_filter(mask, 1.5) * 1.5, 0.0, 1.0)
    weights = feathered * ndimage.binary_dilation(mask > 0, iterations=2)
    if not weights.any():
        return np.asarray(weights, np.float64)
    refined = np.clip(guided_filter(lightness, weights, EDGE_RADIUS, EDGE_EPS), 0.0, 1.0)
    # never further than the filter's radius from the region
    return np.asarray(refined * ndimage.binary_dilation(mask > 0, iterations=EDGE_RADIUS))


def apply_hints(
    photo: Image.Image, class_map: np.ndarray, hints: list[ColourHint]
) -> tuple[Image.Image, HintOutcome]:
    """The photo with each hint's region moved to its colour; ``class_map`` is P_int's
    arg-max at the photo's size. With no hints the photo is returned as it is."""
    if not hints:
        return photo, HintOutcome({}, {})
    rgb = np.asarray(photo.convert("RGB"), dtype=np.float64) / 255
    lab = srgb_to_oklab(rgb)
    applied: dict[str, dict[str, str]] = {}
    not_applied: dict[str, str] = {}
    for hint in hints:
        weights = region_weights(class_map, hint.region, lab)
        share = float(np.isin(class_map, CLASSES[hint.region]).mean())
        if share < MIN_REGION_FRACTION[hint.region] or weights.sum() == 0:
            not_applied[hint.region.value] = (
                f"the parsing has no {hint.region.value} region to colour"
                f" ({share:.2%} of the image)"
            )
            continue
        # the region's own colour, from the classes alone (a neck in shadow would pull
        # the skin's mean darker than the face the hint describes)
        own = (
            weights
            if hint.region is not HintRegion.SKIN
            else region_weights(class_map, hint.region, lab, uncovered=False)
        )
        mean = (lab * own[..., None]).sum(axis=(0, 1)) / own.sum()
        target = srgb_to_oklab(np.array(hint.rgb, dtype=np.float64) / 255)
        lab = lab + weights[..., None] * (_STRENGTH * (target - mean))
        applied[hint.region.value] = hint.record()
    out = np.round(oklab_to_srgb(lab) * 255).astype(np.uint8)
    return Image.fromarray(out, mode="RGB"), HintOutcome(applied, not_applied)


def variation_hints(fixed: list[ColourHint], count: int) -> list[list[ColourHint]]:
    """``count`` hint sets that span each palette where no hint fixes the region: set i
    takes the colour at an even spread i/count through the palette (hair and skin are
    offset so neighbouring variations differ in both)."""
    given = {hint.region for hint in fixed}
    sets = []
    for index in range(count):
        hints = list(fixed)
        for offset, region in enumerate((HintRegion.HAIR, HintRegion.SKIN, HintRegion.EYES)):
            if region in given:
                continue
            names = list(PALETTES[region])
            position = (index * len(names)) // count
            position = (position + offset * (index % 2)) % len(names)
            hints.append(ColourHint.parse(region, names[position]))
        sets.append(hints)
    return sets
