"""The robustness suite of ``isegan eval``: the test split rendered in every named kind.

For each kind of :data:`~isegan.training.robustness.renderings.KINDS` every test sketch is
rendered with the kind's fixed parameters and seed, run through the pipeline, and scored:
FSIM and the identity metrics of the photo, the same metrics of the rendered sketch itself
(a photo should be worth more than the drawing it came from), the drop from the clean
sketch's photo, and how well the sketch parsing P_s of the rendering agrees with the clean
sketch's (mean IoU). A contact sheet shows one row per kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from isegan.model.pipeline import FacePipeline
from isegan.training.contact_sheet import contact_sheet
from isegan.training.evaluation.evaluate import greyscale, parsing_agreement
from isegan.training.evaluation.identity import IdentityGallery
from isegan.training.evaluation.quality.fsim import fsim
from isegan.training.robustness.renderings import KIND_NAMES, kind, render

#: Identity figures carried into the suite's table.
IDENTITY_KEYS = ("rank1", "verification_rate")


def to_tensor(image: Image.Image) -> torch.Tensor:
    """RGB image -> (1, 3, H, W) in [0, 1]."""
    array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255
    return torch.from_numpy(array.copy()).permute(2, 0, 1)[None]


def to_image(tensor: torch.Tensor) -> Image.Image:
    array = tensor[0].permute(1, 2, 0).mul(255).round().clamp(0, 255).to(torch.uint8)
    return Image.fromarray(array.cpu().numpy(), mode="RGB")


def render_split(
    name: str, sketches: Sequence[Image.Image], photos: Sequence[Image.Image]
) -> list[Image.Image]:
    """Every sketch of a split in kind ``name``; sketch i is seeded with its index i."""
    return [
        to_image(render(name, to_tensor(sketch), to_tensor(photo), index))
        for index, (sketch, photo) in enumerate(zip(sketches, photos, strict=True))
    ]


def parse_kinds(text: str) -> tuple[str, ...]:
    """``all`` or a comma-separated list of kind names (each checked)."""
    if text.strip() == "all":
        return KIND_NAMES
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    for name in names:
        kind(name)
    if not names:
        raise ValueError("--robustness needs 'all' or kind names")
    return names


def _light_scores(
    real: Sequence[Image.Image],
    images: Sequence[Image.Image],
    ids: Sequence[str],
    gallery: IdentityGallery | None,
) -> dict[str, Any]:
    grey = [greyscale(i) for i in images]
    grey_real = [greyscale(i) for i in real]
    scores: dict[str, Any] = {
        "fsim": float(np.mean([fsim(a, b) for a, b in zip(grey_real, grey, strict=True)]))
    }
    identity = gallery.score(ids, images).as_dict() if gallery is not None else None
    for key in IDENTITY_KEYS:
        scores[key] = identity[key] if identity is not None else None
    return scores


@dataclass
class KindRun:
    name: str
    sketches: list[Image.Image]
    photos: list[Image.Image]
    sketch_parsing: list[np.ndarray]


def run_kind(
    pipeline: FacePipeline, name: str, sketches: list[Image.Image], batch_size: int
) -> KindRun:
    photos: list[Image.Image] = []
    parsings: list[np.ndarray] = []
    for start in range(0, len(sketches), batch_size):
        for result in pipeline(sketches[start : start + batch_size], align="false"):
            photos.append(result.photo)
            parsings.append(result.sketch_parsing)
    return KindRun(name, sketches, photos, parsings)


@dataclass
class SuiteResult:
    table: dict[str, dict[str, Any]]  # kind -> scores (clean included)
    sheet: Image.Image


def robustness_suite(
    pipeline: FacePipeline,
    *,
    ids: Sequence[str],
    sketches: Sequence[Image.Image],
    real: Sequence[Image.Image],
    kinds: Sequence[str] = KIND_NAMES,
    gallery: IdentityGallery | None = None,
    batch_size: int = 8,
    sheet_rows: int = 3,
    clean: KindRun | None = None,
) -> SuiteResult:
    """Score the pipeline on the split as drawn (``clean``) and in each kind. ``clean``:
    the pipeline's outputs on the sketches as drawn when the caller already has them
    (``isegan eval`` does), so the split is not synthesised twice."""
    if clean is None:
        clean = run_kind(pipeline, "clean", list(sketches), batch_size)
    runs = [clean]
    for name in tqdm(kinds, desc="robustness", unit="kind"):
        runs.append(run_kind(pipeline, name, render_split(name, sketches, real), batch_size))
    table: dict[str, dict[str, Any]] = {}
    clean_photo = _light_scores(real, clean.photos, ids, gallery)
    for run in runs:
        photo = clean_photo if run is clean else _light_scores(real, run.photos, ids, gallery)
        entry: dict[str, Any] = {
            "family": "clean" if run is clean else kind(run.name).family,
            "description": "the sketch as drawn" if run is clean else kind(run.name).description,
            "photo": photo,
            "sketch": _light_scores(real, run.sketches, ids, gallery),
            "drop_fsim": clean_photo["fsim"] - photo["fsim"],
            "drop_rank1": (
                clean_photo["rank1"] - photo["rank1"] if photo["rank1"] is not None else None
            ),
            "p_s_miou_vs_clean": parsing_agreement(run.sketch_parsing, clean.sketch_parsing)[
                "mean_iou"
            ],
        }
        table[run.name] = entry
    return SuiteResult(table, suite_sheet(runs, real, sheet_rows))


def suite_sheet(runs: Sequence[KindRun], real: Sequence[Image.Image], count: int) -> Image.Image:
    """One row per kind: (rendered sketch | photo) for ``count`` evenly spread test pairs,
    then the real photos."""
    total = len(real)
    picks = np.linspace(0, total - 1, min(count, total)).round().astype(int)
    rows = []
    for run in runs:
        row: list[Image.Image] = []
        for index in picks:
            row += [run.sketches[index], run.photos[index]]
        rows.append(row)
    rows.append([tile for index in picks for tile in (real[index], real[index])])
    captions = [f"{run.name}: (sketch | photo) x {len(picks)}" for run in runs] + ["real photos"]
    return contact_sheet(rows, captions=captions, legend=False)


def suite_markdown(tables: dict[str, dict[str, dict[str, Any]]]) -> str:
    """One table per checkpoint: FSIM, rank-1 and verification of the photo beside the
    rendered sketch, FSIM's drop from clean and P_s agreement."""
    lines = []
    for checkpoint, table in tables.items():
        lines += [
            f"### Robustness: {checkpoint}",
            "",
            "| kind | FSIM photo | FSIM sketch | drop from clean | rank-1 photo (sketch) "
            "| verified @0.6 photo (sketch) | P_s mIoU vs clean |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, entry in table.items():
            photo, sketch = entry["photo"], entry["sketch"]
            lines.append(
                f"| {name} | {photo['fsim']:.4f} | {sketch['fsim']:.4f} | "
                f"{entry['drop_fsim']:+.4f} | {_pair(photo['rank1'], sketch['rank1'])} | "
                f"{_pair(photo['verification_rate'], sketch['verification_rate'])} | "
                f"{entry['p_s_miou_vs_clean']:.3f} |"
            )
        lines.append("")
    return "\n".join(lines)


def _pair(photo: float | None, sketch: float | None) -> str:
    if photo is None or sketch is None:
        return "n/c"
    return f"{photo:.3f} ({sketch:.3f})"
