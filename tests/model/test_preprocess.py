import io

import numpy as np
import pytest
import torch
from PIL import Image

from isegan.model.config import PreprocessConfig
from isegan.model.preprocess import Preprocess, image_to_tensor, tensor_to_image, to_rgb


def test_cufs_size_is_padded_not_resized(cufs_sketches) -> None:
    sketch = cufs_sketches[0]
    assert sketch.size == (200, 250)
    preprocess = Preprocess()
    canvas, placement = preprocess.to_canvas(sketch)
    assert canvas.shape == (3, 256, 256)
    assert (placement.top, placement.left, placement.height, placement.width) == (3, 28, 250, 200)
    assert not placement.resized
    original = image_to_tensor(sketch)
    assert torch.equal(preprocess.crop(canvas, placement), original)
    # Replicate padding: the first padded column repeats the image's first column.
    assert torch.equal(canvas[:, 3:253, 0], original[:, :, 0])
    assert torch.equal(canvas[:, 0, 28:228], original[:, 0, :])
    # And the crop back gives the very same pixels.
    assert np.array_equal(
        np.asarray(preprocess.image_from_canvas(canvas, placement)), np.asarray(sketch)
    )


@pytest.mark.parametrize(
    ("height", "width"), [(500, 400), (300, 300), (120, 600), (37, 29), (1, 1)]
)
def test_other_sizes_keep_aspect_and_map_back(height: int, width: int) -> None:
    preprocess = Preprocess()
    placement = preprocess.placement(height, width)
    assert placement.height <= 250 and placement.width <= 200
    assert abs(placement.height / placement.width - height / width) < 0.05 * height / width + 0.02
    image = Image.new("RGB", (width, height), (120, 10, 200))
    canvas, placement = preprocess.to_canvas(image)
    assert canvas.shape == (3, 256, 256)
    back = preprocess.image_from_canvas(canvas, placement)
    assert back.size == (width, height)
    probabilities = torch.zeros(8, 256, 256)
    probabilities[5] = 1
    class_map = preprocess.classes_from_canvas(probabilities, placement)
    assert class_map.shape == (height, width) and (class_map == 5).all()


def test_content_box_must_fit_canvas() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        PreprocessConfig(canvas_size=128)


def _encoded(image: Image.Image, fmt: str = "PNG") -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    buffer.seek(0)
    return Image.open(buffer)


@pytest.mark.parametrize("mode", ["L", "LA", "P", "RGBA", "I;16", "I", "F", "CMYK", "1", "RGB"])
def test_every_pillow_mode_becomes_rgb(mode: str) -> None:
    grey = np.tile(np.linspace(0, 255, 20, dtype=np.uint8), (10, 1))
    image = Image.fromarray(grey, mode="L").convert(mode)
    if mode == "I;16":
        image = Image.fromarray(grey.astype("<u2") * 257)
        assert image.mode == "I;16"
    rgb = to_rgb(image)
    assert rgb.mode == "RGB" and rgb.size == (20, 10)
    values = np.asarray(rgb, dtype=np.int32)[..., 0]
    if mode != "1":  # dithering to 1 bit only keeps an ordering on average
        assert values[0, -1] > values[0, 0]  # the gradient survives


def test_transparent_pixels_become_white_paper() -> None:
    image = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    assert np.asarray(to_rgb(image)).min() == 255


def test_tensor_image_round_trip_is_exact() -> None:
    array = np.random.default_rng(0).integers(0, 256, (7, 5, 3), dtype=np.uint8)
    image = Image.fromarray(array, mode="RGB")
    assert np.array_equal(np.asarray(tensor_to_image(image_to_tensor(image))), array)
