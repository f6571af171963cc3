"""Shared fixtures: the bundled CUFS data and small checkpoints the tests write themselves.

No pretrained weights can be had here, so every checkpoint below is randomly initialised
by the test session and saved in the real on-disk format.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from isegan.model.config import IseganConfig
from tests.extras import missing
from tests.helpers import TINY_GENERATOR, write_generator_checkpoint, write_parser_checkpoint

REPO_ROOT = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests by folder (tests/e2e -> e2e) so `-m "not e2e"` works; skip tests
    marked ``gpu`` where there is no CUDA device (no extra can install one, so this skip
    holds under CI=true too)."""
    import torch

    no_cuda = pytest.mark.skip(reason="needs a CUDA device (run on a GPU host: -m gpu)")
    for item in items:
        if "e2e" in Path(str(item.fspath)).parts:
            item.add_marker(pytest.mark.e2e)
        if item.get_closest_marker("gpu") is not None and not torch.cuda.is_available():
            item.add_marker(no_cuda)


@pytest.fixture(scope="session", autouse=True)
def installation_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every service and CLI run of the session uses a throwaway installation (its id,
    signing key and record numbers), never the user's own data folder."""
    folder = tmp_path_factory.mktemp("installation")
    previous = os.environ.get("ISEGAN_DATA_DIR")
    os.environ["ISEGAN_DATA_DIR"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("ISEGAN_DATA_DIR", None)
    else:
        os.environ["ISEGAN_DATA_DIR"] = previous


@pytest.fixture(scope="session")
def cufs_dir() -> Path:
    """The bundled CUFS pairs: $ISEGAN_CUFS_DIR, else ../shared/data/cufs beside the repo."""
    path = Path(os.environ.get("ISEGAN_CUFS_DIR", REPO_ROOT.parent / "shared" / "data" / "cufs"))
    if not (path / "test.txt").is_file():
        missing("cufs", f"nothing at {path}")
    return path


@pytest.fixture(scope="session")
def test_ids(cufs_dir: Path) -> list[str]:
    return (cufs_dir / "test.txt").read_text().split()


@pytest.fixture(scope="session")
def cufs_sketches(cufs_dir: Path, test_ids: list[str]) -> list[Image.Image]:
    """Three real test sketches (one CUHK, one AR, one more CUHK), loaded into memory."""
    chosen = [test_ids[0], test_ids[-1], test_ids[1]]
    images = []
    for name in chosen:
        with Image.open(cufs_dir / "sketches" / f"{name}.png") as image:
            images.append(image.convert("RGB"))
    return images


@pytest.fixture(scope="session")
def generator_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised two-stage checkpoint at ngf=8 (written by the test session)."""
    path = tmp_path_factory.mktemp("ckpt") / "generator.safetensors"
    return write_generator_checkpoint(path, IseganConfig(generator=TINY_GENERATOR))


@pytest.fixture(scope="session")
def parser_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised 8-class BiSeNet at width 8 (written by the test session)."""
    return write_parser_checkpoint(tmp_path_factory.mktemp("ckpt") / "parser.safetensors")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 64 KiB tmpfs, for full-disk tests. Mounting needs root: elsewhere the test
    skips with that reason, and under CI=true it fails (CI must run it)."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if mounted.returncode != 0:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must be able to mount a tmpfs (root): {mounted.stderr}")
        pytest.skip(f"mounting a tmpfs needs root: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)
