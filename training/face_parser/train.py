"""Training the project's default face parser on CUFS photos and sketches.

The labels are the landmark/colour pseudo-labels of :mod:`isegan.training.face_parser.label_cache`.
Photos and sketches train together, with joint geometric augmentation (image and label
warped alike) and photometric augmentation of the image alone, so the one network parses
both domains. Evaluation runs through the same inference path the pipeline uses.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from pydantic import Field
from torchvision import tv_tensors
from torchvision.transforms import v2

from isegan.model.config import FrozenConfig, ParserConfig, PreprocessConfig
from isegan.model.face_classes import FACE_CLASS_NAMES, ISEGAN_8, NUM_FACE_CLASSES, FaceClass
from isegan.model.networks.parser import BiSeNet
from isegan.model.parsing import FaceParser
from isegan.model.pipeline import parse_sketches
from isegan.model.preprocess import Preprocess
from isegan.model.weights.checkpoint import ParserMetadata, new_metadata_fields
from isegan.training.face_parser.label_cache import LABELER_VERSION, PseudoLabelCache
from isegan.training.pairs import PairFolder, read_rgb
from isegan.training.robustness.augment import AugmentConfig, SketchAugmenter

logger = logging.getLogger(__name__)
KINDS = ("photos", "sketches")


class ParserTrainConfig(FrozenConfig):
    """Everything that decides the trained parser; stored in its checkpoint."""

    base_channels: int = Field(32, ge=4)
    input_size: int = Field(256, ge=64)
    epochs: int = Field(60, ge=1)
    batch_size: int = Field(8, ge=1)
    learning_rate: float = Field(2e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    aux_weight: float = Field(0.5, ge=0)
    seed: int = 0
    threads: int | None = None
    # The sketch renderings of training/robustness (the generator's augment.*), so P_s of
    # a faint scan or a line drawing agrees with the clean sketch's: the labels stay those
    # of the clean image, since no rendering moves a pixel. The defaults were chosen by
    # scripts/measure_parser_robustness.py (docs/robustness.md, "The parser"): P_s mIoU
    # over the suite's kinds 0.618 -> 0.669, agreement with the clean P_s 0.748 -> 0.886,
    # clean sketches 0.707 -> 0.692.
    augment_photometric: float = Field(0.5, ge=0, le=1)
    augment_style: float = Field(0.3, ge=0, le=1)

    def augmenter(self) -> SketchAugmenter | None:
        config = AugmentConfig(
            photometric=self.augment_photometric, style=self.augment_style, seed=self.seed
        )
        return SketchAugmenter(config) if config.enabled else None

    def parser_config(self) -> ParserConfig:
        return ParserConfig(
            base_channels=self.base_channels, label_scheme=ISEGAN_8.name,
            input_size=self.input_size,
        )  # fmt: skip


@dataclass
class LabelledImage:
    pair_id: str
    kind: str  # "photos" or "sketches"
    image: Image.Image
    labels: np.ndarray


def load_labelled(
    folder: PairFolder, cache: PseudoLabelCache, kinds: Sequence[str] = KINDS
) -> list[LabelledImage]:
    """The split's images of ``kinds`` (photos, sketches or both) with their pseudo-labels
    (unlabelled pairs skipped); only the kinds asked for are read."""
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown kinds {sorted(unknown)}; expected some of {KINDS}")
    paths = {"photos": folder.photo_path, "sketches": folder.sketch_path}
    samples = []
    for pair_id in folder.ids:
        if not cache.has(pair_id):
            continue
        if set(kinds) == set(KINDS):  # both: load_pair also checks their sizes agree
            arrays = dict(zip(KINDS, folder.load_pair(pair_id), strict=True))
        else:
            arrays = {kind: read_rgb(paths[kind](pair_id)) for kind in kinds}
        for kind in KINDS:
            if kind in arrays:
                samples.append(
                    LabelledImage(
                        pair_id, kind, Image.fromarray(arrays[kind]), cache.load(kind, pair_id)
                    )
                )
    return samples


def augmentation() -> v2.Compose:
    """Joint geometric transforms (labels follow, nearest-neighbour) and image-only colour.

    Left/right classes are merged in the 8-class scheme, so a flip needs no relabelling.
    """
    return v2.Compose([
        v2.RandomHorizontalFlip(),
        v2.RandomAffine(degrees=12, translate=(0.06, 0.06), scale=(0.85, 1.15)),
        v2.RandomApply([v2.ColorJitter(0.35, 0.35, 0.3, 0.05)], p=0.8),
        v2.RandomGrayscale(p=0.25),
        v2.RandomApply([v2.GaussianBlur(5, sigma=(0.1, 1.5))], p=0.2),
    ])  # fmt: skip


class CanvasSamples:
    """Samples placed on the 256 canvas like inference inputs, as uint8 tensors."""

    def __init__(self, samples: Sequence[LabelledImage], preprocess: Preprocess) -> None:
        self.images: list[torch.Tensor] = []
        self.labels: list[torch.Tensor] = []
        for sample in samples:
            canvas, placement = preprocess.to_canvas(sample.image)
            self.images.append(canvas.add(1).mul(127.5).round().to(torch.uint8))
            label_canvas = torch.zeros(canvas.shape[-2:], dtype=torch.long)
            label_canvas[
                placement.top : placement.top + placement.height,
                placement.left : placement.left + placement.width,
            ] = torch.from_numpy(sample.labels.astype(np.int64))
            self.labels.append(label_canvas)

    def __len__(self) -> int:
        return len(self.images)

    def batch(
        self, indices: Sequence[int], transform: Callable[..., tuple[torch.Tensor, torch.Tensor]]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = [], []
        for index in indices:
            image, mask = transform(
                tv_tensors.Image(self.images[index]), tv_tensors.Mask(self.labels[index])
            )
            images.append(image.float().div(127.5).sub(1))
            labels.append(mask)
        return torch.stack(images), torch.stack(labels)


def parser_loss(
    network: BiSeNet, parser: FaceParser, images: torch.Tensor, labels: torch.Tensor, aux: float
) -> torch.Tensor:
    """Cross-entropy on the main head plus weighted auxiliary heads (deep supervision)."""
    size = parser.config.input_size
    output = network(parser.normalise(images))
    if labels.shape[-1] != size:
        labels = F.interpolate(labels[:, None].float(), (size, size), mode="nearest")[:, 0].long()
    loss = F.cross_entropy(output.logits, labels)
    for head in (output.aux_logits_8x, output.aux_logits_16x):
        if head is not None:
            loss = loss + aux * F.cross_entropy(head, labels)
    return loss


def confusion(predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    index = target.astype(np.int64) * NUM_FACE_CLASSES + predicted.astype(np.int64)
    counts = np.bincount(index.ravel(), minlength=NUM_FACE_CLASSES**2)
    return counts.reshape(NUM_FACE_CLASSES, NUM_FACE_CLASSES)


def iou_per_class(matrix: np.ndarray) -> dict[str, float | None]:
    """IoU per class from a confusion matrix (rows: target); None where a class never
    occurs in either prediction or target."""
    scores: dict[str, float | None] = {}
    for face_class in FaceClass:
        c = int(face_class)
        union = matrix[c, :].sum() + matrix[:, c].sum() - matrix[c, c]
        scores[FACE_CLASS_NAMES[c]] = float(matrix[c, c] / union) if union else None
    return scores


def evaluate_parser(
    parser: FaceParser, samples: Sequence[LabelledImage], device: torch.device
) -> dict[str, dict[str, float | None]]:
    """Per-class IoU and mean IoU against the pseudo-labels, per domain (photos, sketches)."""
    report: dict[str, dict[str, float | None]] = {}
    for kind in KINDS:
        chosen = [s for s in samples if s.kind == kind]
        matrix = np.zeros((NUM_FACE_CLASSES, NUM_FACE_CLASSES), np.int64)
        for start in range(0, len(chosen), 16):
            batch = chosen[start : start + 16]
            predictions = parse_sketches(parser, [s.image for s in batch], device=device)
            for sample, predicted in zip(batch, predictions, strict=True):
                matrix += confusion(predicted, sample.labels)
        scores = iou_per_class(matrix)
        present = [v for v in scores.values() if v is not None]
        scores["mean"] = float(np.mean(present)) if present else None
        report[kind] = scores
    return report


def train_parser(
    config: ParserTrainConfig,
    train: Sequence[LabelledImage],
    *,
    device: torch.device,
    log_every: int = 10,
) -> tuple[BiSeNet, FaceParser, float]:
    """Train a BiSeNet from scratch on ``train``; returns the network in eval mode."""
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    parser_config = config.parser_config()
    network = BiSeNet.from_config(parser_config)
    parser = FaceParser(network, parser_config).to(device)
    data = CanvasSamples(train, Preprocess(PreprocessConfig()))
    transform = augmentation()
    renderings = config.augmenter()
    steps_per_epoch = max(1, len(data) // config.batch_size)
    optimiser = torch.optim.AdamW(
        network.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=config.learning_rate, total_steps=config.epochs * steps_per_epoch,
        pct_start=0.1,
    )  # fmt: skip
    started = time.perf_counter()
    network.train()
    for epoch in range(config.epochs):
        order = torch.randperm(len(data), generator=generator).tolist()
        running = 0.0
        for step in range(steps_per_epoch):
            indices = order[step * config.batch_size : (step + 1) * config.batch_size]
            images, labels = data.batch(indices, transform)
            if renderings is not None:  # photos' own edges stand in for "the photo"
                images = renderings(images, images, epoch * steps_per_epoch + step).sketch
            loss = parser_loss(
                network, parser, images.to(device), labels.to(device), config.aux_weight
            )
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            running += float(loss.detach())
        if (epoch + 1) % log_every == 0 or epoch + 1 == config.epochs:
            logger.info(
                "epoch %d/%d loss %.4f (%.0f s)", epoch + 1, config.epochs,
                running / steps_per_epoch, time.perf_counter() - started,
            )  # fmt: skip
    network.eval()
    return network, parser.eval(), time.perf_counter() - started


def build_parser_metadata(
    config: ParserTrainConfig,
    folder: PairFolder,
    metrics: dict[str, dict[str, float | None]],
    seconds: float,
    evaluated_on: str,
) -> ParserMetadata:
    flat: dict[str, float | None] = {}
    for kind, scores in metrics.items():
        for name, value in scores.items():
            flat[f"iou_{kind}_{name}"] = value
    return ParserMetadata(
        architecture=config.parser_config(),
        training={
            **config.model_dump(),
            "labels": LABELER_VERSION,
            "seconds": round(seconds, 1),
            "device": "cpu" if not torch.cuda.is_available() else torch.cuda.get_device_name(),
            "evaluated_on": evaluated_on,
        },
        data=folder.record(),
        metrics=flat,
        notes="BiSeNet trained from scratch on CUFS photos and sketches with landmark/colour "
        "pseudo-labels; IoU is measured against those pseudo-labels.",
        **new_metadata_fields(),
    )
