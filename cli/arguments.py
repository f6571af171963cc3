"""Argument types shared by the CLI and the scripts beside it."""

from __future__ import annotations

import argparse
from pathlib import Path


def labelled_path(text: str) -> tuple[str, Path]:
    """``LABEL=PATH`` -> (label, path). The label ends at the first ``=``, so a path may
    contain one; both parts must be non-empty."""
    label, separator, path = text.partition("=")
    if not separator or not label or not path:
        raise argparse.ArgumentTypeError(f"expected LABEL=PATH, got {text!r}")
    return label, Path(path)
