"""The code version recorded in checkpoints and provenance records."""

from __future__ import annotations

import functools
import os
import subprocess
from importlib import metadata
from pathlib import Path


@functools.cache
def code_version() -> str:
    """Package version, plus the git commit (and '.dirty') when run from a checkout, or
    the commit a container image was built from (``ISEGAN_BUILD_COMMIT``)."""
    try:
        version = metadata.version("isegan")
    except metadata.PackageNotFoundError:
        version = "0+unknown"
    commit = _git_commit(Path(__file__).resolve().parent) or os.environ.get("ISEGAN_BUILD_COMMIT")
    return f"{version}+g{commit}" if commit else version


def _git_commit(where: Path) -> str | None:
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{sha}.dirty" if dirty else sha or None
