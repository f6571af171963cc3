"""The examiner's page against a service that signs its outputs with C2PA: the page
asks POST /verify about the photo it received and shows the verdict.

Its own module: its own service (with a throwaway development chain the test makes),
and one process holds one model per device."""

from __future__ import annotations

import hashlib
from pathlib import Path

from playwright.sync_api import BrowserContext

from isegan.provenance.credentials import generate_dev_chain
from tests.browser.test_examiner_page import (
    download,
    open_page,
    provenance,
    synthesise,
)
from tests.service.conftest import service_settings
from tests.service.server import running_server


def test_signed_photo_shows_a_trusted_verdict_and_downloads_signed(
    context: BrowserContext,
    generator_checkpoint: Path,
    parser_checkpoint: Path,
    cufs_dir: Path,
    test_ids: list[str],
    artifacts_dir: Path,
    tmp_path: Path,
) -> None:
    keys = generate_dev_chain(tmp_path / "keys", organisation="examiner test lab")
    settings = service_settings(
        generator_checkpoint, parser_checkpoint, None,
        c2pa_key=keys["key"], c2pa_cert_chain=keys["chain"],
    )  # fmt: skip
    with running_server(settings) as url:
        page, watch = open_page(context, url)
        synthesise(page, cufs_dir / "sketches" / f"{test_ids[0]}.png")
        page.screenshot(path=artifacts_dir / "signed-result.png", full_page=True)
        record = provenance(page)
        verdict = record["Content Credentials"]
        assert verdict.startswith("photo signed and trusted"), verdict
        assert "examiner test lab" in verdict
        assert page.locator("#provenance dd.verdict-trusted").count() == 1
        assert record["Hashes checked here"].startswith("every output matches")
        photo = download(page, "Download photo", tmp_path)
        assert hashlib.sha256(photo.read_bytes()).hexdigest() == record["photo SHA-256"]
        assert b"c2pa" in photo.read_bytes()  # the manifest travels with the file
        assert watch.script_errors == []
