"""The ways a person brings a sketch, as image transforms with explicit parameters.

One set of transforms serves two users, so the suite and the training data cannot drift
apart: :mod:`.suite` renders every test sketch in each named kind of :data:`KINDS` with
fixed parameters and a fixed seed, and :mod:`.augment` draws the same transforms'
parameters at random while training.

Images are float tensors ``(B, 3, H, W)`` in [0, 1] on any device. Photometric kinds change
how the same drawing was captured (pencil pressure, paper, light, optics, codec, scanner);
style kinds change how it was drawn (pen-and-ink, line art, an edge map of the photo,
sparse strokes), which only a line rendering can stand in for: no augmentation library
has one, so the line renderings are written out here.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import kornia.filters
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

Family = Literal["photometric", "style"]
_LUMA = (0.299, 0.587, 0.114)


def luminance(image: torch.Tensor) -> torch.Tensor:
    """ITU-R 601 luma, ``(B, 1, H, W)``."""
    weights = image.new_tensor(_LUMA).view(1, 3, 1, 1)
    return (image * weights).sum(dim=1, keepdim=True)


def grey3(image: torch.Tensor) -> torch.Tensor:
    """Luma repeated over three channels: how a greyscale drawing is stored as RGB."""
    return luminance(image).expand(-1, 3, -1, -1).contiguous()


def gaussian(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur with a kernel wide enough for ``sigma`` (reflect-padded borders)."""
    if sigma <= 0:
        return image
    size = 2 * math.ceil(3 * sigma) + 1
    return kornia.filters.gaussian_blur2d(image, (size, size), (sigma, sigma), "reflect")


def smooth_noise(
    shape: tuple[int, ...], scale: float, generator: torch.Generator, device: torch.device
) -> torch.Tensor:
    """Zero-mean noise of unit standard deviation with features about ``scale`` px wide."""
    noise = torch.randn(shape, generator=generator).to(device)
    noise = gaussian(noise, scale) if scale > 0.3 else noise
    return (noise - noise.mean(dim=(-2, -1), keepdim=True)) / (
        noise.std(dim=(-2, -1), keepdim=True) + 1e-6
    )


# -- photometric ----------------------------------------------------------------------------
def faint(image: torch.Tensor, contrast: float) -> torch.Tensor:
    """A lighter hand: every stroke's darkness scaled by ``contrast`` towards the paper."""
    return 1.0 - contrast * (1.0 - image)


def paper(
    image: torch.Tensor,
    tint: tuple[float, float, float],
    grain: float,
    generator: torch.Generator,
) -> torch.Tensor:
    """Tinted paper (the drawing multiplied by the paper's colour) with fibre grain."""
    batch, _, height, width = image.shape
    colour = image.new_tensor(tint).view(1, 3, 1, 1)
    texture = smooth_noise((batch, 1, height, width), 0.7, generator, image.device)
    return (image * colour + grain * texture).clamp(0, 1)


def uneven_light(
    image: torch.Tensor,
    *,
    gradient: float,
    angle: float,
    shadow: float,
    shadow_offset: float,
    softness: float,
) -> torch.Tensor:
    """A phone photo of the page: light falling off by ``gradient`` across the page along
    ``angle`` (radians), and the soft shadow of a hand or phone darkening one side of a
    line by ``shadow`` (``shadow_offset``: the line's distance from the centre, in half
    page widths; ``softness``: its penumbra, same unit)."""
    _, _, height, width = image.shape
    ys = torch.linspace(-1, 1, height, device=image.device).view(height, 1)
    xs = torch.linspace(-1, 1, width, device=image.device).view(1, width)
    along = xs * math.cos(angle) + ys * math.sin(angle)
    light = 1.0 - gradient * (along + 1) / 2
    across = xs * math.cos(angle + math.pi / 2) + ys * math.sin(angle + math.pi / 2)
    in_shadow = torch.sigmoid((across - shadow_offset) / max(softness, 1e-3))
    light = light * (1.0 - shadow * in_shadow)
    return (image * light).clamp(0, 1)


def blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """Out of focus or a soft pencil."""
    return gaussian(image, sigma).clamp(0, 1)


def jpeg(image: torch.Tensor, quality: int) -> torch.Tensor:
    """A real JPEG round trip (libjpeg through Pillow, on the CPU, 4:2:0 as cameras save)."""
    as_bytes = image.detach().mul(255).round().clamp(0, 255).to(torch.uint8).cpu()
    decoded = []
    for one in as_bytes:
        buffer = io.BytesIO()
        Image.fromarray(one.permute(1, 2, 0).numpy()).save(buffer, "JPEG", quality=quality)
        array = np.asarray(Image.open(buffer).convert("RGB"), dtype=np.float32)
        decoded.append(torch.from_numpy(array.copy()).permute(2, 0, 1))
    return torch.stack(decoded).to(image.device, image.dtype) / 255


def scanner_noise(
    image: torch.Tensor,
    *,
    sigma: float,
    streaks: float,
    dust: float,
    generator: torch.Generator,
) -> torch.Tensor:
    """Sensor noise, row streaks of a line scanner, and dust specks (a ``dust`` fraction
    of pixels turned dark or white)."""
    batch, _, height, width = image.shape
    device = image.device
    noise = sigma * torch.randn((batch, 1, height, width), generator=generator).to(device)
    rows = streaks * torch.randn((batch, 1, height, 1), generator=generator).to(device)
    specks = torch.rand((batch, 1, height, width), generator=generator).to(device)
    out = image + noise + rows
    out = torch.where(specks < dust / 2, torch.zeros_like(out), out)
    out = torch.where(specks > 1 - dust / 2, torch.ones_like(out), out)
    return out.clamp(0, 1)


# -- style ------------------------------------------------------------------------------------
def lines(
    image: torch.Tensor,
    *,
    sigma: float,
    threshold: float,
    softness: float,
    k: float = 1.6,
) -> torch.Tensor:
    """Dark lines on white where the drawing is darker than its surroundings, tone
    removed: a difference of Gaussians (the core of XDoG, Winnemöller et al. 2012) on the
    luma, thresholded. ``sigma`` sets the line width, ``threshold`` how much local
    darkening makes a line, ``softness`` the ramp from paper to full line (near 0: hard
    pen-and-ink edges). Greyscale, in three channels."""
    grey = luminance(image)
    darker = gaussian(grey, k * sigma) - gaussian(grey, sigma)
    strength = ((darker - threshold) / max(softness, 1e-4)).clamp(0, 1)
    return (1.0 - strength).expand(-1, 3, -1, -1).contiguous()


def ink(image: torch.Tensor, *, sigma: float, threshold: float) -> torch.Tensor:
    """Pen-and-ink: hard black strokes of one width, no shading."""
    return lines(image, sigma=sigma, threshold=threshold, softness=0.004)


def line_art(image: torch.Tensor, *, sigma: float, threshold: float) -> torch.Tensor:
    """Line art traced from the sketch: thin, slightly soft lines, no tone."""
    return lines(image, sigma=sigma, threshold=threshold, softness=0.04)


def edge_map(image: torch.Tensor, *, low: float, high: float, width: int) -> torch.Tensor:
    """Canny edges (kornia) drawn as dark lines ``width`` px wide on white: the edge maps
    that edge-to-photo datasets and tools make from photos."""
    _, edges = kornia.filters.canny(luminance(image), low_threshold=low, high_threshold=high)
    if width > 1:
        edges = F.max_pool2d(edges, width, stride=1, padding=width // 2)[
            ..., : image.shape[-2], : image.shape[-1]
        ]
    return (1.0 - edges).clamp(0, 1).expand(-1, 3, -1, -1).contiguous()


