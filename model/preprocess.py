"""Placing a sketch of any size and mode on the generator's canvas, and mapping back.

CUFS images (250x200, h x w) are padded to 256x256 without resampling (3 px top and
bottom, 28 px left and right) and cropped back after the forward pass; other sizes
are first resized to fit the CUFS frame with their aspect ratio kept, and the result
is resized back to the input size. Training and inference share this object.

The per-image work around the networks runs in NumPy and Pillow, not PyTorch: a PyTorch
operation on a whole canvas wakes its OpenMP threads, which then spin for milliseconds
after it, and on a small CPU they take the cores from OpenVINO's next network (the
parser ran 2.9 ms slower after PyTorch pre-processing on two cores). The results are
the same to the bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from isegan.model.config import PreprocessConfig


@dataclass(frozen=True)
class Placement:
    """Where an input's content sits on the canvas, and the input's own size."""

    top: int
    left: int
    height: int
    width: int
    original_height: int
    original_width: int

    @property
    def resized(self) -> bool:
        return (self.height, self.width) != (self.original_height, self.original_width)


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode -> 8-bit RGB. Transparency is flattened onto white paper."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        low, high = float(values.min()), float(values.max())
        scale = 255.0 / (high - low) if high > low else 0.0
        image = Image.fromarray(((values - low) * scale).round().astype(np.uint8), mode="L")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(paper, rgba)
    return image.convert("RGB")


def image_to_tensor(image: Image.Image) -> torch.Tensor:
    """8-bit RGB image -> (3, H, W) float tensor in [-1, 1]."""
    return torch.from_numpy(_rgb_to_unit(np.asarray(to_rgb(image))))


def _rgb_to_unit(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> (3, H, W) float32 in [-1, 1], in NumPy (see the module doc)."""
    planes = np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32)
    return planes / np.float32(127.5) - np.float32(1.0)


def tensor_to_image(tensor: torch.Tensor) -> Image.Image:
    """(3, H, W) tensor in [-1, 1] -> 8-bit RGB image (rounded, clamped)."""
    array = tensor.detach().float().cpu().numpy()
    levels = np.clip(np.round((array + np.float32(1.0)) * np.float32(127.5)), 0, 255)
    pixels = np.ascontiguousarray(levels.astype(np.uint8).transpose(1, 2, 0))
    return Image.fromarray(pixels, mode="RGB")


def first_maximum(scores: np.ndarray) -> np.ndarray:
    """(C, H, W) scores -> (H, W) uint8 index of each pixel's first largest class.

    In NumPy (1.1 ms for a CUFS map): PyTorch's is faster (0.5 ms on two threads) but
    wakes its OpenMP threads, whose spinning then slowed OpenVINO's next parser call by
    2 ms (see the module doc)."""
    return np.asarray(scores.argmax(axis=0), dtype=np.uint8)


class Preprocess:
    """Canvas placement for one :class:`PreprocessConfig`."""

    def __init__(self, config: PreprocessConfig | None = None) -> None:
        self.config = config or PreprocessConfig()

    def placement(self, height: int, width: int) -> Placement:
        if height < 1 or width < 1:
            raise ValueError(f"image must be at least 1x1, got {height}x{width}")
        config = self.config
        if (height, width) == (config.content_height, config.content_width):
            content_h, content_w = height, width
        else:
            scale = min(config.content_height / height, config.content_width / width)
            content_h = max(1, round(height * scale))
            content_w = max(1, round(width * scale))
        top = (config.canvas_size - content_h) // 2
        left = (config.canvas_size - content_w) // 2
        return Placement(top, left, content_h, content_w, height, width)

    def to_canvas(self, image: Image.Image) -> tuple[torch.Tensor, Placement]:
        """Image -> ((3, S, S) tensor in [-1, 1], placement)."""
        rgb = to_rgb(image)
        placement = self.placement(rgb.height, rgb.width)
        if placement.resized:
            rgb = rgb.resize((placement.width, placement.height), Image.Resampling.LANCZOS)
        content = _rgb_to_unit(np.asarray(rgb))
        size = self.config.canvas_size
        rows = (placement.top, size - placement.top - placement.height)
        columns = (placement.left, size - placement.left - placement.width)
        mode = self.config.pad_mode
        if mode == "reflect" and max(*rows, *columns) >= min(content.shape[-2:]):
            mode = "replicate"  # reflect cannot pad by more than the content's size
        widths = ((0, 0), rows, columns)
        if mode == "constant":
            canvas = np.pad(content, widths, mode="constant", constant_values=1.0)
        else:
            canvas = np.pad(content, widths, mode="edge" if mode == "replicate" else "reflect")
        return torch.from_numpy(canvas), placement

    def crop(self, canvas: torch.Tensor, placement: Placement) -> torch.Tensor:
        """(C, S, S) -> (C, content h, content w)."""
        return canvas[
            ...,
            placement.top : placement.top + placement.height,
            placement.left : placement.left + placement.width,
        ]

    def image_from_canvas(self, canvas: torch.Tensor, placement: Placement) -> Image.Image:
        """Generated (3, S, S) photo -> RGB image at the input's original size."""
        image = tensor_to_image(self.crop(canvas, placement))
        if placement.resized:
            image = image.resize(
                (placement.original_width, placement.original_height), Image.Resampling.LANCZOS
            )
        return image

    def classes_to_canvas(
        self, class_map: np.ndarray, placement: Placement, num_classes: int
    ) -> torch.Tensor:
        """(H, W) class map at the input's size -> (num_classes, S, S) one-hot canvas.

        The inverse of :meth:`classes_from_canvas`, for a user-supplied parsing map: resized
        with nearest neighbour (indices must not blend) and padded as background (class 0),
        which is what the parser predicts on the white padding.
        """
        if class_map.shape != (placement.original_height, placement.original_width):
            raise ValueError(
                f"class map is {class_map.shape[1]}x{class_map.shape[0]} (w x h) but the image "
                f"is {placement.original_width}x{placement.original_height}"
            )
        indices = torch.from_numpy(np.ascontiguousarray(class_map, dtype=np.int64))
        if placement.resized:
            indices = F.interpolate(
                indices[None, None].float(), (placement.height, placement.width), mode="nearest"
            )[0, 0].long()
        size = self.config.canvas_size
        canvas = torch.zeros(size, size, dtype=torch.long)
        canvas[
            placement.top : placement.top + placement.height,
            placement.left : placement.left + placement.width,
        ] = indices
        return F.one_hot(canvas, num_classes).permute(2, 0, 1).float()

    def classes_from_canvas(
        self,
        probabilities: torch.Tensor,
        placement: Placement,
        *,
        canvas_classes: torch.Tensor | None = None,
    ) -> np.ndarray:
        """(8, S, S) probabilities -> (H, W) uint8 class map at the original size.

        Probabilities are resized before the arg-max, so class borders stay smooth.
        ``canvas_classes``, the probabilities' (S, S) first-maximum class map when a
        backend already computed it, is cropped instead where no resize is needed (the
        same map, without the arg-max's 1.1 ms).
        """
        if canvas_classes is not None and not placement.resized:
            return np.ascontiguousarray(self.crop(canvas_classes, placement).cpu().numpy())
        content = self.crop(probabilities, placement).float()
        if placement.resized:
            content = F.interpolate(
                content.unsqueeze(0),
                (placement.original_height, placement.original_width),
                mode="bilinear",
                align_corners=False,
            ).squeeze(0)
        return first_maximum(content.detach().cpu().numpy())
