"""Training augmentation: every kind of the robustness suite, and more, drawn at random.

A sketch is, with probability ``style``, replaced by a line rendering of itself or of
its photo (pen-and-ink, line art, an edge map, sparse strokes), so the generator learns
to fill hair, skin and shading from lines alone; then, with probability ``photometric``,
one to three capture changes are applied (faint pencil, gamma, tinted paper, uneven light,
a plasma shadow, blur, low resolution, a page turn and scale undone as alignment undoes it,
scanner noise, JPEG). Nothing moves pixels, so the photo and the parsing maps stay aligned
with the sketch without being touched.

Draws come from a generator seeded by (``seed``, step, item), independent of the
training seed: a resumed run sees the same renderings, and changing the augmentation seed
changes nothing else. Everything runs on the tensors' device (kornia and torch), except
the JPEG round trip, which needs libjpeg on the CPU.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import kornia.augmentation
import torch
import torch.nn.functional as F
from kornia.geometry.transform import get_rotation_matrix2d, invert_affine_transform, warp_affine
from pydantic import Field

from isegan.model.config import FrozenConfig
from isegan.training.robustness import renderings as r


class AugmentConfig(FrozenConfig):
    """What share of training sketches is rendered in another way (0: none, the default
    of every preset until the equal-budget ablations chose otherwise)."""

    photometric: float = Field(0.0, ge=0, le=1)  # chance of 1-3 capture changes
    style: float = Field(0.0, ge=0, le=1)  # chance of a line rendering in place of the sketch
    seed: int = 0
    # P_s of a changed sketch: "rendered" parses the rendering (what inference will see),
    # "clean" keeps the clean sketch's cached map (a perfectly robust parser's answer).
    sketch_parsing: Literal["rendered", "clean"] = "rendered"

    @property
    def enabled(self) -> bool:
        return self.photometric > 0 or self.style > 0


def _uniform(generator: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator))


def _choice(generator: torch.Generator, count: int) -> int:
    return int(torch.randint(0, count, (), generator=generator))


Op = Callable[[torch.Tensor, torch.Tensor, torch.Generator], torch.Tensor]


def _random_style(sketch: torch.Tensor, photo: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """One line rendering of the sketch or of the photo, with drawn parameters."""
    pick = _choice(g, 6)
    if pick == 0:
        return r.ink(sketch, sigma=_uniform(g, 0.8, 1.8), threshold=_uniform(g, 0.02, 0.05))
    if pick == 1:
        return r.line_art(sketch, sigma=_uniform(g, 0.6, 1.2), threshold=_uniform(g, 0.008, 0.03))
    if pick == 2:
        low = _uniform(g, 0.05, 0.12)
        return r.edge_map(photo, low=low, high=low * _uniform(g, 1.8, 3.0), width=1 + _choice(g, 3))
    if pick == 3:  # line art of the photo: what a tracing of a reference photo looks like
        return r.line_art(photo, sigma=_uniform(g, 0.8, 1.6), threshold=_uniform(g, 0.01, 0.03))
    if pick == 4:
        strokes = r.ink(sketch, sigma=_uniform(g, 0.8, 1.4), threshold=_uniform(g, 0.02, 0.05))
        return r.sparse(strokes, keep=_uniform(g, 0.4, 0.85), scale=_uniform(g, 2, 8), generator=g)
    # pen strokes over the pencil: lines drawn on top of a faded copy of the sketch
    faded = r.faint(r.grey3(sketch), _uniform(g, 0.1, 0.5))
    return torch.minimum(faded, r.ink(sketch, sigma=_uniform(g, 0.8, 1.4), threshold=0.03))


def _gamma(image: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    return image.clamp(0, 1).pow(_uniform(g, 0.6, 1.7))


def _paper(image: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    warmth = _uniform(g, 0.0, 0.22)  # 0: white or grey paper, 0.22: strong cream
    shade = _uniform(g, 0.85, 1.0)
    tint = (shade, shade * (1 - warmth / 3), shade * (1 - warmth))
    return r.paper(image, tint, _uniform(g, 0.0, 0.05), g)


def _light(image: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    return r.uneven_light(
        image, gradient=_uniform(g, 0.0, 0.45), angle=_uniform(g, 0, 2 * math.pi),
        shadow=_uniform(g, 0.0, 0.55), shadow_offset=_uniform(g, -0.6, 0.8),
        softness=_uniform(g, 0.03, 0.4),
    )  # fmt: skip


def _plasma_shadow(image: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """kornia's fractal shadow (blotchy light, creases), seeded from our generator."""
    transform = kornia.augmentation.RandomPlasmaShadow(
        roughness=(0.1, 0.6), shade_intensity=(-0.5, 0.0), shade_quantity=(0.0, 0.5), p=1.0
    )
    devices = [image.device.index or 0] if image.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(int(torch.randint(0, 2**31 - 1, (), generator=g)))
        return transform(image).clamp(0, 1)


