"""The paper's evaluation protocol: synthesise the test split, score it, write a report.

Photos are scored at CUFS size (250x200) in greyscale for FSIM, SSIM, PSNR and NLDA,
in RGB for LPIPS, FID and identity. Metrics whose backbone weights were not given are
reported as not computed (``null``), never as a number.

NLDA comes in three labelled modes: ``nlda`` (whole greyscale image, every NLDA
direction: this project's figure since the first release), ``nlda_best`` (the same, best
over the number of directions, as the published toolkits report it) and ``nlda_face``
(the face region only, each image standardised to zero mean and unit variance, so tone
and background do not count).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from isegan.model.face_classes import FACE_CLASS_NAMES, parsing_to_image
from isegan.model.pipeline import FacePipeline
from isegan.training.contact_sheet import contact_sheet, overlay
from isegan.training.evaluation.identity import IdentityGallery
from isegan.training.evaluation.quality.backdrop import backdrop_scores
from isegan.training.evaluation.quality.fsim import fsim
from isegan.training.evaluation.quality.learned import (
    LPIPS_NETWORKS,
    build_fid_inception,
    build_lpips,
    frechet_distance,
    inception_features,
    lpips_distances,
)
from isegan.training.evaluation.quality.nlda import PAPER_TRAIN_FRACTION, nlda_accuracy
from isegan.training.evaluation.quality.periodic import periodic_texture
from isegan.training.evaluation.quality.pixel import psnr, ssim
from isegan.training.pairs import PairFolder, read_rgb

logger = logging.getLogger(__name__)
#: The face region of the CUFS frame (left, top, right, bottom) for ``nlda_face``:
#: brows to chin, cheek to cheek, no hair or backdrop.
CUFS_FACE_BOX = (50, 95, 150, 215)


@dataclass(frozen=True)
class MetricWeights:
    """Optional backbone files; a metric whose file is missing is not computed."""

    lpips: dict[str, Path] = field(default_factory=dict)  # "alex" | "squeeze" | "vgg" -> file
    inception: Path | None = None


def greyscale(image: Image.Image) -> np.ndarray:
    """ITU-R 601 luma, rounded to 8 bits (Pillow's 'L', like MATLAB's rgb2gray)."""
    return np.asarray(image.convert("L"), dtype=np.float64)


def nlda_features(grey: Sequence[np.ndarray], mode: str) -> np.ndarray:
    """Rows of NLDA features: the whole image in [0, 1], or the standardised face box."""
    if mode == "whole":
        return np.stack([g.ravel() / 255 for g in grey])
    if mode == "face":
        left, top, right, bottom = CUFS_FACE_BOX
        rows = []
        for g in grey:
            scale_y, scale_x = g.shape[0] / 250, g.shape[1] / 200
            box = g[
                round(top * scale_y) : round(bottom * scale_y),
                round(left * scale_x) : round(right * scale_x),
            ]
            rows.append(((box - box.mean()) / (box.std() + 1e-8)).ravel())
        return np.stack(rows)
    raise ValueError(f"unknown NLDA feature mode {mode!r}, choose 'whole' or 'face'")


def _nlda_scores(
    grey_real: list[np.ndarray], grey_fake: list[np.ndarray], repeats: int, seed: int
) -> dict[str, Any]:
    if len(grey_real) < 5:
        return {"nlda": None, "nlda_best": None, "nlda_face": None}
    whole = nlda_accuracy(
        nlda_features(grey_real, "whole"),
        nlda_features(grey_fake, "whole"),
        repeats=repeats,
        seed=seed,
    )
    face = nlda_accuracy(
        nlda_features(grey_real, "face"),
        nlda_features(grey_fake, "face"),
        repeats=repeats,
        seed=seed,
    )
    return {
        "nlda": 100 * whole.accuracy,
        "nlda_best": 100 * whole.best_accuracy,
        "nlda_face": 100 * face.accuracy,
        "nlda_protocol": {
            "repeats": whole.repeats,
            "train_identities": whole.train_identities,
            "test_identities": whole.test_identities,
            "pca_dimensions": whole.pca_dimensions,
            "std_percent": 100 * whole.std,
            "best_dimensions": whole.best_dimensions,
            "face_std_percent": 100 * face.std,
        },
    }


def score(
    real: Sequence[Image.Image],
    fake: Sequence[Image.Image],
    weights: MetricWeights,
    *,
    nlda_repeats: int = 20,
    seed: int = 0,
    ids: Sequence[str] | None = None,
    gallery: IdentityGallery | None = None,
) -> dict[str, Any]:
    """Every metric of Table 1 (plus SSIM, PSNR, the NLDA modes and, given a gallery and
    the pair IDs, identity) for aligned lists of images."""
    if len(real) != len(fake) or not real:
        raise ValueError(f"need equally many real and fake images, got {len(real)}, {len(fake)}")
    for index, (a, b) in enumerate(zip(real, fake, strict=True)):
        if a.size != b.size:
            raise ValueError(f"image {index}: real {a.size} and fake {b.size} sizes differ")
    grey_real = [greyscale(i) for i in real]
    grey_fake = [greyscale(i) for i in fake]
    results: dict[str, Any] = {
        "fsim": float(np.mean([fsim(a, b) for a, b in zip(grey_real, grey_fake, strict=True)])),
        "ssim": float(np.mean([ssim(a, b) for a, b in zip(grey_real, grey_fake, strict=True)])),
    }
    psnrs = [psnr(a, b) for a, b in zip(grey_real, grey_fake, strict=True)]
    results["psnr"] = float(np.mean(psnrs)) if all(map(math.isfinite, psnrs)) else None
    results.update(_nlda_scores(grey_real, grey_fake, nlda_repeats, seed))
    results["backdrop"] = backdrop_scores(real, fake)
    results["periodic_texture"] = float(np.mean([periodic_texture(i) for i in fake]))
    results["periodic_texture_real"] = float(np.mean([periodic_texture(i) for i in real]))
    results["identity"] = (
        gallery.score(ids, fake).as_dict() if gallery is not None and ids is not None else None
    )
    for network in LPIPS_NETWORKS:
        path = weights.lpips.get(network)
        key = f"lpips_{network}"
        if path is None:
            results[key] = None
            continue
        results[key] = float(np.mean(lpips_distances(build_lpips(network, path), real, fake)))
    if weights.inception is not None:
        model = build_fid_inception(weights.inception)
        results["fid"] = frechet_distance(
            inception_features(model, real), inception_features(model, fake)
        )
    else:
        results["fid"] = None
    return results


def protocol(
    weights: MetricWeights, count: int, gallery: IdentityGallery | None = None
) -> dict[str, Any]:
    return {
        "images": count,
        "size": "250x200 (h x w), as CUFS; outputs cropped back from the 256 canvas",
        "fsim": "luminance FSIM (FeatureSIM.m first output) on 8-bit greyscale (ITU-R 601 luma)",
        "ssim_psnr": "greyscale, data range 255, Gaussian 11x11 sigma 1.5 (piq)",
        "nlda": (
            f"PCA + null-space LDA, 1-NN; queries real photos, gallery synthesised photos; "
            f"{PAPER_TRAIN_FRACTION:.1%} of identities fit the projection (paper: 150 of 338); "
            f"20 random splits, mean accuracy; nlda: whole 250x200 image, every direction; "
            f"nlda_best: best mean over the number of directions; nlda_face: face box "
            f"{CUFS_FACE_BOX} (left, top, right, bottom), each image standardised"
        ),
        "identity": gallery.describe() if gallery is not None else None,
        "lpips": {n: str(weights.lpips[n]) if n in weights.lpips else None for n in LPIPS_NETWORKS},
        "fid_inception": str(weights.inception) if weights.inception else None,
    }


@dataclass
class CheckpointOutputs:
    ids: list[str]
    sketches: list[Image.Image]
    real: list[Image.Image]
    final: list[Image.Image]
    stage1: list[Image.Image]
    intermediate_parsing: list[np.ndarray]
    sketch_parsing: list[np.ndarray]


def synthesise_split(
    pipeline: FacePipeline, folder: PairFolder, out: Path, *, batch_size: int = 8
) -> CheckpointOutputs:
    """Run the pipeline over every pair and save Y2, Y1 and P_int under ``out``."""
    outputs = CheckpointOutputs([], [], [], [], [], [], [])
    for folder_name in ("photos", "stage1", "parsing"):
        (out / folder_name).mkdir(parents=True, exist_ok=True)
    for start in tqdm(range(0, len(folder.ids), batch_size), desc="synthesise", unit="batch"):
        ids = list(folder.ids[start : start + batch_size])
        pairs = [folder.load_pair(pair_id) for pair_id in ids]
        sketches = [Image.fromarray(sketch) for _, sketch in pairs]
        for pair_id, (photo, _), sketch, result in zip(
            ids, pairs, sketches, pipeline(sketches, align="false"), strict=True
        ):
            result.photo.save(out / "photos" / f"{pair_id}.png")
            result.stage1_photo.save(out / "stage1" / f"{pair_id}.png")
            parsing_to_image(result.intermediate_parsing).save(out / "parsing" / f"{pair_id}.png")
            outputs.ids.append(pair_id)
            outputs.sketches.append(sketch)
            outputs.real.append(Image.fromarray(photo))
            outputs.final.append(result.photo)
            outputs.stage1.append(result.stage1_photo)
            outputs.intermediate_parsing.append(result.intermediate_parsing)
            outputs.sketch_parsing.append(result.sketch_parsing)
    return outputs


def evaluation_grid(outputs: CheckpointOutputs, count: int = 6) -> Image.Image:
    """sketch | P_s | P_int | Y1 | Y2 | real for a fixed sample (evenly spread IDs)."""
    picks = np.linspace(0, len(outputs.ids) - 1, min(count, len(outputs.ids))).round().astype(int)
    rows = [
        [
            outputs.sketches[i],
            overlay(outputs.sketches[i], outputs.sketch_parsing[i], 0.6),
            overlay(outputs.final[i], outputs.intermediate_parsing[i], 0.6),
            outputs.stage1[i],
            outputs.final[i],
            outputs.real[i],
        ]
        for i in picks
    ]
    captions = [f"{outputs.ids[i]}: sketch | P_s | P_int | Y1 | Y2 | real" for i in picks]
    return contact_sheet(rows, captions=captions)


def parsing_agreement(
    predicted: Sequence[np.ndarray], reference: Sequence[np.ndarray]
) -> dict[str, Any]:
    """IoU per class of class maps against reference maps, pooled over all images, and
    their mean over the classes the references contain."""
    per_class: dict[str, float | None] = {}
    for index, name in enumerate(FACE_CLASS_NAMES):
        intersection = sum(
            int(np.sum((p == index) & (r == index)))
            for p, r in zip(predicted, reference, strict=True)
        )
        union = sum(
            int(np.sum((p == index) | (r == index)))
            for p, r in zip(predicted, reference, strict=True)
        )
        present = any(np.any(r == index) for r in reference)
        per_class[name] = intersection / union if union and present else None
    values = [v for v in per_class.values() if v is not None]
    return {"mean_iou": float(np.mean(values)) if values else None, "per_class_iou": per_class}


def load_folder_pairs(
    real_dir: Path, fake_dir: Path
) -> tuple[list[str], list[Image.Image], list[Image.Image]]:
    """Same-named images of two folders (``--real`` / ``--fake``), fakes resized to the
    real size if they differ (other methods often output 256x256)."""
    fakes = {
        p.stem: p
        for p in sorted(fake_dir.iterdir())
        if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp")
    }
    reals = {
        p.stem: p
        for p in sorted(real_dir.iterdir())
        if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp")
    }
    common = sorted(set(fakes) & set(reals))
    if not common:
        raise ValueError(f"{real_dir} and {fake_dir} share no image names")
    missing = sorted(set(reals) - set(fakes))
    if missing:
        logger.warning("%d real images have no fake: %s", len(missing), missing[:5])
    real_images = [Image.fromarray(read_rgb(reals[n])) for n in common]
    fake_images = []
    for name, real in zip(common, real_images, strict=True):
        fake = Image.fromarray(read_rgb(fakes[name]))
        fake_images.append(
            fake if fake.size == real.size else fake.resize(real.size, Image.Resampling.BICUBIC)
        )
    return common, real_images, fake_images


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, allow_nan=False, default=str))
