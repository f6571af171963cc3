"""Applying sketch augmentation to a training batch, with the sketch parsing it implies.

A rendered sketch needs its own P_s: the generator must learn from the parsing it will
be given at inference, where the parser sees the faint scan or the line drawing, not the
clean sketch behind it. So changed items are parsed again on the device by the run's
(frozen) parser; with ``sketch_parsing="clean"`` they keep the clean sketch's cached map.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import nn

from isegan.training.robustness.augment import SketchAugmenter


@dataclass(frozen=True)
class AugmentedBatch:
    batch: dict[str, torch.Tensor]
    seconds: float  # rendering and re-parsing, for the training log
    changed: int  # how many items were changed


def augment_batch(
    augmenter: SketchAugmenter,
    parser: nn.Module,
    batch: dict[str, torch.Tensor],
    *,
    step: int,
    device: torch.device,
    first_item: int = 0,
) -> AugmentedBatch:
    """The batch with its sketches (and their P_s) replaced where augmentation drew a
    change; ``first_item`` offsets the items' seeds (one rank's share of a global batch)."""
    started = time.perf_counter()
    sketch = batch["sketch"].to(device)
    photo = batch["photo"].to(device)
    augmented = augmenter(sketch, photo, step, first_item)
    out = dict(batch)
    out["sketch"] = augmented.sketch
    changed = int(augmented.changed.sum())
    if changed and augmenter.config.sketch_parsing == "rendered":
        parsing = batch["sketch_parsing"].to(device).clone()
        with torch.no_grad():
            rendered = parser(augmented.sketch[augmented.changed]).float()
        parsing[augmented.changed] = rendered.to(parsing.dtype)
        out["sketch_parsing"] = parsing
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return AugmentedBatch(out, time.perf_counter() - started, changed)
