"""The LABEL=PATH argument type the comparison scripts share."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from isegan.cli.arguments import labelled_path


def test_label_and_path_split_at_the_first_equals_sign() -> None:
    assert labelled_path("full=runs/a=b/generator.safetensors") == (
        "full",
        Path("runs/a=b/generator.safetensors"),
    )


@pytest.mark.parametrize("text", ["runs/generator.safetensors", "=path", "label="])
def test_a_missing_label_or_path_is_an_argument_error(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="LABEL=PATH"):
        labelled_path(text)
