"""Tests that need an optional extra (MediaPipe, facer, ONNX Runtime, Chromium, the CUFS
data): without it they skip, naming the command that installs it, so `pip install -e
'.[dev]'` followed by `pytest` runs green. Under ``CI=true`` a missing extra fails the
test instead: CI installs everything, and must never pass by skipping."""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import NoReturn

import pytest

FULL_INSTALL = (
    "pip install -e '.[dev,labels,facer,identity]' && pip install --no-deps mediapipe==0.10.14"
)
INSTALL = {
    "mediapipe": f"{FULL_INSTALL} (MediaPipe: the labels extra)",
    "onnxruntime": "pip install -e '.[dev]'",
    "chromium": "scripts/install-test-browser.sh, or set ISEGAN_TEST_CHROMIUM to a Chromium",
    "cufs": "put the CUFS pairs at ../shared/data/cufs beside the repository, or set "
    "ISEGAN_CUFS_DIR",
}


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def missing(extra: str, detail: str = "") -> NoReturn:
    """Skip (or, under CI=true, fail) the current test or module: ``extra`` is absent."""
    install = INSTALL.get(extra, f"pip install {extra}")
    reason = f"needs {extra}{f' ({detail})' if detail else ''}: {install}"
    if in_ci():
        pytest.fail(f"{reason} [CI=true: a missing extra fails instead of skipping]")
    pytest.skip(reason, allow_module_level=True)


def require_module(name: str) -> ModuleType:
    """Import an optional module, or skip/fail as :func:`missing` says."""
    try:
        return importlib.import_module(name)
    except ImportError:
        missing(name)
