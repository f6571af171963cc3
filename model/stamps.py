"""The stamps every artefact carries: when it was made (UTC) and which file it came from
(SHA-256). One helper each, so checkpoints, provenance records, audit entries and the
installation all write the same formats."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path


def utc_now() -> str:
    """Now, as ISO 8601 in UTC to the millisecond with a ``Z``: 2026-12-02T09:30:00.123Z."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def file_sha256(path: str | Path) -> str:
    """A file's SHA-256 (hex), read in 1 MiB blocks so large weights need no memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