def sparse(
    image: torch.Tensor, *, keep: float, scale: float, generator: torch.Generator
) -> torch.Tensor:
    """Simplified strokes: the lines of ``image`` (a line rendering) kept only where a
    smooth random field is in its top ``keep`` fraction, as a quick drawing leaves gaps."""
    batch, _, height, width = image.shape
    field = smooth_noise((batch, 1, height, width), scale, generator, image.device)
    cut = torch.quantile(field.flatten(1), 1 - keep, dim=1).view(batch, 1, 1, 1)
    return torch.where(field >= cut, image, torch.ones_like(image))


# -- the named kinds ---------------------------------------------------------------------------
Render = Callable[[torch.Tensor, torch.Tensor, torch.Generator], torch.Tensor]


@dataclass(frozen=True)
class Kind:
    """One named rendering with fixed parameters: ``render(sketch, photo, generator)``."""

    name: str
    family: Family
    description: str
    render: Render


def _kinds() -> tuple[Kind, ...]:
    cream = (0.98, 0.93, 0.80)
    return (
        Kind("faint", "photometric", "a light pencil: 45 % of the strokes' contrast",
             lambda s, p, g: faint(s, 0.45)),
        Kind("paper", "photometric", "cream paper with grain",
             lambda s, p, g: paper(s, cream, 0.035, g)),
        Kind("shadow", "photometric",
             "a phone photo: light falling off 30 % across the page, a 45 % shadow over a third",
             lambda s, p, g: uneven_light(s, gradient=0.3, angle=0.5, shadow=0.45,
                                          shadow_offset=0.35, softness=0.12)),
        Kind("blur", "photometric", "out of focus: Gaussian blur, sigma 1.5 px",
             lambda s, p, g: blur(s, 1.5)),
        Kind("jpeg", "photometric", "JPEG at quality 30", lambda s, p, g: jpeg(s, 30)),
        Kind("scanner", "photometric", "scanner noise: sigma 0.05, row streaks, 0.3 % dust",
             lambda s, p, g: scanner_noise(s, sigma=0.05, streaks=0.02, dust=0.003,
                                           generator=g)),
        Kind("ink", "style", "pen-and-ink strokes of one width, no shading",
             lambda s, p, g: ink(s, sigma=1.2, threshold=0.03)),
        Kind("line_art", "style", "line art traced from the sketch (thresholded DoG)",
             lambda s, p, g: line_art(s, sigma=0.8, threshold=0.015)),
        Kind("photo_edges", "style", "Canny edge map of the real photo, 2 px lines",
             lambda s, p, g: edge_map(p, low=0.08, high=0.2, width=2)),
        Kind("sparse", "style", "simplified strokes: 60 % of the ink strokes kept",
             lambda s, p, g: sparse(ink(s, sigma=1.0, threshold=0.03), keep=0.6,
                                    scale=4.0, generator=g)),
    )  # fmt: skip


#: Every named kind, photometric first; "clean" (the sketch as drawn) is not one of them.
KINDS: tuple[Kind, ...] = _kinds()
KIND_NAMES: tuple[str, ...] = tuple(kind.name for kind in KINDS)
#: The seed every kind's random parts start from, for each image (with its index).
SUITE_SEED = 20261204


def kind(name: str) -> Kind:
    for candidate in KINDS:
        if candidate.name == name:
            return candidate
    raise ValueError(f"unknown rendering {name!r}, choose from {', '.join(KIND_NAMES)}")


def render(name: str, sketch: torch.Tensor, photo: torch.Tensor, index: int = 0) -> torch.Tensor:
    """One kind applied to a batch, seeded by the suite's seed and ``index`` (the first
    image's position in the split), so a test sketch always looks the same."""
    generator = torch.Generator().manual_seed(SUITE_SEED * 1_000_003 + index)
    with torch.no_grad():
        return kind(name).render(sketch, photo, generator).clamp(0, 1)
