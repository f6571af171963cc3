"""Where the command line finds weights when the user names none."""

from __future__ import annotations

from pathlib import Path

from isegan.cli.images import InputError


def require_weights(given: Path | None, flag: str, what: str) -> Path:
    """The user's file, or a clear error: no trained default ships with this release yet."""
    if given is not None:
        return given
    raise InputError(
        f"no {what} given and this release ships no trained default {what} yet: pass {flag} FILE"
    )
