"""The examiner's page when API keys are configured: public page, key asked for once.

Its own module: it runs its own service (with a key), and one process holds one model
per device, so it cannot overlap the keyless service of test_examiner_page.py.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
from playwright.sync_api import BrowserContext, expect

from isegan.service.settings import ServiceSettings
from tests.browser.test_examiner_page import open_page, wait_for_result
from tests.service.conftest import service_settings
from tests.service.server import running_server


def test_api_key_is_asked_for_once_and_kept_out_of_the_page(
    context: BrowserContext,
    generator_checkpoint: Path,
    parser_checkpoint: Path,
    cufs_dir: Path,
    test_ids: list[str],
    artifacts_dir: Path,
) -> None:
    key = "examiner-key-" + hashlib.sha256(b"test").hexdigest()[:16]
    settings: ServiceSettings = service_settings(
        generator_checkpoint,
        parser_checkpoint,
        None,
        api_key_sha256=[hashlib.sha256(key.encode()).hexdigest()],
    )
    with running_server(settings) as url:
        # The page and its files are public; the API is not.
        for path in ("/", "/ui/examiner.js", "/ui/examiner.css"):
            response = httpx.get(url + path)
            assert response.status_code == 200, path
            assert key not in response.text
        assert httpx.get(url + "/v1/model").status_code == 401

        page, watch = open_page(context, url)
        expect(page.locator("#service-status")).to_contain_text("requires an API key")
        sketch = cufs_dir / "sketches" / f"{test_ids[0]}.png"
        page.set_input_files("#sketch-input", str(sketch))
        page.get_by_role("button", name="Synthesise").click()
        expect(page.get_by_role("alert")).to_contain_text("An API key is needed")
        assert page.evaluate("document.activeElement.id") == "api-key"
        page.screenshot(path=artifacts_dir / "api-key-needed.png", full_page=True)

        page.get_by_label("API key").fill(key)
        page.get_by_role("button", name="Use key").click()
        expect(page.locator("#key-state")).to_have_text("A key is set for this browser tab.")
        assert page.get_by_label("API key").input_value() == ""  # not left in the form
        page.get_by_role("button", name="Synthesise").click()
        wait_for_result(page)

        # Entered once per session: a reload in the same tab keeps it, in storage only.
        page.reload()
        expect(page.locator("#service-status")).to_contain_text("Ready on")
        assert page.evaluate("sessionStorage.getItem('isegan.apiKey')") == key
        assert page.evaluate("localStorage.length") == 0
        assert key not in page.content()

        page.get_by_role("button", name="Forget key").click()
        assert page.evaluate("sessionStorage.getItem('isegan.apiKey')") is None
        assert watch.script_errors == []

        # The API docs open without a key too, and offer to take one for "Try it out".
        page.goto(url + "/docs")
        expect(page.get_by_role("button", name="Authorize")).to_be_visible()
        page.screenshot(path=artifacts_dir / "docs-with-keys.png")
