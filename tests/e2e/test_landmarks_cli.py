"""`isegan synthesize --landmarks mediapipe`: a real CUFS sketch moved on a page is aligned
with MediaPipe's FaceMesh, and the audit record names the backend; with --url the flag is
refused (the service's setting decides)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from isegan.model.alignment.align import place_on_page
from tests.e2e.installation import run_isegan
from tests.extras import require_module


def test_landmarks_flag_reaches_the_record(
    cufs_dir: Path, test_ids: list[str], tmp_path: Path
) -> None:
    require_module("mediapipe")
    with Image.open(cufs_dir / "sketches" / f"{test_ids[0]}.png") as sketch:
        page, _ = place_on_page(sketch, np.random.default_rng(0))
    page_file = tmp_path / "page.png"
    page.save(page_file)
    data = tmp_path / "installation"
    made = run_isegan(
        "synthesize", page_file, "-o", tmp_path / "out", "--landmarks", "mediapipe",
        "--align", "true", "--c2pa", "off", "--watermark", "off", data_dir=data,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    with Image.open(tmp_path / "out" / "page.png") as photo:
        assert photo.size == (200, 250)
    records = [json.loads(line) for line in (data / "audit.jsonl").read_text().splitlines()]
    assert records[-1]["inference"]["landmarks"] == "mediapipe"

    remote = run_isegan(
        "synthesize", page_file, "-o", tmp_path / "remote", "--landmarks", "mediapipe",
        "--url", "http://127.0.0.1:9", data_dir=data,
    )  # fmt: skip
    assert remote.returncode != 0 and "ISEGAN_LANDMARKS" in remote.stderr
