"""The installed ``isegan`` command run as a fresh user would run it: its own
installation folder (``ISEGAN_DATA_DIR``) and no signing key taken from the
environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ISEGAN = str(Path(sys.executable).with_name("isegan"))


def run_isegan(*args: object, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ISEGAN_DATA_DIR": str(data_dir)}
    env.pop("ISEGAN_C2PA_KEY", None)
    env.pop("ISEGAN_C2PA_CERT_CHAIN", None)
    return subprocess.run(
        [ISEGAN, *map(str, args)], capture_output=True, text=True, timeout=300, check=False,
        env=env,
    )  # fmt: skip
