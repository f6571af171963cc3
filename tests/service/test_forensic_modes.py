"""Forensic use on services of their own: the watermark read back, signing turned off."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import httpx
from PIL import Image

from tests.service.conftest import service_settings
from tests.service.server import running_server
from tests.service.test_forensic import _post


def test_verify_reads_the_watermark_after_the_metadata_is_stripped(
    sketch_bytes: bytes, tmp_path: Path
) -> None:
    """On the bundled model's photo (a random test network's output is nearly flat, and
    a flat image carries the watermark poorly)."""
    settings = service_settings(None, None, tmp_path / "audit.jsonl")  # type: ignore[arg-type]
    with running_server(settings) as url:
        _check_watermark_round_trip(url, sketch_bytes)


def _check_watermark_round_trip(service_url: str, sketch_bytes: bytes) -> None:
    body = _post(service_url, sketch_bytes, params={"outputs": "photo"}).json()
    record = body["provenance"]["watermark"]
    with Image.open(io.BytesIO(base64.b64decode(body["images"]["photo"]["data"]))) as photo:
        stripped = io.BytesIO()
        photo.convert("RGB").save(stripped, "JPEG", quality=75)  # no XMP, no manifest
    verdict = httpx.post(
        service_url + "/verify", files={"image": ("p.jpg", stripped.getvalue())}, timeout=60
    ).json()
    assert verdict["verdict"] == "no-credentials"
    assert verdict["watermark"]["installation"] == record["installation"]
    assert verdict["watermark"]["record"] == record["record"]
    with Image.open(io.BytesIO(stripped.getvalue())) as image:
        clean = io.BytesIO()
        Image.new("RGB", image.size, "grey").save(clean, "PNG")
    nothing = httpx.post(
        service_url + "/verify", files={"image": ("c.png", clean.getvalue())}, timeout=60
    ).json()
    assert nothing["watermark"] is None


def test_c2pa_and_the_watermark_can_be_turned_off(
    generator_checkpoint, parser_checkpoint, sketch_bytes, tmp_path
) -> None:
    settings = service_settings(
        generator_checkpoint, parser_checkpoint, tmp_path / "audit.jsonl",
        c2pa="off", watermark="off",
    )  # fmt: skip
    with running_server(settings) as url:
        body = _post(url, sketch_bytes).json()
        assert body["content_credentials"] == "unsigned"
        assert body["provenance"]["watermark"] is None
        info = httpx.get(url + "/v1/model").json()["content_credentials"]
        assert info == {**info, "signing": False, "key": "off", "watermark": False}
