"""facer's FaRL face parsers (LaPa, 11 classes) as an isegan parser backend.

The FaRL models live on a file host we cannot reach, so the TorchScript file is given by
path (``model_path=``). facer warps each face to its 448x448 frame from five points (eye,
eye, nose tip, mouth corner, mouth corner, image-left first), which FaceMesh provides.
The 11 LaPa classes are summed into the 8 ISEGAN classes. Install with ``pip install
'isegan[facer,labels]'`` and ``pip install --no-deps mediapipe==0.10.14``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from isegan.model.alignment.align import NoFaceFoundError
from isegan.model.alignment.landmarks import (
    LEFT_IRIS_CENTRE,
    MOUTH_CORNERS,
    NOSE_TIP,
    RIGHT_IRIS_CENTRE,
    FaceLandmarker,
)
from isegan.model.face_classes import LAPA_11, to_face_probabilities

FIVE_POINTS = (RIGHT_IRIS_CENTRE, LEFT_IRIS_CENTRE, NOSE_TIP, *MOUTH_CORNERS)


class FarlLapaParser(nn.Module):
    """Same contract as :class:`isegan.model.parsing.FaceParser`: (B, 3, H, W) images in
    [-1, 1] -> (B, 8, H, W) probabilities."""

    def __init__(self, model_path: str | Path, device: torch.device, conf: str = "lapa/448"):
        super().__init__()
        try:
            import facer
        except ImportError as error:
            raise RuntimeError("the facer backend needs: pip install 'isegan[facer]'") from error
        if conf != "lapa/448":
            raise ValueError(f"only facer's LaPa parser ('lapa/448') is mapped, not {conf!r}")
        self.parser = facer.face_parser(f"farl/{conf}", device, model_path=str(model_path))
        self.landmarker = FaceLandmarker()
        self.device = device

    def five_points(self, images: torch.Tensor) -> torch.Tensor:
        points = []
        for index, image in enumerate(images):
            rgb = image.add(1).mul(127.5).round().clamp(0, 255).byte().permute(1, 2, 0)
            landmarks = self.landmarker.landmarks(rgb.cpu().numpy())
            if landmarks is None:
                raise NoFaceFoundError(f"image {index}: no face found for facer's parser")
            points.append(landmarks[list(FIVE_POINTS)])
        return torch.from_numpy(np.stack(points)).float()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected (B, 3, H, W) images, got {tuple(images.shape)}")
        data = {
            "image_ids": torch.arange(images.shape[0], device=self.device),
            "points": self.five_points(images).to(self.device),
        }
        unit = images.add(1).div(2).clamp(0, 1).float().to(self.device)
        logits = self.parser(unit, data)["seg"]["logits"]
        return to_face_probabilities(logits.float().softmax(dim=1), LAPA_11)
