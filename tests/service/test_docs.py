"""docs/service.md documents every setting, so the table cannot drift from the code."""

from __future__ import annotations

from isegan.service.settings import ServiceSettings
from tests.conftest import REPO_ROOT


def test_every_setting_is_documented() -> None:
    text = (REPO_ROOT / "docs" / "service.md").read_text()
    missing = [
        name for name in ServiceSettings.model_fields if f"`ISEGAN_{name.upper()}`" not in text
    ]
    assert not missing, f"docs/service.md lacks {missing}"
