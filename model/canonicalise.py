"""Bringing an input sketch to the training data's look before the networks see it.

People bring sketches on cream paper, in faint pencil, photographed under uneven light.
The generator learnt on CUFS scans, where the paper is an even near-white and the darkest
strokes nearly black, and it reads the paper's tone as a cue to which population a face
belongs to (a light scan comes out like the lighter-scanned dataset). Canonicalisation:

1. drops colour (a sketch carries none; a tint is the paper's);
2. divides by an estimate of the page's lighting: the bright (paper) level of coarse
   cells, spread by a maximum over neighbouring cells so hair and shading do not count as
   paper, then smoothed (flattens gradients, soft shadows, tinted or grey paper);
3. rescales the strokes' darkness so the darkest strokes reach CUFS's, within a bounded
   gain (restores a faint pencil without turning scanner noise on a blank page into
   strokes), and puts the paper at CUFS's paper level.

The targets are CUFS training sketches' own levels, so a clean CUFS sketch changes little.
Whether it is on by default is decided by the robustness suite (``isegan eval
--robustness``); it is recorded with every output's options.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from pydantic import Field
from scipy import ndimage

from isegan.model.config import FrozenConfig
from isegan.model.preprocess import to_rgb

#: Whether the service and ``isegan synthesize`` canonicalise unless told otherwise: set
#: by the robustness ablations (docs/robustness.md).
CANONICALISE_BY_DEFAULT = True


class CanonicaliseConfig(FrozenConfig):
    """The canonicaliser's parameters; the levels are measured on CUFS training sketches
    (scripts/measure_sketch_levels.py)."""

    cells: int = Field(10, ge=2)  # lighting cells along the longer side
    spread: int = Field(5, ge=1)  # neighbourhood (cells) whose brightest counts as paper
    paper_percentile: float = Field(90.0, gt=50, le=100)
    ink_percentile: float = Field(99.0, gt=50, le=100)  # of darkness: the darkest strokes
    paper_level: float = Field(0.99, gt=0, le=1)  # CUFS paper, 0..1 (median 0.992)
    ink_darkness: float = Field(0.81, gt=0, le=1)  # CUFS darkest strokes (median 0.808)
    max_gain: float = Field(3.0, ge=1)
    min_gain: float = Field(0.8, gt=0, le=1)
    # Gains this close to 1 are left at 1: CUFS's own sketches vary this much (quartiles of
    # their darkest strokes 0.78-0.85), and a clean sketch should pass nearly unchanged.
    dead_band: float = Field(0.1, ge=0)


def paper_lighting(grey: np.ndarray, config: CanonicaliseConfig) -> np.ndarray:
    """The page's lighting at every pixel (same shape as ``grey``, values in (0, 1])."""
    height, width = grey.shape
    cell = max(1, int(np.ceil(max(height, width) / config.cells)))
    rows, cols = int(np.ceil(height / cell)), int(np.ceil(width / cell))
    padded = np.pad(grey, ((0, rows * cell - height), (0, cols * cell - width)), mode="edge")
    blocks = padded.reshape(rows, cell, cols, cell).transpose(0, 2, 1, 3).reshape(rows, cols, -1)
    levels = np.percentile(blocks, config.paper_percentile, axis=-1)
    levels = ndimage.maximum_filter(levels, size=config.spread, mode="nearest")
    levels = ndimage.uniform_filter(levels, size=3, mode="nearest")
    zoom = (rows * cell / rows, cols * cell / cols)
    lighting = ndimage.zoom(levels, zoom, order=1, mode="nearest", grid_mode=True)
    return np.asarray(np.clip(lighting[:height, :width], 0.05, 1.0), dtype=np.float64)


def canonicalise(image: Image.Image, config: CanonicaliseConfig | None = None) -> Image.Image:
    """The sketch as a greyscale RGB image on CUFS-like paper with CUFS-like strokes."""
    config = config or CanonicaliseConfig()
    # to_rgb, as preprocessing does: transparency onto white paper, 16-bit modes rescaled
    grey = np.asarray(to_rgb(image).convert("L"), dtype=np.float64) / 255
    flat = np.clip(grey / paper_lighting(grey, config), 0, 1)
    darkness = 1 - flat
    reach = float(np.percentile(darkness, config.ink_percentile))
    gain = config.max_gain if reach <= 1e-6 else config.ink_darkness / reach
    gain = float(np.clip(gain, config.min_gain, config.max_gain))
    if abs(gain - 1) <= config.dead_band:
        gain = 1.0
    out = config.paper_level * (1 - np.clip(darkness * gain, 0, 1))
    grey8 = np.clip(np.round(out * 255), 0, 255).astype(np.uint8)
    return Image.fromarray(grey8, mode="L").convert("RGB")
