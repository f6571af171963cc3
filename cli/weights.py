"""Where the command line finds weights when the user names none."""

from __future__ import annotations

from pathlib import Path

from isegan.cli.images import InputError


def require_weights(given: Path | None, flag: str, what: str, default: Path | None = None) -> Path:
    """The user's file, else the packaged default, else a clear error."""
    if given is not None:
        return given
    if default is not None:
        return default
    raise InputError(
        f"no {what} given and this installation ships no trained default {what}: pass {flag} FILE"
    )
