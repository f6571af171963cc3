"""How well a face parser holds up on the sketches people bring.

Every evaluation sketch is rendered in each kind of the robustness suite
(:mod:`isegan.training.robustness.renderings`); nothing moves pixels, so the clean sketch's
pseudo-labels still describe every rendering. Two figures per kind:

- ``miou``: mean IoU of P_s against the pseudo-labels, i.e. is the parsing right;
- ``agreement``: mean IoU of P_s against the same parser's P_s of the clean sketch, i.e.
  does the generator see the same P_s whatever the sketch was drawn with (what issue
  "Every sketch a person brings" asks of the parser).

With ``canonicalise`` the renderings pass through :func:`~isegan.model.canonicalise.
canonicalise` first, as they do in the served pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from isegan.model.canonicalise import CanonicaliseConfig, canonicalise
from isegan.model.face_classes import NUM_FACE_CLASSES
from isegan.model.pipeline import parse_sketches
from isegan.training.face_parser.train import LabelledImage, confusion, iou_per_class
from isegan.training.robustness.renderings import KIND_NAMES
from isegan.training.robustness.suite import render_split

#: The row for the sketch as drawn.
CLEAN = "clean"


def _mean(matrix: np.ndarray) -> float:
    values = [v for v in iou_per_class(matrix).values() if v is not None]
    return float(np.mean(values)) if values else float("nan")


def _parse(
    parser: nn.Module,
    images: Sequence,  # type: ignore[type-arg]
    device: torch.device,
    batch_size: int,
) -> list[np.ndarray]:
    parsed: list[np.ndarray] = []
    for start in range(0, len(images), batch_size):
        parsed += parse_sketches(parser, images[start : start + batch_size], device=device)
    return parsed


def parser_robustness(
    parser: nn.Module,
    sketches: Sequence[LabelledImage],
    photos: Sequence[LabelledImage],
    *,
    device: torch.device,
    kinds: Sequence[str] = KIND_NAMES,
    canonicalise_with: CanonicaliseConfig | None = None,
    batch_size: int = 16,
) -> dict[str, dict[str, float]]:
    """Kind -> {"miou", "agreement"} for ``sketches`` (each paired with the photo of the
    same index, which the photo-edge kind draws from); "clean" first."""
    if len(sketches) != len(photos):
        raise ValueError("need one photo per sketch")
    clean_images = [s.image.convert("RGB") for s in sketches]
    table: dict[str, dict[str, float]] = {}
    clean_parsing: list[np.ndarray] = []
    for name in (CLEAN, *kinds):
        images = (
            clean_images
            if name == CLEAN
            else render_split(name, clean_images, [p.image.convert("RGB") for p in photos])
        )
        if canonicalise_with is not None:
            images = [canonicalise(image, canonicalise_with) for image in images]
        parsed = _parse(parser, images, device, batch_size)
        if name == CLEAN:
            clean_parsing = parsed
        truth = np.zeros((NUM_FACE_CLASSES, NUM_FACE_CLASSES), np.int64)
        agree = np.zeros_like(truth)
        for sample, clean, predicted in zip(sketches, clean_parsing, parsed, strict=True):
            truth += confusion(predicted, sample.labels)
            agree += confusion(predicted, clean)
        table[name] = {"miou": _mean(truth), "agreement": _mean(agree)}
    return table


def robustness_markdown(tables: dict[str, dict[str, dict[str, float]]]) -> str:
    """Kinds down, parsers across: ``mIoU vs pseudo-labels (agreement with clean P_s)``."""
    names = list(tables)
    kinds = list(next(iter(tables.values())))
    lines = [
        "| sketch kind | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for kind in kinds:
        cells = [
            f"{tables[n][kind]['miou']:.3f} ({tables[n][kind]['agreement']:.3f})" for n in names
        ]
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    means = []
    for n in names:
        rendered = [v for k, v in tables[n].items() if k != CLEAN]
        means.append(
            f"{np.mean([v['miou'] for v in rendered]):.3f} "
            f"({np.mean([v['agreement'] for v in rendered]):.3f})"
        )
    lines.append("| mean over kinds | " + " | ".join(means) + " |")
    return "\n".join(lines) + "\n"
