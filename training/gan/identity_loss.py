"""The identity-perceptual losses: the offline stand-in for the paper's L_per.

The paper's L_per (eq. 5) asks the photo to have "similar features and identity with the
target photo" and cites VGG-Face, a face-recognition network; no such weights install
here, but dlib's face-recognition ResNet does. Two terms come from it:

- ``L_id = 1 - cos(f(Y), f(Y^))``: the descriptors of the real and the synthesised
  photo point the same way (the recognizer compares faces by these descriptors);
- ``L_face-per``: the mean squared distance between the network's feature maps at a few
  depths, the perceptual-loss form of eq. 5 with a face network in place of VGG-19;
- ``L_id-contrast`` (not in the paper): the photo's descriptor must be nearer its own
  person's real photo than every other training photo, a softmax over squared descriptor
  distances to the gallery of training photos. L_id only pulls towards the target, which
  an average face already half satisfies; the face recognizer ranks a photo among other
  people's, and an average face is near all of them. This term pays for the features
  that tell one person from the rest.

Training crops are shifted (random 256 crop of the padded canvas) and sometimes flipped,
so each sample's face chip is cut with the CUFS-frame transform moved by its own crop
offset (the batch's ``frame``: x and y of the CUFS frame's origin in the crop, and the
flip), which keeps the chip on the face and gradients flowing through ``grid_sample``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

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
    indices: torch.Tensor | None = None  # each sample's gallery row (its pair), for L_id-contrast
    # With loss.id_face_only: the real photos and their background probability (B, 1, H, W),
    # which replace the synthesised photo's background before it is described.
    photos: torch.Tensor | None = None
    background: torch.Tensor | None = None


class FaceLosses(NamedTuple):
    identity: torch.Tensor  # L_id
    perceptual: torch.Tensor  # L_face-per
    distance: torch.Tensor  # |f(Y) - f(Y^)|, for the log
    contrast: torch.Tensor | None  # L_id-contrast; None without a gallery


def gallery_contrast(
    fake: torch.Tensor,
    real: torch.Tensor,
    gallery: torch.Tensor,
    indices: torch.Tensor,
    temperature: float,
) -> torch.Tensor:
    """Cross-entropy of picking each photo's own person from the gallery by squared
    descriptor distance (the recognizer's measure), divided by ``temperature``.

    ``fake`` and ``real`` (B, D) are the synthesised and the real photo of this crop;
    ``gallery`` (N, D) holds every training photo, and row ``indices[b]`` is sample b's own
    person: that row is replaced by ``real[b]``, the same crop and flip as the fake.
    """
    fake, real, gallery = fake.float(), real.float(), gallery.float()
    # |a - g|^2 expanded: torch.cdist's gradient is undefined at a zero distance
    to_gallery = (
        fake.pow(2).sum(1, keepdim=True) - 2 * fake @ gallery.T + gallery.pow(2).sum(1)[None]
    )
    to_own = (fake - real).pow(2).sum(1, keepdim=True)
    rows = indices.to(fake.device).long()[:, None]
    distances = to_gallery.scatter(1, rows, to_own)
    return F.cross_entropy(-distances / temperature, rows[:, 0])


class IdentityPerceptual:
    """dlib's network applied to training crops; frozen, gradients reach the images."""

    def __init__(
        self, recognizer: FaceRecognizer, taps: tuple[str, ...], contrast_temperature: float = 0.1
    ) -> None:
        self.recognizer = recognizer
        self.taps = taps
        self.contrast_temperature = contrast_temperature
        self.gallery: torch.Tensor | None = None  # (N, 128): L_id-contrast's training photos

    @torch.no_grad()
    def fill_gallery(self, photos: torch.Tensor, frames: torch.Tensor, chunk: int = 16) -> None:
        """Describe every training photo once (uncropped, unflipped): the other people
        L_id-contrast ranks each synthesised photo against."""
        descriptors = [
            self.targets(
                photos[start : start + chunk], frames[start : start + chunk]
            ).features.descriptor.float()
            for start in range(0, len(photos), chunk)
        ]
        self.gallery = torch.cat(descriptors)

    def _features(self, images: torch.Tensor, matrices: torch.Tensor) -> FaceFeatures:
        chips = extract_chips((images.float() + 1) * 127.5, matrices)
        return self.recognizer.network.features(chips, self.taps)

    @torch.no_grad()
    def targets(
        self,
        photos: torch.Tensor,
        frames: torch.Tensor,
        indices: torch.Tensor | None = None,
        background: torch.Tensor | None = None,
    ) -> FaceTargets:
        """The real photos' features; given ``background`` (the real photos' background
        probability), the descriptor losses will see the synthesised face on the real
        photo's background."""
        matrices = crop_chip_matrices(frames, photos.shape[-1])
        features = self._features(photos, matrices)
        if background is None:
            return FaceTargets(matrices, features, indices)
        return FaceTargets(matrices, features, indices, photos, background.to(photos.dtype))

    def _fake_descriptor(
        self, targets: FaceTargets, fakes: torch.Tensor, fake: FaceFeatures
    ) -> torch.Tensor:
        """The descriptor L_id and L_id-contrast compare. With a background, the chip's
        backdrop, neck and clothes are the real photo's: the identity terms then cannot
        repaint the backdrop to tell people apart (a light backdrop is rarer among the
        other photos than CUHK's blue), which is the pixel losses' and the
        discriminators' business."""
        if targets.background is None or targets.photos is None:
            return fake.descriptor
        background = targets.background
        composite = fakes * (1 - background) + targets.photos.to(fakes.dtype) * background
        chips = extract_chips((composite.float() + 1) * 127.5, targets.matrices)
        return self.recognizer.network.features(chips, ()).descriptor

    def losses(self, targets: FaceTargets, fakes: torch.Tensor) -> FaceLosses:
        """L_id, L_face-per, the descriptor distance, and L_id-contrast when the gallery
        is filled and the targets say whose photos they are."""
        fake = self._features(fakes, targets.matrices)
        real = targets.features
        descriptor = self._fake_descriptor(targets, fakes, fake)
        identity = (1 - F.cosine_similarity(descriptor, real.descriptor, dim=1)).mean()
        if self.taps:
            perceptual = torch.stack(
                [F.mse_loss(fake.maps[tap], real.maps[tap]) for tap in self.taps]
            ).sum()
        else:
            perceptual = torch.zeros((), device=fakes.device)
        distance = (descriptor - real.descriptor).norm(dim=1).mean()
        contrast = None
        if self.gallery is not None and targets.indices is not None:
            contrast = gallery_contrast(
                descriptor, real.descriptor, self.gallery, targets.indices,
                self.contrast_temperature,
            )  # fmt: skip
        return FaceLosses(identity, perceptual, distance, contrast)
