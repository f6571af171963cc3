"""Issue 22's bar, as a user runs it: a photo from `isegan synthesize` with no key set is
signed with the case fields; re-saved as JPEG 75 without metadata, `isegan verify` still
names its installation and record, and `isegan audit` finds and exports the case."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from tests.e2e.installation import run_isegan


def test_unconfigured_synthesize_signs_watermarks_and_records_the_case(
    cufs_dir: Path, test_ids: list[str], tmp_path: Path
) -> None:
    data = tmp_path / "installation"
    sketch = cufs_dir / "sketches" / f"{test_ids[2]}.png"
    made = run_isegan(
        "synthesize", sketch, "-o", tmp_path / "out", "--align", "false",
        "--case-id", "CASE-22", "--evidence-id", "E1", "--examiner", "J. Doe",
        data_dir=data,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    photo = tmp_path / "out" / f"{sketch.stem}.png"

    checked = run_isegan("verify", photo, "--json", "--no-watermark", data_dir=data)
    result = json.loads(checked.stdout)[str(photo)]
    assert checked.returncode == 3 and result["verdict"] == "untrusted"  # a valid manifest
    assert result["provenance"]["case_id"] == "CASE-22"
    assert result["provenance"]["examiner"] == "J. Doe"
    record = result["provenance"]["watermark"]["record"]
    root = data / "credentials" / "isegan-root.pem"
    trusted = run_isegan("verify", photo, "--trust", root, "--no-watermark", data_dir=data)
    assert trusted.returncode == 0 and "verdict: trusted" in trusted.stdout

    shared = tmp_path / "shared.jpg"
    with Image.open(photo) as image:
        image.convert("RGB").save(shared, "JPEG", quality=75)  # no XMP, no C2PA
    found = run_isegan("verify", shared, data_dir=data)
    installation = json.loads((data / "installation.json").read_text())["id"]
    assert found.returncode == 5, found.stdout  # no credentials ...
    assert (
        f"no credentials; watermark: synthetic, isegan installation {installation}, "
        f"record {record}" in found.stdout
    )  # ... but the watermark names the record

    log = data / "audit.jsonl"
    listed = run_isegan("audit", "find", log, "--record", record, data_dir=data)
    assert listed.returncode == 0 and json.loads(listed.stdout)["custody"]["case_id"] == "CASE-22"
    exported = run_isegan(
        "audit", "export", log, "--case", "CASE-22", "-o", tmp_path / "x", data_dir=data
    )
    assert exported.returncode == 0, exported.stderr
    assert (tmp_path / "x" / "records.jsonl").read_text().count("\n") == 1
    report = json.loads((tmp_path / "x" / "chain-report.json").read_text())
    assert report["chain_intact_through_last_record"] is True
    assert json.loads((tmp_path / "x" / "model.json").read_text())["model_ids"]
    assert run_isegan("audit", "find", log, "--case", "OTHER", data_dir=data).returncode == 1


def test_a_bad_custody_flag_is_one_clear_line(cufs_dir: Path, test_ids, tmp_path) -> None:
    sketch = cufs_dir / "sketches" / f"{test_ids[2]}.png"
    result = run_isegan(
        "synthesize", sketch, "-o", tmp_path, "--case-id", "two words", data_dir=tmp_path / "d"
    )
    assert result.returncode == 2
    assert "--case-id" in result.stderr and "may hold only" in result.stderr


def test_canonicalisation_is_recorded_in_the_audit_record(
    cufs_dir: Path, test_ids: list[str], tmp_path: Path
) -> None:
    data = tmp_path / "installation"
    sketch = cufs_dir / "sketches" / f"{test_ids[3]}.png"
    for choice in ("on", "off"):
        made = run_isegan(
            "synthesize", sketch, "-o", tmp_path / choice, "--align", "false", "--c2pa", "off",
            "--watermark", "off", "--canonicalise", choice, data_dir=data,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
    records = [json.loads(line) for line in (data / "audit.jsonl").read_text().splitlines()]
    assert [r["options"]["canonicalise"] for r in records] == [True, False]
    assert [r["inference"]["canonicalise"] for r in records] == [True, False]
    wrong = run_isegan(
        "synthesize", sketch, "-o", tmp_path / "x", "--canonicalise", "maybe", data_dir=data
    )
    assert wrong.returncode == 2 and "--canonicalise" in wrong.stderr
    remote = run_isegan(
        "synthesize", sketch, "-o", tmp_path / "x", "--url", "http://127.0.0.1:9",
        "--canonicalise", "on", data_dir=data,
    )  # fmt: skip
    assert remote.returncode == 2 and "ISEGAN_CANONICALISE" in remote.stderr


def test_colour_hints_and_variations_are_files_and_records(
    cufs_dir: Path, test_ids: list[str], tmp_path: Path
) -> None:
    data = tmp_path / "installation"
    sketch = cufs_dir / "sketches" / f"{test_ids[4]}.png"
    made = run_isegan(
        "synthesize", sketch, "-o", tmp_path / "out", "--align", "false", "--c2pa", "off",
        "--hair-colour", "dark-brown", "--skin-tone", "3", "--variations", "2", data_dir=data,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    written = sorted(path.name for path in (tmp_path / "out").iterdir())
    stem = sketch.stem
    assert written == sorted(
        [f"{stem}.png", f"{stem}.parsing.png", f"{stem}.variation-1.png", f"{stem}.variation-2.png"]
    )
    record = json.loads((data / "audit.jsonl").read_text().splitlines()[-1])
    assert record["options"]["hair_colour"] == "dark-brown" and record["options"]["variations"] == 2
    assert record["colour"]["hints"]["skin"] == {"value": "3", "rgb": "#b88c6c"}
    assert set(record["outputs"]) == {"photo", "parsing", "variation_1", "variation_2"}
    labels = [record["colour"]["variations"][f"variation_{i}"]["label"] for i in (1, 2)]
    assert labels[0] != labels[1] and all("hair dark-brown" in label for label in labels)


def test_a_bad_colour_flag_is_one_clear_line(cufs_dir: Path, test_ids, tmp_path) -> None:
    sketch = cufs_dir / "sketches" / f"{test_ids[2]}.png"
    for flags, needle in (
        (["--eye-colour", "violet"], "--eye-colour: 'violet' is not one of brown, hazel"),
        (["--variations", "99"], "--variations: 99 is not between 0 and 32"),
    ):
        result = run_isegan("synthesize", sketch, "-o", tmp_path, *flags, data_dir=tmp_path / "d")
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1, result.stderr
        assert lines[0].startswith(f"isegan synthesize: error: {needle}")
