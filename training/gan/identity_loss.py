"""The identity-perceptual losses: the offline stand-in for the paper's L_per.

The paper's L_per (eq. 5) asks the photo to have "similar features and identity with the
target photo" and cites VGG-Face, a face-recognition network; no such weights install
here, but dlib's face-recognition ResNet does. Two terms come from it:

- ``L_id = 1 - cos(f(Y), f(Y^))``: the descriptors of the real and the synthesised
  photo point the same way (the recognizer compares faces by these descriptors);
- ``L_face-per``: the mean squared distance between the network's feature maps at a few
  depths, the perceptual-loss form of eq. 5 with a face network in place of VGG-19.

Training crops are shifted (random 256 crop of the padded canvas) and sometimes flipped,
so each sample's face chip is cut with the CUFS-frame transform moved by its own crop
offset (the batch's ``frame``: x and y of the CUFS frame's origin in the crop, and the
flip), which keeps the chip on the face and gradients flowing through ``grid_sample``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from isegan.model.alignment.face_chips import cufs_chip_matrix, extract_chips
from isegan.model.identity.face_recognition import FaceRecognizer
from isegan.model.networks.face_resnet import FaceFeatures


def crop_chip_matrices(frames: torch.Tensor, crop_width: int) -> torch.Tensor:
    """(B, 2, 3) chip-to-crop maps from (B, 5) frames: where the CUFS frame's origin sits
    in the crop (x, y), whether the crop is flipped (0/1), and the frame's size there
    (width, height)."""
    matrices = []
    for origin_x, origin_y, flipped, width, height in frames.detach().cpu().tolist():
        chip_to_cufs = torch.as_tensor(cufs_chip_matrix((width, height)), dtype=torch.float64)
        last_row = torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64)
        homogeneous = torch.cat([chip_to_cufs, last_row])
        if flipped > 0.5:
            cufs_to_crop = [[-1.0, 0.0, crop_width - 1 - origin_x], [0.0, 1.0, origin_y]]
        else:
            cufs_to_crop = [[1.0, 0.0, origin_x], [0.0, 1.0, origin_y]]
        matrices.append(torch.tensor(cufs_to_crop, dtype=torch.float64) @ homogeneous)
    return torch.stack(matrices)


@dataclass
class FaceTargets:
    """The real photos' face features, computed once per step for G1 and G2."""

    matrices: torch.Tensor
    features: FaceFeatures


class IdentityPerceptual:
    """dlib's network applied to training crops; frozen, gradients reach the images."""

    def __init__(self, recognizer: FaceRecognizer, taps: tuple[str, ...]) -> None:
        self.recognizer = recognizer
        self.taps = taps

    def _features(self, images: torch.Tensor, matrices: torch.Tensor) -> FaceFeatures:
        chips = extract_chips((images.float() + 1) * 127.5, matrices)
        return self.recognizer.network.features(chips, self.taps)

    @torch.no_grad()
    def targets(self, photos: torch.Tensor, frames: torch.Tensor) -> FaceTargets:
        matrices = crop_chip_matrices(frames, photos.shape[-1])
        return FaceTargets(matrices, self._features(photos, matrices))

    def losses(
        self, targets: FaceTargets, fakes: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(L_id, L_face-per, the descriptor distance |f(Y) - f(Y^)| for the log)."""
        fake = self._features(fakes, targets.matrices)
        real = targets.features
        identity = (1 - F.cosine_similarity(fake.descriptor, real.descriptor, dim=1)).mean()
        if self.taps:
            perceptual = torch.stack(
                [F.mse_loss(fake.maps[tap], real.maps[tap]) for tap in self.taps]
            ).sum()
        else:
            perceptual = torch.zeros((), device=fakes.device)
        distance = (fake.descriptor - real.descriptor).norm(dim=1).mean()
        return identity, perceptual, distance
