"""The robustness suite of ``isegan eval``, on real pairs with a checkpoint the test writes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from isegan.model.identity.face_recognition import load_face_recognizer
from isegan.model.pipeline import FacePipeline
from isegan.training.evaluation.evaluate import greyscale
from isegan.training.evaluation.identity import IdentityGallery
from isegan.training.evaluation.quality.fsim import fsim
from isegan.training.robustness.suite import parse_kinds, render_split, robustness_suite
from tests.e2e.test_cli import run
from tests.e2e.test_eval_cli import six  # noqa: F401  (the six-pair fixture)


def test_kinds_are_parsed_and_checked() -> None:
    assert len(parse_kinds("all")) == 10
    assert parse_kinds("faint, ink") == ("faint", "ink")
    with pytest.raises(ValueError, match="crayon"):
        parse_kinds("faint,crayon")


def test_suite_scores_photo_and_rendered_sketch_per_kind(
    six,  # noqa: F811
    generator_checkpoint,
    parser_checkpoint,
) -> None:
    root, ids = six
    sketches = [Image.open(root / "sketches" / f"{i}.png").convert("RGB") for i in ids]
    real = [Image.open(root / "photos" / f"{i}.png").convert("RGB") for i in ids]
    pipeline = FacePipeline.from_files(generator_checkpoint, parser_checkpoint, device="cpu")
    gallery = IdentityGallery.from_folder(load_face_recognizer(None), root / "photos")
    result = robustness_suite(
        pipeline, ids=ids, sketches=sketches, real=real, kinds=("faint", "photo_edges"),
        gallery=gallery, batch_size=4, sheet_rows=2,
    )  # fmt: skip
    table = result.table
    assert list(table) == ["clean", "faint", "photo_edges"]
    assert table["clean"]["drop_fsim"] == 0 and table["clean"]["p_s_miou_vs_clean"] == 1
    faint = render_split("faint", sketches, real)
    expected = np.mean([fsim(greyscale(a), greyscale(b)) for a, b in zip(real, faint, strict=True)])
    assert table["faint"]["sketch"]["fsim"] == pytest.approx(expected, abs=1e-12)
    photos = [r.photo for r in pipeline(faint, align="false")]
    expected = np.mean(
        [fsim(greyscale(a), greyscale(b)) for a, b in zip(real, photos, strict=True)]
    )
    assert table["faint"]["photo"]["fsim"] == pytest.approx(expected, abs=1e-12)
    assert table["faint"]["drop_fsim"] == pytest.approx(
        table["clean"]["photo"]["fsim"] - table["faint"]["photo"]["fsim"]
    )
    for entry in table.values():
        assert 0 <= entry["photo"]["rank1"] <= 1 and 0 <= entry["sketch"]["rank1"] <= 1
        assert 0 <= entry["p_s_miou_vs_clean"] <= 1
    assert table["photo_edges"]["family"] == "style" and table["faint"]["family"] == "photometric"
    # one row per kind (clean included) and one of real photos; 2 pairs x (sketch | photo)
    tile_w, tile_h = sketches[0].size
    assert result.sheet.size == (4 * tile_w, 4 * (tile_h + 14))


def test_eval_cli_writes_the_suite(six, generator_checkpoint, parser_checkpoint, tmp_path) -> None:  # noqa: F811
    """On a slice of the split given by --ids, as a validation slice is scored."""
    root, ids = six
    (tmp_path / "slice.txt").write_text("\n".join(ids[1:5]) + "\n")
    result = run(
        "eval", "--checkpoint", generator_checkpoint, "--parser", parser_checkpoint,
        "--data", root, "--split", "six", "--ids", tmp_path / "slice.txt", "--out", tmp_path,
        "--no-calibration",
        "--nlda-repeats", "2", "--robustness", "blur,ink", "--canonicalise", "on",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["data"]["num_pairs"] == 4 and metrics["data"]["split"] == "slice"
    results = metrics["results"]
    name = generator_checkpoint.parent.name  # a checkpoint called generator: its folder's name
    entry = results[name]
    assert entry["canonicalise"] is True
    assert set(entry["robustness"]) == {"clean", "blur", "ink"}
    assert entry["robustness"]["clean"]["photo"]["fsim"] == pytest.approx(entry["final"]["fsim"])
    report = (tmp_path / "report.md").read_text()
    assert f"### Robustness: {name}" in report and "| ink |" in report
    assert Image.open(tmp_path / name / "robustness.png").size[0] > 0
    unknown = run("eval", "--checkpoint", generator_checkpoint, "--data", root, "--split", "six",
                  "--out", tmp_path / "x", "--robustness", "crayon")  # fmt: skip
    assert unknown.returncode == 2 and "crayon" in unknown.stderr
