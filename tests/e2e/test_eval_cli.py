"""``isegan eval`` end to end on real bundled pairs (checkpoints written by the tests)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from isegan.training.evaluation.evaluate import greyscale
from isegan.training.evaluation.quality.fsim import fsim
from tests.e2e.test_cli import run


@pytest.fixture(scope="module")
def six(cufs_dir, test_ids, tmp_path_factory):
    root = tmp_path_factory.mktemp("six")
    ids = test_ids[:3] + test_ids[-3:]
    for kind in ("photos", "sketches"):
        (root / kind).mkdir()
        for i in ids:
            shutil.copy(cufs_dir / kind / f"{i}.png", root / kind / f"{i}.png")
    (root / "six.txt").write_text("\n".join(ids) + "\n")
    return root, ids


def test_eval_two_folders(six, tmp_path) -> None:
    root, ids = six
    result = run(
        "eval",
        "--real",
        root / "photos",
        "--fake",
        root / "sketches",
        "--out",
        tmp_path,
        "--nlda-repeats",
        "3",
    )
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    scores = metrics["results"]["fake"]
    expected = np.mean([
        fsim(greyscale(Image.open(root / "photos" / f"{i}.png")), greyscale(Image.open(root / "sketches" / f"{i}.png")))
        for i in ids
    ])  # fmt: skip
    assert scores["fsim"] == pytest.approx(expected, abs=1e-9)
    assert scores["lpips_alex"] is None and scores["fid"] is None  # no weights: not computed
    assert 0 <= scores["nlda"] <= 100 and scores["nlda_protocol"]["repeats"] == 3
    report = (tmp_path / "report.md").read_text()
    assert "FSIM ↑" in report and "n/c" in report and f"{expected:.4f}" in report
    identity = scores["identity"]  # sketches identified among the six real photos
    assert identity["gallery"] == identity["queries"] == 6
    assert 0 <= identity["rank1"] <= identity["rank5"] <= 1
    assert identity["mean_genuine_distance"] < identity["mean_impostor_distance"]
    assert {"nlda_best", "nlda_face"} <= set(scores)
    assert scores["nlda_best"] >= scores["nlda"]
    assert "rank-1 ↑" in report and "NLDA face, standardised (%)" in report
    backdrop = scores["backdrop"]  # white sketch paper never has CUHK's blue backdrop
    assert backdrop["real_kind_counts"] == {"blue": 3, "light": 3}  # 3 CUHK, 3 AR
    assert backdrop["kind_agreement_by_real_kind"]["blue"] == 0.0
    assert "Backdrop:" in report and "colour distance ↓" in report
    assert scores["periodic_texture"] > 0 and "periodic texture ↓ (real photos" in report


def test_eval_checkpoint_on_a_split(six, generator_checkpoint, parser_checkpoint, tmp_path) -> None:
    root, ids = six
    result = run(
        "eval",
        "--checkpoint",
        generator_checkpoint,
        "--parser",
        parser_checkpoint,
        "--data",
        root,
        "--split",
        "six",
        "--out",
        tmp_path,
        "--nlda-repeats",
        "2",
        "--device",
        "cpu",
    )
    assert result.returncode == 0, result.stderr
    name = generator_checkpoint.parent.name
    assert sorted(p.stem for p in (tmp_path / name / "photos").iterdir()) == sorted(ids)
    with Image.open(tmp_path / name / "photos" / f"{ids[0]}.png") as photo:
        assert photo.size == (200, 250)
    assert (tmp_path / name / "grid.png").is_file()
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    entry = metrics["results"][name]
    assert set(entry) >= {"model_id", "final", "stage1"} and len(entry["model_id"]) == 64
    assert metrics["data"]["num_pairs"] == 6
    report = (tmp_path / "report.md").read_text()
    assert "(stage-II output)" in report and "sketch used as the photo" in report
    sketch = metrics["results"]["sketch_as_photo"]["final"]["identity"]
    assert sketch["queries"] == 6 and sketch["gallery"] == 6
    ladder = metrics["results"]["calibration"]
    itself = ladder["real photo itself"]
    assert itself["identity"]["rank1"] == 1.0 and itself["fsim"] == pytest.approx(1.0)
    assert itself["backdrop"]["kind_agreement"] == 1.0
    assert itself["periodic_texture"] == pytest.approx(itself["periodic_texture_real"])
    assert len(ladder) >= 4 and "calibration: real photo, Gaussian blur radius 2" in report
    assert metrics["protocol"]["identity"]["recognizer"]["sha256"]
    agreement = entry["intermediate_parsing"]
    assert 0 <= agreement["mean_iou"] <= 1 and set(agreement["per_class_iou"]) >= {"skin", "hair"}
    assert "P_int mIoU vs P_p" in report


def test_eval_without_identity(six, tmp_path) -> None:
    root, _ = six
    result = run(
        "eval", "--real", root / "photos", "--fake", root / "sketches", "--out", tmp_path,
        "--nlda-repeats", "2", "--no-identity",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    scores = json.loads((tmp_path / "metrics.json").read_text())["results"]["fake"]
    assert scores["identity"] is None
    assert "n/c: no face-recognition network" in (tmp_path / "report.md").read_text()


def test_eval_needs_inputs(tmp_path) -> None:
    result = run("eval", "--out", tmp_path)
    assert result.returncode == 2 and "--checkpoint" in result.stderr
