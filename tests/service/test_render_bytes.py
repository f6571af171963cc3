"""The service adds nothing to its outputs: with signing and the watermark off, each
served file is byte for byte what the in-process pipeline and provenance/render.py (the
CLI's path too) make of the same CUFS sketch."""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from isegan.model.pipeline import FacePipeline
from isegan.provenance.media_labels import EmbeddedFacts
from isegan.provenance.render import output_images, render_outputs
from isegan.service.settings import ServiceSettings
from tests.service.conftest import service_settings
from tests.service.server import running_server

NAMES = ("photo", "parsing", "stage1_photo", "sketch_parsing")


@pytest.fixture(scope="module")
def unmarked(
    generator_checkpoint: Path, parser_checkpoint: Path
) -> Iterator[tuple[str, ServiceSettings]]:
    settings = service_settings(
        generator_checkpoint, parser_checkpoint, None, c2pa="off", watermark="off"
    )
    with running_server(settings) as url:
        yield url, settings


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_served_bytes_are_the_shared_render_paths_bytes(
    unmarked, generator_checkpoint: Path, parser_checkpoint: Path, sketch_bytes: bytes, fmt: str
) -> None:
    url, settings = unmarked
    files = {"sketch": ("sketch.png", sketch_bytes, "image/png")}
    body = httpx.post(
        url + "/synthesize", files=files, data={"outputs": ",".join(NAMES), "format": fmt},
        timeout=60,
    ).json()  # fmt: skip
    record = body["provenance"]
    assert record["watermark"] is None and body["content_credentials"] == "unsigned"
    pipeline = FacePipeline.from_files(
        generator_checkpoint, parser_checkpoint, device="cpu", options=settings.inference_options()
    )
    pipeline.canonicalise = settings.canonicalise_config()
    with Image.open(io.BytesIO(sketch_bytes)) as opened:
        sketch = opened.convert("RGB")
    (result,) = pipeline([sketch])  # align="auto", as the service
    facts = EmbeddedFacts(
        output="photo",
        input_sha256=hashlib.sha256(sketch_bytes).hexdigest(),
        model_id=pipeline.model_id,
        parser_id=pipeline.parser_id,
        code_version=record["code_version"],
    )
    expected = render_outputs(output_images(result, NAMES, sketch), facts, fmt).files
    assert set(body["images"]) == set(expected) == set(NAMES)
    for name in NAMES:
        assert base64.b64decode(body["images"][name]["data"]) == expected[name].data, name
