"""The 8 face classes of ISEGAN and how other parsers' label sets map onto them.

Every part of the project (parser output, losses, metrics, palette PNGs, the API)
uses :class:`FaceClass`; the source label sets live here as data, in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

if TYPE_CHECKING:  # torch is imported where it is used: the HTTP client reads the
    import torch  # class names and colours from here, and must not load torch


class FaceClass(IntEnum):
    """ISEGAN's parsing channels, in the order of P_s, P_int and P_p."""

    BACKGROUND = 0
    SKIN = 1
    BROWS = 2
    EYES = 3
    NOSE = 4
    INNER_MOUTH = 5
    LIPS = 6
    HAIR = 7


NUM_FACE_CLASSES = len(FaceClass)

#: Human-readable names, indexed by class.
FACE_CLASS_NAMES: tuple[str, ...] = tuple(c.name.lower() for c in FaceClass)

#: One RGB colour per class, chosen to stay distinguishable in overlays.
FACE_CLASS_COLOURS: tuple[tuple[int, int, int], ...] = (
    (0, 0, 0),  # background
    (230, 190, 150),  # skin
    (120, 70, 20),  # brows
    (30, 120, 255),  # eyes
    (255, 210, 0),  # nose
    (150, 0, 60),  # inner mouth
    (235, 60, 90),  # lips
    (110, 50, 160),  # hair
)


@dataclass(frozen=True)
class LabelScheme:
    """A parser's label set and the ISEGAN class each of its labels belongs to."""

    name: str
    class_names: tuple[str, ...]
    to_face_class: tuple[FaceClass, ...]

    def __post_init__(self) -> None:
        if len(self.class_names) != len(self.to_face_class):
            raise ValueError(
                f"label scheme {self.name!r}: {len(self.class_names)} names but "
                f"{len(self.to_face_class)} mappings"
            )

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def is_identity(self) -> bool:
        """Each label is the ISEGAN class of its own index (isegan's own parsers)."""
        return self.to_face_class == tuple(FaceClass)

    def mapping_matrix(self) -> torch.Tensor:
        """(source classes x 8) 0/1 matrix; row s has a 1 at the class s maps to."""
        import torch

        matrix = torch.zeros(self.num_classes, NUM_FACE_CLASSES)
        for source, target in enumerate(self.to_face_class):
            matrix[source, int(target)] = 1.0
        return matrix


_F = FaceClass

#: CelebAMask-HQ order as used by face-parsing.PyTorch's released ``79999_iter.pth``.
CELEBAMASK_HQ_19 = LabelScheme(
    name="celebamask-hq-19",
    class_names=(
        "background", "skin", "l_brow", "r_brow", "l_eye", "r_eye", "eye_g", "l_ear",
        "r_ear", "ear_r", "nose", "mouth", "u_lip", "l_lip", "neck", "neck_l", "cloth",
        "hair", "hat",
    ),
    to_face_class=(
        _F.BACKGROUND, _F.SKIN, _F.BROWS, _F.BROWS, _F.EYES, _F.EYES, _F.SKIN, _F.SKIN,
        _F.SKIN, _F.BACKGROUND, _F.NOSE, _F.INNER_MOUTH, _F.LIPS, _F.LIPS, _F.BACKGROUND,
        _F.BACKGROUND, _F.BACKGROUND, _F.HAIR, _F.BACKGROUND,
    ),
)  # fmt: skip

#: LaPa order as used by facer's FaRL parsers (``farl/lapa/448``).
LAPA_11 = LabelScheme(
    name="lapa-11",
    class_names=(
        "background", "face", "rb", "lb", "re", "le", "nose", "ulip", "imouth", "llip", "hair",
    ),
    to_face_class=(
        _F.BACKGROUND, _F.SKIN, _F.BROWS, _F.BROWS, _F.EYES, _F.EYES, _F.NOSE, _F.LIPS,
        _F.INNER_MOUTH, _F.LIPS, _F.HAIR,
    ),
)  # fmt: skip

#: A parser trained directly on the 8 classes (the project's default parser).
ISEGAN_8 = LabelScheme(
    name="isegan-8",
    class_names=FACE_CLASS_NAMES,
    to_face_class=tuple(FaceClass),
)

LABEL_SCHEMES: dict[str, LabelScheme] = {
    scheme.name: scheme for scheme in (CELEBAMASK_HQ_19, LAPA_11, ISEGAN_8)
}


def get_label_scheme(name: str) -> LabelScheme:
    try:
        return LABEL_SCHEMES[name]
    except KeyError:
        raise ValueError(
            f"unknown label scheme {name!r}, choose one of {sorted(LABEL_SCHEMES)}"
        ) from None


def to_face_probabilities(probabilities: torch.Tensor, scheme: LabelScheme) -> torch.Tensor:
    """Map (B, S, H, W) per-class probabilities to (B, 8, H, W) by summing grouped classes."""
    if probabilities.ndim != 4 or probabilities.shape[1] != scheme.num_classes:
        raise ValueError(
            f"expected (B, {scheme.num_classes}, H, W) probabilities for {scheme.name!r}, "
            f"got {tuple(probabilities.shape)}"
        )
    if scheme.is_identity:
        # Nothing to sum. The product with an identity matrix is exact in fp32 but was a
        # transpose and a matrix product in the converted graph (0.25 ms of the parser's
        # 3.3 ms on OpenVINO), and under bf16 it rounded P_s to bf16.
        return probabilities
    import torch

    matrix = scheme.mapping_matrix().to(device=probabilities.device, dtype=probabilities.dtype)
    return torch.einsum("bshw,sc->bchw", probabilities, matrix)


def palette_bytes() -> list[int]:
    """A 256-entry PIL palette: the class colours first, the rest black."""
    flat = [channel for colour in FACE_CLASS_COLOURS for channel in colour]
    return flat + [0] * (768 - len(flat))


def parsing_to_image(class_map: np.ndarray) -> Image.Image:
    """Turn an (H, W) class-index map into a palette ('P') image holding the indices."""
    if class_map.ndim != 2:
        raise ValueError(f"class map must be 2-D (H, W), got shape {class_map.shape}")
    if class_map.size and (class_map.min() < 0 or class_map.max() >= NUM_FACE_CLASSES):
        raise ValueError(
            f"class indices must lie in [0, {NUM_FACE_CLASSES - 1}], "
            f"got [{class_map.min()}, {class_map.max()}]"
        )
    image = Image.fromarray(class_map.astype(np.uint8), mode="P")
    image.putpalette(palette_bytes())
    return image


def parsing_from_image(image: Image.Image) -> np.ndarray:
    """Read class indices back from a palette or greyscale image; reject unknown classes."""
    if image.mode not in ("P", "L"):
        raise ValueError(
            f"a parsing map must be a palette (P) or greyscale (L) image of class indices, "
            f"got mode {image.mode}"
        )
    class_map = np.asarray(image, dtype=np.uint8)
    unknown = np.unique(class_map[class_map >= NUM_FACE_CLASSES])
    if unknown.size:
        raise ValueError(
            f"parsing map holds class indices {unknown.tolist()} outside 0..{NUM_FACE_CLASSES - 1} "
            f"({', '.join(FACE_CLASS_NAMES)})"
        )
    return class_map


def colourise(class_map: np.ndarray) -> np.ndarray:
    """(H, W) indices -> (H, W, 3) uint8 RGB, for overlays and contact sheets."""
    lut = np.asarray(FACE_CLASS_COLOURS, dtype=np.uint8)
    colours: np.ndarray = lut[class_map]
    return colours
