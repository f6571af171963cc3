"""A missing optional extra skips a test locally, naming its install, and fails it under
CI=true."""

from __future__ import annotations

import pytest

from tests.extras import INSTALL, missing, require_module


def test_a_missing_extra_skips_locally_and_names_the_install(monkeypatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="install-test-browser"):
        missing("chromium")
    assert "install-test-browser" in INSTALL["chromium"]


def test_a_missing_extra_fails_under_ci(monkeypatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        require_module("isegan_no_such_module")


def test_a_present_module_is_returned(monkeypatch) -> None:
    monkeypatch.setenv("CI", "true")
    assert require_module("json").dumps([]) == "[]"
