"""Fixtures of the fault tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def sketch_bytes(cufs_dir: Path, test_ids: list[str]) -> bytes:
    return (cufs_dir / "sketches" / f"{test_ids[0]}.png").read_bytes()
