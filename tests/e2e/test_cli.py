"""The installed ``isegan`` command, run as a user would, on real bundled sketches."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from isegan.model.face_classes import parsing_from_image

ISEGAN = str(Path(sys.executable).with_name("isegan"))


def run(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ISEGAN, *map(str, args)], capture_output=True, text=True, timeout=300, check=False
    )


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def sketches(cufs_dir: Path, test_ids: list[str]) -> list[Path]:
    return [
        cufs_dir / "sketches" / f"{name}.png" for name in (test_ids[0], test_ids[-1], test_ids[5])
    ]


def test_synthesize_writes_photos_and_parsing_maps_reproducibly(
    sketches, generator_checkpoint, parser_checkpoint, tmp_path
) -> None:
    outputs = []
    for attempt in ("first", "second"):
        out = tmp_path / attempt
        result = run(
            "synthesize",
            *sketches,
            "-o",
            out,
            "--checkpoint",
            generator_checkpoint,
            "--parser",
            parser_checkpoint,
            "--device",
            "cpu",
            "--batch-size",
            "2",
            "--extras",
            "--c2pa",
            "off",  # a signature and a watermark's record number differ per run
            "--watermark",
            "off",
        )
        assert result.returncode == 0, result.stderr
        outputs.append(out)
    first = outputs[0]
    for sketch in sketches:
        with Image.open(sketch) as original, Image.open(first / f"{sketch.stem}.png") as photo:
            assert photo.size == original.size and photo.mode == "RGB"
        with Image.open(first / f"{sketch.stem}.parsing.png") as parsing:
            assert parsing.mode == "P" and parsing.size == (200, 250)
            assert parsing_from_image(parsing).max() < 8
        assert (first / f"{sketch.stem}.stage1.png").is_file()
        assert (first / f"{sketch.stem}.sketch-parsing.png").is_file()
    assert len(digests(first)) == 4 * len(sketches)
    assert digests(first) == digests(outputs[1])  # same bytes on a second run


def test_batch_size_does_not_change_the_set_of_outputs(
    sketches, generator_checkpoint, parser_checkpoint, tmp_path
) -> None:
    result = run(
        "synthesize",
        *sketches,
        "-o",
        tmp_path,
        "--checkpoint",
        generator_checkpoint,
        "--parser",
        parser_checkpoint,
        "--batch-size",
        "1",
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"{s.stem}{suffix}" for s in sketches for suffix in (".png", ".parsing.png")
    )
    assert "wrote 3 photo(s)" in result.stdout


def test_parse_writes_a_palette_png(sketches, parser_checkpoint, tmp_path) -> None:
    out = tmp_path / "p.png"
    result = run("parse", sketches[0], "-o", out, "--parser", parser_checkpoint)
    assert result.returncode == 0, result.stderr
    with Image.open(out) as image:
        assert image.mode == "P" and image.size == (200, 250)
        assert np.asarray(image).max() < 8


def test_synthesize_works_with_no_flags(sketches, tmp_path) -> None:
    """The bundled parser and generator: no download, no --checkpoint, no --parser."""
    result = run("synthesize", sketches[0], "-o", tmp_path)
    assert result.returncode == 0, result.stderr
    with Image.open(tmp_path / f"{sketches[0].stem}.png") as photo:
        assert photo.size == (200, 250)
        assert np.asarray(photo, dtype=np.float64).std() > 10  # a picture, not a flat fill


def test_missing_checkpoint_file_is_a_clear_error(sketches, tmp_path) -> None:
    result = run(
        "synthesize", sketches[0], "-o", tmp_path, "--checkpoint", tmp_path / "nope.safetensors"
    )
    assert result.returncode == 2 and "checkpoint not found" in result.stderr


def test_parse_uses_the_bundled_parser_by_default(sketches, tmp_path) -> None:
    out = tmp_path / "p.png"
    result = run("parse", sketches[0], "-o", out)
    assert result.returncode == 0, result.stderr
    with Image.open(out) as image:
        classes = set(np.unique(np.asarray(image)).tolist())
    # A trained parser finds the face's parts in a real sketch.
    assert {0, 1, 2, 3, 4, 6, 7} <= classes


def test_bad_files_give_clear_errors(
    sketches, generator_checkpoint, parser_checkpoint, tmp_path
) -> None:
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(generator_checkpoint.read_bytes()[:5000])
    result = run(
        "synthesize",
        sketches[0],
        "-o",
        tmp_path,
        "--checkpoint",
        broken,
        "--parser",
        parser_checkpoint,
    )
    assert result.returncode == 2 and "corrupt or truncated" in result.stderr
    assert "Traceback" not in result.stderr

    not_image = tmp_path / "notes.png"
    not_image.write_text("hello")
    result = run(
        "synthesize",
        not_image,
        "-o",
        tmp_path,
        "--checkpoint",
        generator_checkpoint,
        "--parser",
        parser_checkpoint,
    )
    assert result.returncode == 2 and "not a readable image" in result.stderr

    result = run(
        "synthesize",
        tmp_path / "missing.png",
        "-o",
        tmp_path,
        "--checkpoint",
        generator_checkpoint,
        "--parser",
        parser_checkpoint,
    )
    assert result.returncode == 2 and "no such file" in result.stderr


def test_clashing_output_names_are_refused(
    sketches, tmp_path, generator_checkpoint, parser_checkpoint
) -> None:
    copy = tmp_path / "other" / sketches[0].name
    copy.parent.mkdir()
    copy.write_bytes(sketches[0].read_bytes())
    result = run(
        "synthesize",
        sketches[0],
        copy,
        "-o",
        tmp_path / "out",
        "--checkpoint",
        generator_checkpoint,
        "--parser",
        parser_checkpoint,
    )
    assert result.returncode == 2 and "would both write" in result.stderr


def test_version_flag() -> None:
    result = run("--version")
    assert result.returncode == 0 and result.stdout.startswith("isegan 0.")
