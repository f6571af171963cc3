"""A missing optional component is one line naming what to install, exit status 2, no
traceback. MediaPipe is hidden from the subprocess by a package on PYTHONPATH that
refuses to import, as an install without it would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ISEGAN = str(Path(sys.executable).with_name("isegan"))


def _without_mediapipe(tmp_path: Path) -> dict[str, str]:
    blocker = tmp_path / "blocked" / "mediapipe"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('mediapipe is not installed')\n")
    return {**os.environ, "PYTHONPATH": str(blocker.parent)}


def test_align_without_mediapipe_names_the_install(cufs_dir, test_ids, tmp_path) -> None:
    sketch = cufs_dir / "sketches" / f"{test_ids[0]}.png"
    result = subprocess.run(
        [ISEGAN, "synthesize", str(sketch), "-o", str(tmp_path / "out"), "--align",
         "--device", "cpu"],
        env=_without_mediapipe(tmp_path), capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "pip install" in lines[0] and "mediapipe==0.10.14" in lines[0]
