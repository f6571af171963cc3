"""The committed default generator: it loads, matches its recorded hash, and turns a real
test sketch into a photo closer to the real photo than the sketch itself is."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from isegan.model.pipeline import FacePipeline
from isegan.model.pretrained import default_generator_path, default_parser_path
from isegan.model.stamps import file_sha256
from isegan.training.evaluation.evaluate import greyscale
from isegan.training.evaluation.quality.fsim import fsim

CARD = Path(__file__).resolve().parents[2] / "model" / "pretrained" / "generator.json"


def test_default_generator_loads_and_matches_its_record() -> None:
    path = default_generator_path()
    assert path is not None, "the package must ship model/pretrained/generator.safetensors"
    record = json.loads(CARD.read_text())
    assert file_sha256(path) == record["model_id"]
    pipeline = FacePipeline.from_files(path, default_parser_path(), device="cpu")
    assert pipeline.two_stage and pipeline.model_id == record["model_id"]
    metadata = pipeline.metadata
    assert metadata is not None and metadata.training is not None
    assert metadata.training["preset"] == "full"
    assert metadata.training["perceptual_loss"].startswith("off")
    assert metadata.data is not None and metadata.data.split == "train"


def test_default_generator_beats_the_sketch_on_fsim(cufs_dir, test_ids) -> None:
    pipeline = FacePipeline.from_files(
        default_generator_path(), default_parser_path(), device="cpu"
    )
    chosen = test_ids[::30]  # 4 test pairs, CUHK and AR
    sketches = [Image.open(cufs_dir / "sketches" / f"{i}.png").convert("RGB") for i in chosen]
    for pair_id, sketch, result in zip(chosen, sketches, pipeline(sketches), strict=True):
        real = greyscale(Image.open(cufs_dir / "photos" / f"{pair_id}.png"))
        synthesised = fsim(real, greyscale(result.photo))
        baseline = fsim(real, greyscale(sketch))
        assert synthesised > baseline, f"{pair_id}: FSIM {synthesised:.4f} <= sketch {baseline:.4f}"
