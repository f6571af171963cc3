"""A real headless Chromium (Debian's package) driven by Playwright, and a live service.

Playwright's own browser download cannot run here, so the tests launch the system
Chromium: $ISEGAN_TEST_CHROMIUM, else `chromium` on PATH (scripts/install-test-browser.sh
installs it). Screenshots go to $ISEGAN_TEST_ARTIFACTS (default test-artifacts/browser).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    Request,
    sync_playwright,
)

from tests.conftest import REPO_ROOT
from tests.extras import missing
from tests.service.conftest import service_settings
from tests.service.server import running_server

#: Flags that keep Chromium from calling home on a closed network (see the machine notes).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str:
    candidates = [os.environ.get("ISEGAN_TEST_CHROMIUM", "")]
    candidates += [shutil.which(name) or "" for name in ("chromium", "chromium-browser")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    missing("chromium", "no Chromium binary found for the browser tests")


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    path = Path(os.environ.get("ISEGAN_TEST_ARTIFACTS", REPO_ROOT / "test-artifacts")) / "browser"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """Per module, not per session: Playwright's sync API keeps an asyncio loop running
    on the main thread while it is open, which would break later tests' asyncio.run()."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def page_url(generator_checkpoint: Path, parser_checkpoint: Path) -> Iterator[str]:
    """The service on the session's random-weight test checkpoints, no API keys."""
    settings = service_settings(generator_checkpoint, parser_checkpoint, None)
    with running_server(settings) as url:
        yield url


class PageWatch:
    """Everything a page asked for and every script error, to assert on afterwards."""

    def __init__(self, page: Page) -> None:
        self.requests: list[str] = []
        self.blocked_by_csp: list[str] = []
        self.script_errors: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("requestfailed", self._failed)
        page.on("pageerror", lambda error: self.script_errors.append(str(error)))

    def _failed(self, request: Request) -> None:
        if request.failure and "csp" in request.failure.lower():  # "csp", ERR_BLOCKED_BY_CSP
            self.blocked_by_csp.append(request.url)

    def foreign_requests(self, origin: str) -> list[str]:
        """Requests for anything not from ``origin`` (blob: and data: are in-page)."""
        return [
            url for url in self.requests if not url.startswith((origin + "/", "blob:", "data:"))
        ]

    def foreign_requests_sent(self, origin: str) -> list[str]:
        """Foreign requests the page's Content-Security-Policy did not stop."""
        return [url for url in self.foreign_requests(origin) if url not in self.blocked_by_csp]


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile per test: its own session storage and downloads."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    yield context
    context.close()
