"""Sample grids during training: sketch | P_s | P_int | Y1 | Y2 | real, one row per pair."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from isegan.model.face_classes import colourise
from isegan.model.preprocess import tensor_to_image
from isegan.model.weights.generator_pair import Generators
from isegan.training.contact_sheet import contact_sheet


def _parsing_tile(probabilities: torch.Tensor) -> Image.Image:
    classes = probabilities.argmax(dim=0).to(torch.uint8).cpu().numpy()
    return Image.fromarray(colourise(classes).astype(np.uint8), mode="RGB")


def sample_grid(
    generators: Generators, batch: dict[str, torch.Tensor], device: torch.device
) -> Image.Image:
    """Outputs on a fixed batch, in eval mode (running BatchNorm statistics, no dropout)."""
    gan = generators
    networks = list(generators.networks().values())
    modes = [n.training for n in networks]
    for network in networks:
        network.eval()
    sketch = batch["sketch"].to(device)
    sketch_parsing = batch["sketch_parsing"].to(device)
    with torch.no_grad():
        stage1 = gan.stage1(sketch, sketch_parsing if gan.config.use_sketch_parsing else None)
        final = stage1.photo
        if gan.stage2 is not None:
            final = gan.stage2(sketch_parsing, stage1.parsing, stage1.photo, sketch)
    for network, mode in zip(networks, modes, strict=True):
        network.train(mode)
    rows = []
    for i in range(sketch.shape[0]):
        rows.append([
            tensor_to_image(batch["sketch"][i]),
            _parsing_tile(batch["sketch_parsing"][i]),
            _parsing_tile(stage1.parsing[i]),
            tensor_to_image(stage1.photo[i]),
            tensor_to_image(final[i]),
            tensor_to_image(batch["photo"][i]),
        ])  # fmt: skip
    captions = ["sketch | P_s | P_int | Y1 | Y2 | real"] + [""] * (len(rows) - 1)
    return contact_sheet(rows, captions=captions)
