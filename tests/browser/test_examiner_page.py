"""The examiner's page in a real headless Chromium against a live service.

The service runs the random-weight test checkpoints (written by the test session), so
the pictures are noise; what is checked is the page: upload, rendering, sizes, legend,
downloads, re-run with a corrected parsing map, errors, API keys, zoom and keyboard use.
Screenshots of each state are saved under the artefacts folder.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import httpx
import numpy as np
from PIL import Image
from playwright.sync_api import BrowserContext, FileChooser, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from isegan.model.face_classes import FACE_CLASS_NAMES
from tests.browser.conftest import PageWatch

RESULT_TIMEOUT_MS = 60_000


def open_page(context: BrowserContext, url: str) -> tuple[Page, PageWatch]:
    page = context.new_page()
    watch = PageWatch(page)
    page.goto(url + "/")
    expect(page.locator("#service-status")).to_contain_text("Ready", timeout=RESULT_TIMEOUT_MS)
    return page, watch


def synthesise(page: Page, sketch: Path) -> None:
    page.set_input_files("#sketch-input", str(sketch))
    page.get_by_role("button", name="Synthesise").click()
    wait_for_result(page)


def wait_for_result(page: Page) -> None:
    expect(page.locator("#results")).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    # The hash and C2PA checks run after the images show; the record is final after them.
    expect(page.locator("#provenance")).not_to_contain_text("checking", timeout=RESULT_TIMEOUT_MS)


def natural_size(page: Page, selector: str) -> tuple[int, int]:
    page.wait_for_function(
        "s => { const i = document.querySelector(s); return i.complete && i.naturalWidth > 0; }",
        arg=selector,
    )
    width, height = page.eval_on_selector(selector, "i => [i.naturalWidth, i.naturalHeight]")
    return int(width), int(height)


def open_file_chooser_with_space(page: Page) -> FileChooser:
    """Space on the focused file control opens the chooser. Headless Chromium now and
    then drops the first key press right after load, so the press is repeated (up to
    three times, each waiting 5 s); all of it from the keyboard."""
    for attempt in range(3):
        try:
            with page.expect_file_chooser(timeout=5000) as chooser:
                page.keyboard.press("Space")
            return chooser.value
        except PlaywrightTimeoutError:
            if attempt == 2:
                raise
            assert page.evaluate("document.activeElement.id") == "sketch-input"
    raise AssertionError("unreachable")


def provenance(page: Page) -> dict[str, str]:
    """The provenance list as the examiner reads it: term -> value."""
    pairs = page.eval_on_selector_all(
        "#provenance dt",
        "dts => dts.map(dt => [dt.textContent, dt.nextElementSibling.textContent])",
    )
    return {term: value for term, value in pairs}


def download(page: Page, link_name: str, folder: Path) -> Path:
    with page.expect_download() as event:
        page.get_by_role("link", name=link_name).click()
    target = folder / event.value.suggested_filename
    event.value.save_as(target)
    return target


def test_examiner_turns_a_sketch_into_a_photo_from_the_keyboard(
    context: BrowserContext,
    page_url: str,
    cufs_dir: Path,
    test_ids: list[str],
    artifacts_dir: Path,
    tmp_path: Path,
) -> None:
    page, watch = open_page(context, page_url)
    sketch = cufs_dir / "sketches" / f"{test_ids[0]}.png"
    with Image.open(sketch) as image:
        sketch_size = image.size

    # Keyboard only: focus the file control, open it with Space, then submit with Enter.
    page.locator("#sketch-input").focus()
    open_file_chooser_with_space(page).set_files(str(sketch))
    page.keyboard.press("Tab")  # the alignment choice (automatic by default)
    assert page.evaluate("document.activeElement.value") == "auto"
    page.keyboard.press("Tab")  # what the witness said: hair, skin, eyes, variations
    assert page.evaluate("document.activeElement.id") == "hair-colour-input"
    page.keyboard.press("b")  # the first palette name with a "b": black
    assert page.evaluate("document.activeElement.value") == "black"
    for _ in range(3):  # skin tone, eye colour, variations: left as they are
        page.keyboard.press("Tab")
    page.keyboard.press("Tab")  # the chain-of-custody fields, all optional
    assert page.evaluate("document.activeElement.id") == "case-id-input"
    page.keyboard.type("CASE-7")
    for _ in range(3):  # evidence id, examiner, note: left empty
        page.keyboard.press("Tab")
    page.keyboard.press("Tab")  # the Synthesise button
    assert page.evaluate("document.activeElement.id") == "synthesize-button"
    page.keyboard.press("Enter")
    wait_for_result(page)
    page.screenshot(path=artifacts_dir / "result.png", full_page=True)
    # What became of the hint is said (applied, or not and why: these are random weights).
    notes = page.locator("#colour-notes").inner_text()
    assert notes.startswith(("hair: black applied", "hair: not applied (the parsing has no"))

    # Every image renders at the size the service made it, which is the sketch's size.
    for selector in ("#photo-image", "#stage1-image", "#overlay-base", "#overlay-map"):
        assert natural_size(page, selector) == sketch_size, selector
    for selector in ("#photo-image", "#stage1-image", "#overlay-map"):
        assert page.get_attribute(selector, "alt"), f"{selector} has no alt text"

    # The legend names the 8 classes in index order.
    legend = page.locator("#legend li").all_inner_texts()
    assert [re.sub(r"^\d+\s+", "", text).replace(" ", "_") for text in legend] == list(
        FACE_CLASS_NAMES
    )

    # The opacity slider moves the overlay, from the keyboard too.
    page.locator("#overlay-opacity").focus()
    for _ in range(4):
        page.keyboard.press("ArrowLeft")
    assert page.eval_on_selector("#overlay-map", "m => m.style.opacity") == "0.4"
    expect(page.locator("#overlay-opacity-value")).to_have_text("40 %")
    page.select_option("#overlay-base-select", "photo")
    page.select_option("#overlay-map-select", "sketch_parsing")
    expect(page.locator("#overlay-caption")).to_contain_text("Sketch parsing")

    # The provenance shown is the service's: model id, hashes checked in the browser.
    record = provenance(page)
    model = httpx.get(page_url + "/v1/model").json()
    assert record["Model ID"] == model["model_id"]
    assert record["Parser ID"] == model["parser_id"]
    assert record["Sketch SHA-256"] == hashlib.sha256(sketch.read_bytes()).hexdigest()
    assert record["Case ID"] == "CASE-7" and "Examiner" not in record
    assert record["Hashes checked here"].startswith("every output matches")
    # signed by this installation's own key, which this service trusts for itself
    assert record["Content Credentials"].startswith("photo signed and trusted")
    assert record["Watermark"].startswith("installation inst-")

    # Downloads are the very files the record hashes.
    photo = download(page, "Download photo", tmp_path)
    assert hashlib.sha256(photo.read_bytes()).hexdigest() == record["photo SHA-256"]
    with Image.open(photo) as image:
        assert (image.format, image.size) == ("PNG", sketch_size)
    saved = json.loads(download(page, "Provenance record (JSON)", tmp_path).read_text())
    assert saved["provenance"]["outputs"]["photo"] == record["photo SHA-256"]
    assert saved["files"]["photo"]["file"] == photo.name

    timings = page.locator("#timings tbody th").all_inner_texts()
    assert {"decode", "parse", "stage1", "stage2", "encode", "total"} <= set(timings)
    assert watch.script_errors == []
    assert watch.foreign_requests(page_url) == []


def test_a_text_file_shows_a_readable_error(
    context: BrowserContext, page_url: str, artifacts_dir: Path, tmp_path: Path
) -> None:
    page, watch = open_page(context, page_url)
    notes = tmp_path / "notes.txt"
    notes.write_text("this is a case note, not a sketch\n" * 20)
    page.set_input_files("#sketch-input", str(notes))
    page.get_by_role("button", name="Synthesise").click()
    error = page.get_by_role("alert")
    expect(error).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    page.screenshot(path=artifacts_dir / "error-not-an-image.png", full_page=True)
    text = error.inner_text()
    assert "This file is not an image the service can read" in text
    assert "PNG, JPEG, BMP, TIFF or WebP" in text
    assert re.search(r"Request ID [0-9a-f]{32}", text), text
    assert "{" not in text and "isegan.dev/problems" not in text  # sentences, not raw JSON
    assert page.evaluate("document.activeElement.id") == "error"  # announced and focused
    expect(page.locator("#results")).to_be_hidden()
    assert watch.script_errors == []


def test_rerun_with_a_corrected_parsing_map(
    context: BrowserContext,
    page_url: str,
    cufs_dir: Path,
    test_ids: list[str],
    artifacts_dir: Path,
    tmp_path: Path,
) -> None:
    page, watch = open_page(context, page_url)
    synthesise(page, cufs_dir / "sketches" / f"{test_ids[1]}.png")
    first = provenance(page)
    assert "Corrected parsing SHA-256 (corrected.png)" not in first

    # The examiner downloads P_s, repaints a region, and uploads it back.
    automatic = download(page, "Sketch parsing map (P_s, palette PNG): correct this one", tmp_path)
    with Image.open(automatic) as image:
        assert image.mode == "P"
        labels = np.array(image)
        palette = image.getpalette()
    labels[: labels.shape[0] // 4] = FACE_CLASS_NAMES.index("hair")
    corrected = tmp_path / "corrected.png"
    repainted = Image.fromarray(labels, mode="P")
    repainted.putpalette(palette or [])
    repainted.save(corrected)

    page.set_input_files("#parsing-input", str(corrected))
    page.get_by_role("button", name="Run again with this parsing").click()
    expect(page.locator("#provenance")).to_contain_text("Corrected parsing SHA-256")
    wait_for_result(page)
    page.screenshot(path=artifacts_dir / "rerun-corrected-parsing.png", full_page=True)

    second = provenance(page)
    assert (
        second["Corrected parsing SHA-256 (corrected.png)"]
        == hashlib.sha256(corrected.read_bytes()).hexdigest()
    )
    assert second["Request ID"] != first["Request ID"]
    assert second["Sketch SHA-256"] == first["Sketch SHA-256"]
    used = download(page, "Sketch parsing map (P_s, palette PNG): correct this one", tmp_path)
    with Image.open(used) as image:
        np.testing.assert_array_equal(np.array(image), labels)  # the map ran exactly as sent
    assert watch.script_errors == []


def test_page_reflows_at_200_percent_zoom(
    context: BrowserContext,
    page_url: str,
    cufs_dir: Path,
    test_ids: list[str],
    artifacts_dir: Path,
) -> None:
    """200 % zoom of a 1280-pixel window is a 640-CSS-pixel viewport at scale 2. The
    sketch arrives by drag and drop this time (a real DataTransfer with the file)."""
    browser = context.browser
    assert browser is not None
    zoomed = browser.new_context(viewport={"width": 640, "height": 900}, device_scale_factor=2)
    try:
        page, watch = open_page(zoomed, page_url)
        sketch = cufs_dir / "sketches" / f"{test_ids[0]}.png"
        transfer = page.evaluate_handle(
            """([bytes, name]) => {
                const transfer = new DataTransfer();
                transfer.items.add(new File([new Uint8Array(bytes)], name, {type: "image/png"}));
                return transfer;
            }""",
            [list(sketch.read_bytes()), sketch.name],
        )
        page.dispatch_event("#drop-zone", "drop", {"dataTransfer": transfer})
        expect(page.locator("#sketch-preview")).to_have_attribute(
            "alt", f"The chosen sketch, {sketch.name}"
        )
        assert page.eval_on_selector("#sketch-input", "i => i.files[0].name") == sketch.name
        page.get_by_role("button", name="Synthesise").click()
        wait_for_result(page)
        assert natural_size(page, "#photo-image") == (200, 250)
        page.screenshot(path=artifacts_dir / "zoom-200.png", full_page=True)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the page scrolls sideways by {overflow} px at 200 % zoom"
        # Every control has a label, so a screen reader can name it.
        unlabelled = page.eval_on_selector_all(
            "input, select",
            "els => els.filter(e => e.type !== 'hidden' && e.labels.length === 0).map(e => e.id)",
        )
        assert unlabelled == []
        assert watch.script_errors == []
    finally:
        zoomed.close()


def test_pages_load_nothing_from_other_hosts(
    context: BrowserContext, page_url: str, artifacts_dir: Path
) -> None:
    """Air-gapped labs: the examiner page and both API docs render from the service alone.

    ReDoc's bundle tries to load a logo from its CDN; the docs pages' CSP must stop it
    in the browser (the logo then hides itself), so nothing leaves the machine.
    """
    page = context.new_page()
    watch = PageWatch(page)
    page.goto(page_url + "/")
    expect(page.locator("#service-status")).to_contain_text("Ready")
    assert watch.foreign_requests(page_url) == []  # the page does not even try
    for path in ("/", "/docs", "/redoc"):
        csp = httpx.get(page_url + path).headers["content-security-policy"]
        assert "default-src" in csp and "http" not in csp, path

    page.goto(page_url + "/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("isegan")
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    page.screenshot(path=artifacts_dir / "docs-swagger.png")
    page.goto(page_url + "/redoc")
    expect(page.get_by_text("/synthesize").first).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    page.screenshot(path=artifacts_dir / "docs-redoc.png")
    assert watch.foreign_requests_sent(page_url) == []
    assert watch.script_errors == []


def test_oversized_upload_and_a_wrong_parsing_map_read_as_sentences(
    context: BrowserContext,
    page_url: str,
    cufs_dir: Path,
    test_ids: list[str],
    artifacts_dir: Path,
    tmp_path: Path,
) -> None:
    """413 and 422 from the API, as the examiner meets them."""
    page, watch = open_page(context, page_url)
    huge = tmp_path / "scan.png"
    huge.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(3 * 1024 * 1024))  # over the 2 MiB limit
    page.set_input_files("#sketch-input", str(huge))
    page.get_by_role("button", name="Synthesise").click()
    error = page.get_by_role("alert")
    expect(error).to_contain_text("The file is too large", timeout=RESULT_TIMEOUT_MS)
    assert "larger than the 2.0 MiB limit. Choose a smaller image" in error.inner_text()
    page.screenshot(path=artifacts_dir / "error-too-large.png", full_page=True)

    synthesise(page, cufs_dir / "sketches" / f"{test_ids[0]}.png")
    wrong = tmp_path / "wrong-size.png"
    Image.new("P", (64, 64), 0).save(wrong)
    page.set_input_files("#parsing-input", str(wrong))
    page.get_by_role("button", name="Run again with this parsing").click()
    expect(error).to_contain_text("The service could not use this input")
    assert "64x64 but the sketch is 200x250" in error.inner_text()  # the reason, in words
    page.screenshot(path=artifacts_dir / "error-wrong-parsing.png", full_page=True)
    assert watch.script_errors == []


def test_variations_show_as_a_labelled_grid_with_downloads(
    context: BrowserContext, page_url: str, cufs_dir: Path, test_ids: list[str], tmp_path: Path
) -> None:
    page, watch = open_page(context, page_url)
    page.select_option("#skin-tone-input", "custom")
    page.fill("#skin-tone-custom", "#8a5a3c")  # the custom picker shows once chosen
    page.fill("#variations-input", "3")
    synthesise(page, cufs_dir / "sketches" / f"{test_ids[2]}.png")
    figures = page.locator("#variations-grid figure")
    expect(figures).to_have_count(3)
    captions = figures.locator("figcaption").all_inner_texts()
    assert len(set(captions)) == 3 and all("skin #8a5a3c" in c for c in captions)
    for index in range(3):
        assert natural_size(page, f"#variations-grid figure:nth-child({index + 1}) img")[0] > 0
    with page.expect_download() as waiting:
        figures.nth(1).get_by_role("link", name="Download").click()
    saved = tmp_path / waiting.value.suggested_filename
    waiting.value.save_as(saved)
    assert (
        saved.name.endswith(".variation-2.png") and saved.stat().st_size > 0
    )  # as the CLI names it
    assert watch.script_errors == [] and watch.blocked_by_csp == []
