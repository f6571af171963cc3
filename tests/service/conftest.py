"""A live service on the session's test checkpoints (random weights the tests write)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from isegan.service.settings import ServiceSettings
from tests.service.server import running_server


def service_settings(
    generator_checkpoint: Path, parser_checkpoint: Path, audit_log: Path | None, **extra: object
) -> ServiceSettings:
    """Test settings: small limits so the limit tests need no huge files."""
    values: dict[str, object] = {
        "checkpoint": generator_checkpoint,
        "parser": parser_checkpoint,
        "device": "cpu",
        "audit_log": audit_log,
        "max_upload_bytes": 2 * 1024 * 1024,
        "max_pixels": 4_000_000,
        "min_side": 32,
        "max_batch_wait_ms": 20,
    }
    values.update(extra)
    return ServiceSettings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def audit_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("audit") / "audit.jsonl"


@pytest.fixture(scope="module")
def service_url(
    generator_checkpoint: Path, parser_checkpoint: Path, audit_log: Path
) -> Iterator[str]:
    settings = service_settings(generator_checkpoint, parser_checkpoint, audit_log)
    with running_server(settings) as url:
        yield url


@pytest.fixture(scope="session")
def sketch_bytes(cufs_dir: Path, test_ids: list[str]) -> bytes:
    return (cufs_dir / "sketches" / f"{test_ids[0]}.png").read_bytes()