def _blur(image: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    return r.blur(image, _uniform(g, 0.4, 2.2))


def _low_resolution(image: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    size = image.shape[-2:]
    factor = _uniform(g, 0.3, 0.7)
    small = F.interpolate(image, scale_factor=factor, mode="area")
    return F.interpolate(small, size=size, mode="bilinear", align_corners=False).clamp(0, 1)


def _resampled(image: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """The sketch turned and scaled as a scan or phone photo shows it (up to 12 degrees,
    0.75-1.35x, as :func:`~isegan.model.alignment.align.place_on_page`), then warped back as
    alignment does: the geometry is unchanged, the pixels resampled twice."""
    height, width = image.shape[-2:]
    scale = _uniform(g, 0.75, 1.35)
    size = (max(8, round(height * scale)), max(8, round(width * scale)))
    centre = torch.tensor([[(width - 1) / 2, (height - 1) / 2]], device=image.device)
    forward = get_rotation_matrix2d(
        centre,
        torch.tensor([_uniform(g, -12, 12)], device=image.device),
        torch.full((1, 2), scale, device=image.device),
    )
    forward[:, :, 2] += torch.tensor(
        [(size[1] - width) / 2, (size[0] - height) / 2], device=image.device
    )
    paper = torch.ones(3, device=image.device)
    page = warp_affine(image, forward, size, mode="bicubic", padding_mode="fill", fill_value=paper)
    back = invert_affine_transform(forward)
    return warp_affine(
        page, back, (height, width), mode="bicubic", padding_mode="fill", fill_value=paper
    ).clamp(0, 1)


def _noise(image: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    return r.scanner_noise(
        image, sigma=_uniform(g, 0.0, 0.07), streaks=_uniform(g, 0.0, 0.03),
        dust=_uniform(g, 0.0, 0.005), generator=g,
    )  # fmt: skip


def _jpeg(image: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    return r.jpeg(image, int(_uniform(g, 15, 75)))


#: Capture changes in the order a real capture applies them: the hand, the paper, the
#: light, the optics, the sensor, the codec. Name -> transform.
PHOTOMETRIC: tuple[tuple[str, Callable[[torch.Tensor, torch.Generator], torch.Tensor]], ...] = (
    ("faint", lambda image, g: r.faint(image, _uniform(g, 0.3, 0.85))),
    ("gamma", _gamma),
    ("paper", _paper),
    ("light", _light),
    ("plasma_shadow", _plasma_shadow),
    ("blur", _blur),
    ("low_resolution", _low_resolution),
    ("resampled", _resampled),
    ("noise", _noise),
    ("jpeg", _jpeg),
)


@dataclass(frozen=True)
class Augmented:
    """A batch's sketches after augmentation, which items changed, and how."""

    sketch: torch.Tensor  # (B, 3, H, W) in [-1, 1]
    changed: torch.Tensor  # (B,) bool
    applied: tuple[tuple[str, ...], ...]  # per item, the names of what was applied


class SketchAugmenter:
    """Draws and applies the renderings of :class:`AugmentConfig` to batches in [-1, 1]."""

    def __init__(self, config: AugmentConfig) -> None:
        self.config = config

    def generator(self, step: int, item: int) -> torch.Generator:
        return torch.Generator().manual_seed(
            ((self.config.seed + 1) * 1_000_003 + step) * 1_000_003 + item
        )

    @torch.no_grad()
    def __call__(
        self, sketch: torch.Tensor, photo: torch.Tensor, step: int, first_item: int = 0
    ) -> Augmented:
        """``sketch``/``photo``: (B, 3, H, W) in [-1, 1]; item i is drawn from the
        generator of (step, ``first_item`` + i)."""
        out, changed, applied = [], [], []
        for item in range(sketch.shape[0]):
            g = self.generator(step, first_item + item)
            image = sketch[item : item + 1].add(1).div(2)
            names: list[str] = []
            if float(torch.rand((), generator=g)) < self.config.style:
                image = _random_style(image, photo[item : item + 1].add(1).div(2), g)
                names.append("style")
            if float(torch.rand((), generator=g)) < self.config.photometric:
                count = 1 + _choice(g, 3)
                chosen = sorted(torch.randperm(len(PHOTOMETRIC), generator=g)[:count].tolist())
                for index in chosen:
                    name, transform = PHOTOMETRIC[index]
                    image = transform(image, g)
                    names.append(name)
            out.append(image.mul(2).sub(1))
            changed.append(bool(names))
            applied.append(tuple(names))
        return Augmented(
            torch.cat(out).to(sketch.dtype),
            torch.tensor(changed, device=sketch.device),
            tuple(applied),
        )
