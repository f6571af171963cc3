"""The paper's evaluation protocol: synthesise the test split, score it, write a report.

Photos are scored at CUFS size (250x200) in greyscale for FSIM, SSIM, PSNR and NLDA,
in RGB for LPIPS and FID. Metrics whose backbone weights were not given are reported as
not computed (``null``), never as a number.
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

from isegan.model.labels import parsing_to_image
from isegan.model.pipeline import FacePipeline
from isegan.training.contact_sheet import contact_sheet, overlay
from isegan.training.metrics.fsim import fsim
from isegan.training.metrics.learned import (
    LPIPS_NETWORKS,
    build_fid_inception,
    build_lpips,
    frechet_distance,
    inception_features,
    lpips_distances,
)
from isegan.training.metrics.nlda import PAPER_TRAIN_FRACTION, nlda_accuracy
from isegan.training.metrics.pixel import psnr, ssim
from isegan.training.pairs import PairFolder, read_rgb

logger = logging.getLogger(__name__)
METRIC_COLUMNS = (
    ("fid", "FID ↓"),
    ("fsim", "FSIM ↑"),
    ("lpips_alex", "LPIPS ↓ (alex)"),
    ("lpips_squeeze", "LPIPS ↓ (squeeze)"),
    ("lpips_vgg", "LPIPS ↓ (vgg)"),
    ("nlda", "NLDA ↑ (%)"),
    ("ssim", "SSIM ↑"),
    ("psnr", "PSNR ↑ (dB)"),
)
#: Table 1 of the paper (CUFS, 338 test pairs) for the report.
PAPER_TABLE_1 = {
    "Pix2pix (paper)": (73.43, 0.7678, 0.1981, 0.1769, 0.3256, 93.32),
    "SCA-GAN (paper)": (60.72, 0.7764, 0.1790, 0.1539, 0.3011, 90.61),
    "ISEGAN (paper)": (58.30, 0.7802, 0.1668, 0.1432, 0.2895, 94.02),
}


@dataclass(frozen=True)
class MetricWeights:
    """Optional backbone files; a metric whose file is missing is not computed."""

    lpips: dict[str, Path] = field(default_factory=dict)  # "alex" | "squeeze" | "vgg" -> file
    inception: Path | None = None


def greyscale(image: Image.Image) -> np.ndarray:
    """ITU-R 601 luma, rounded to 8 bits (Pillow's 'L', like MATLAB's rgb2gray)."""
    return np.asarray(image.convert("L"), dtype=np.float64)


def score(
    real: Sequence[Image.Image],
    fake: Sequence[Image.Image],
    weights: MetricWeights,
    *,
    nlda_repeats: int = 20,
    seed: int = 0,
) -> dict[str, Any]:
    """Every metric of Table 1 (plus SSIM and PSNR) for aligned lists of images."""
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
    if len(real) >= 5:
        nlda = nlda_accuracy(
            np.stack([g.ravel() / 255 for g in grey_real]),
            np.stack([g.ravel() / 255 for g in grey_fake]),
            repeats=nlda_repeats,
            seed=seed,
        )
        results["nlda"] = 100 * nlda.accuracy
        results["nlda_protocol"] = {
            "repeats": nlda.repeats,
            "train_identities": nlda.train_identities,
            "test_identities": nlda.test_identities,
            "pca_dimensions": nlda.pca_dimensions,
            "std_percent": 100 * nlda.std,
        }
    else:
        results["nlda"] = None
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


def protocol(weights: MetricWeights, count: int) -> dict[str, Any]:
    return {
        "images": count,
        "size": "250x200 (h x w), as CUFS; outputs cropped back from the 256 canvas",
        "fsim": "luminance FSIM (FeatureSIM.m first output) on 8-bit greyscale (ITU-R 601 luma)",
        "ssim_psnr": "greyscale, data range 255, Gaussian 11x11 sigma 1.5 (piq)",
        "nlda": (
            f"PCA + null-space LDA, 1-NN; queries real photos, gallery synthesised photos; "
            f"{PAPER_TRAIN_FRACTION:.1%} of identities fit the projection (paper: 150 of 338); "
            f"20 random splits, mean accuracy"
        ),
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
            ids, pairs, sketches, pipeline(sketches), strict=True
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


def _cell(value: float | None, key: str) -> str:
    if value is None:
        return "n/c"
    if key in ("fid", "nlda", "psnr"):
        return f"{value:.2f}"
    return f"{value:.4f}"


def report_markdown(rows: dict[str, dict[str, Any]], header: str) -> str:
    """Table laid out like the paper's Table 1 (one row per method/checkpoint)."""
    columns = [label for _, label in METRIC_COLUMNS]
    lines = [
        header,
        "",
        "| Method | " + " | ".join(columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for name, metrics in rows.items():
        cells = [_cell(metrics.get(key), key) for key, _ in METRIC_COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for name, values in PAPER_TABLE_1.items():
        cells = [f"{v}" for v in values] + ["–", "–"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "n/c: not computed (its ImageNet backbone weights were not given). Paper rows: CUFS "
        "with 338 test pairs (CUHK + AR + XM2VTS); ours: the bundled split, a different data "
        "size and training budget.",
    ]
    return "\n".join(lines) + "\n"


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, allow_nan=False, default=str))
