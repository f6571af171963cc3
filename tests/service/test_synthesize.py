"""POST /synthesize over real HTTP: outputs, options, parsing upload, provenance."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from isegan.model.canonicalise import CANONICALISE_BY_DEFAULT
from isegan.model.face_classes import FACE_CLASS_COLOURS, NUM_FACE_CLASSES, parsing_to_image
from isegan.model.pipeline import FacePipeline
from isegan.model.stamps import file_sha256
from isegan.provenance.audit import verify_audit_log
from isegan.provenance.media_labels import DIGITAL_SOURCE_TYPE, IPTC_EXT_NS, ISEGAN_NS
from isegan.provenance.watermark import Watermarker
from tests.service.conftest import service_settings


def post(url: str, sketch: bytes, *, params=None, data=None, headers=None, files=None):
    files = {"sketch": ("sketch.png", sketch, "image/png"), **(files or {})}
    return httpx.post(
        url + "/synthesize", files=files, params=params, data=data, headers=headers, timeout=60
    )


def decoded(body: dict, name: str) -> bytes:
    return base64.b64decode(body["images"][name]["data"])


def xmp_facts(png: bytes) -> dict[str, str]:
    """The attributes of the XMP rdf:Description embedded in a PNG."""
    with Image.open(io.BytesIO(png)) as image:
        packet = image.info["XML:com.adobe.xmp"]
    root = ET.fromstring(packet.split("?>", 1)[1].rsplit("<?xpacket", 1)[0])
    description = root.find(".//{http://www.w3.org/1999/02/22-rdf-syntax-ns#}Description")
    assert description is not None
    return dict(description.attrib)


def test_health_and_model_info(
    service_url: str, generator_checkpoint: Path, parser_checkpoint: Path
) -> None:
    assert httpx.get(service_url + "/health/live").json()["status"] == "ok"
    ready = httpx.get(service_url + "/health/ready")
    assert ready.status_code == 200
    assert ready.json()["model_id"] == file_sha256(generator_checkpoint)
    info = httpx.get(service_url + "/v1/model").json()
    assert info["model_id"] == file_sha256(generator_checkpoint)
    assert info["parser_id"] == file_sha256(parser_checkpoint)
    assert info["two_stage"] is True
    assert info["architecture"]["generator"]["base_channels"] == 8
    assert [label["name"] for label in info["labels"]][:2] == ["background", "skin"]


def test_json_response_carries_photo_parsing_and_provenance(
    service_url: str, sketch_bytes: bytes, audit_log: Path
) -> None:
    response = post(service_url, sketch_bytes, headers={"X-Request-ID": "case-42"})
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"] == "case-42"
    body = response.json()
    assert set(body["images"]) == {"photo", "parsing"}
    assert body["content_credentials"] == "signed"  # by the installation key, by default
    assert body["provenance"]["watermark"]["method"] == "rivagan"
    assert body["provenance"]["watermark"]["precision"] == "fp32"

    photo_png, parsing_png = decoded(body, "photo"), decoded(body, "parsing")
    with Image.open(io.BytesIO(photo_png)) as photo:
        assert (photo.format, photo.mode, photo.size) == ("PNG", "RGB", (200, 250))
    with Image.open(io.BytesIO(parsing_png)) as parsing:
        assert parsing.mode == "P"
        indices = np.asarray(parsing)
        palette = parsing.getpalette()
    assert indices.shape == (250, 200) and indices.max() < NUM_FACE_CLASSES
    assert palette is not None
    assert [tuple(palette[3 * i : 3 * i + 3]) for i in range(8)] == list(FACE_CLASS_COLOURS)
    assert [label["colour"] for label in body["labels"]] == [list(c) for c in FACE_CLASS_COLOURS]

    record = body["provenance"]
    assert record["request_id"] == body["request_id"] == "case-42"
    assert record["digital_source_type"] == DIGITAL_SOURCE_TYPE
    assert record["input_sha256"] == hashlib.sha256(sketch_bytes).hexdigest()
    assert record["outputs"]["photo"] == hashlib.sha256(photo_png).hexdigest()
    assert body["images"]["parsing"]["sha256"] == hashlib.sha256(parsing_png).hexdigest()
    assert set(body["timings_ms"]) >= {"decode", "queue", "parse", "stage1", "stage2", "encode"}

    facts = xmp_facts(photo_png)
    assert facts[f"{{{IPTC_EXT_NS}}}DigitalSourceType"] == DIGITAL_SOURCE_TYPE
    assert facts[f"{{{ISEGAN_NS}}}ModelId"] == body["model_id"]
    assert facts[f"{{{ISEGAN_NS}}}InputSha256"] == record["input_sha256"]
    assert xmp_facts(parsing_png)[f"{{{ISEGAN_NS}}}Output"] == "parsing"

    lines = [json.loads(line) for line in audit_log.read_text().splitlines()]
    assert any(
        line["request_id"] == "case-42" and line["outputs"] == record["outputs"] for line in lines
    )
    assert verify_audit_log(audit_log).ok


def test_same_sketch_gives_byte_identical_photo_equal_to_the_pipeline(
    service_url: str,
    sketch_bytes: bytes,
    generator_checkpoint: Path,
    parser_checkpoint: Path,
) -> None:
    answer = post(service_url, sketch_bytes).json()
    first = decoded(answer, "photo")
    again = post(service_url, sketch_bytes).json()
    # The service runs the optimised path its settings name, and says so in provenance;
    # the in-process pipeline with the same options gives the same pixels.
    settings = service_settings(generator_checkpoint, parser_checkpoint, None)
    options = settings.inference_options()
    pipeline = FacePipeline.from_files(
        generator_checkpoint, parser_checkpoint, device="cpu", options=options
    )
    pipeline.canonicalise = settings.canonicalise_config()
    inference = answer["provenance"]["inference"]
    assert inference["precision"] == pipeline.precision
    assert inference["batch_size"] == answer["batch_size"] == 1
    assert inference["channels_last"] is options.channels_last
    with Image.open(io.BytesIO(sketch_bytes)) as sketch:
        photo = pipeline([sketch.convert("RGB")])[0].photo
    # ... and, with the record number each response names, the same watermarked pixels:
    # an exact re-run needs the provenance record, and has what it needs.
    watermarker = Watermarker.load()
    for body, data in ((answer, first), (again, decoded(again, "photo"))):
        mark = body["provenance"]["watermark"]
        expected = watermarker.embed(photo, mark["installation"], mark["record"])
        with Image.open(io.BytesIO(data)) as served:
            assert np.array_equal(np.asarray(served), np.asarray(expected))
    assert answer["provenance"]["watermark"]["record"] != again["provenance"]["watermark"]["record"]


@pytest.mark.parametrize(
    ("accept", "fmt", "media_type"),
    [("image/png", "PNG", "image/png"), ("image/jpeg", "JPEG", "image/jpeg"),
     ("image/webp;q=0.9, application/json;q=0.1", "WEBP", "image/webp")],
)  # fmt: skip
def test_accept_image_returns_the_photo_alone(
    service_url: str, sketch_bytes: bytes, accept: str, fmt: str, media_type: str
) -> None:
    response = post(service_url, sketch_bytes, headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    assert (
        response.headers["x-isegan-output-sha256"] == hashlib.sha256(response.content).hexdigest()
    )
    record = json.loads(response.headers["x-isegan-provenance"])
    assert record["input_sha256"] == hashlib.sha256(sketch_bytes).hexdigest()
    with Image.open(io.BytesIO(response.content)) as image:
        assert image.format == fmt and image.size == (200, 250)
        xmp = image.info.get("xmp") or image.info.get("XML:com.adobe.xmp")
    assert xmp is not None and DIGITAL_SOURCE_TYPE.encode() in (
        xmp if isinstance(xmp, bytes) else xmp.encode()
    )


def test_outputs_option_as_query_or_form(service_url: str, sketch_bytes: bytes) -> None:
    by_query = post(service_url, sketch_bytes, params={"outputs": "stage1_photo,sketch_parsing"})
    by_form = post(service_url, sketch_bytes, data={"outputs": "stage1_photo,sketch_parsing"})
    for response in (by_query, by_form):
        assert response.status_code == 200
        assert set(response.json()["images"]) == {"stage1_photo", "sketch_parsing"}
    # the same images: maps pixel for pixel, photos but for each one's watermark record
    maps, photos = (
        [np.asarray(Image.open(io.BytesIO(decoded(r.json(), name))), np.int16)
         for r in (by_query, by_form)]
        for name in ("sketch_parsing", "stage1_photo")
    )  # fmt: skip
    assert np.array_equal(maps[0], maps[1])
    assert np.abs(photos[0] - photos[1]).max() <= 10


@pytest.mark.parametrize(
    ("params", "data", "needle"),
    [({"outputs": "photo,selfie"}, None, "selfie"),
     ({"outputs": "photo"}, {"outputs": "parsing"}, "both"),
     ({"format": "gif"}, None, "format"),
     ({"align": "maybe"}, None, "align")],
)  # fmt: skip
def test_bad_options_are_422(service_url, sketch_bytes, params, data, needle) -> None:
    response = post(service_url, sketch_bytes, params=params, data=data)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert needle in response.json()["detail"]


def test_uploaded_parsing_replaces_the_sketch_parsing(
    service_url: str, sketch_bytes: bytes
) -> None:
    auto = post(service_url, sketch_bytes, params={"outputs": "photo,sketch_parsing"}).json()
    with Image.open(io.BytesIO(decoded(auto, "sketch_parsing"))) as image:
        automatic = np.asarray(image)
    corrected = automatic.copy()
    corrected[100:150, 60:140] = 4  # an examiner paints a bigger nose
    upload = io.BytesIO()
    parsing_to_image(corrected).save(upload, format="PNG")
    response = post(
        service_url,
        sketch_bytes,
        params={"outputs": "photo,sketch_parsing"},
        files={"parsing": ("parsing.png", upload.getvalue(), "image/png")},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    with Image.open(io.BytesIO(decoded(body, "sketch_parsing"))) as image:
        assert np.array_equal(np.asarray(image), corrected)
    assert decoded(body, "photo") != decoded(auto, "photo")
    assert (
        body["provenance"]["parsing_input_sha256"] == hashlib.sha256(upload.getvalue()).hexdigest()
    )


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("parsing", "needle"),
    [(parsing_to_image(np.zeros((100, 80), np.uint8)), "80x100"),
     (Image.fromarray(np.full((250, 200), 9, np.uint8), mode="L"), "[9]"),
     (Image.new("RGB", (200, 250)), "mode RGB")],
)  # fmt: skip
def test_bad_parsing_upload_is_422_saying_why(service_url, sketch_bytes, parsing, needle) -> None:
    response = post(
        service_url, sketch_bytes, files={"parsing": ("p.png", _png(parsing), "image/png")}
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"].endswith("invalid-parsing-map")
    assert needle in problem["detail"]


@pytest.mark.parametrize("params", [{}, {"align": "true"}])
def test_align_warps_the_sketch_and_returns_the_photo_on_the_input_frame(
    service_url: str, sketch_bytes: bytes, params: dict[str, str]
) -> None:
    """With align=auto (the default, no parameter) or true."""
    with Image.open(io.BytesIO(sketch_bytes)) as image:
        sketch = image.convert("RGB")
    # the same sketch placed off-centre on a larger sheet of paper
    sheet = Image.new("RGB", (320, 360), "white")
    sheet.paste(sketch, (90, 70))
    upload = io.BytesIO()
    sheet.save(upload, format="PNG")
    response = post(service_url, upload.getvalue(), params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["aligned"] is True
    assert body["provenance"]["options"]["align"] == params.get("align", "auto")
    # the deployment's canonicalisation (ISEGAN_CANONICALISE) is recorded
    assert body["provenance"]["options"]["canonicalise"] is CANONICALISE_BY_DEFAULT
    assert body["provenance"]["inference"]["canonicalise"] is CANONICALISE_BY_DEFAULT
    assert (body["images"]["photo"]["width"], body["images"]["photo"]["height"]) == (200, 250)
    on_input = body["images"]["photo_on_input"]
    assert (on_input["width"], on_input["height"]) == (320, 360)


def test_an_aligned_sketch_passes_through_auto_untouched(
    service_url: str, sketch_bytes: bytes
) -> None:
    auto = post(service_url, sketch_bytes, params={"outputs": "photo"})
    off = post(service_url, sketch_bytes, params={"outputs": "photo", "align": "false"})
    assert auto.status_code == off.status_code == 200, auto.text
    assert auto.json()["aligned"] is False and "photo_on_input" not in auto.json()["images"]
    # The same photo, but for the watermark: each response has its own record number.
    photos = [np.asarray(Image.open(io.BytesIO(decoded(r.json(), "photo"))), np.int16)
              for r in (auto, off)]  # fmt: skip
    assert np.abs(photos[0] - photos[1]).max() <= 10


@pytest.mark.parametrize("params", [{}, {"align": "true"}])
def test_align_without_a_face_is_422(service_url: str, params: dict[str, str]) -> None:
    noise = np.random.default_rng(1).integers(0, 256, (250, 200), dtype=np.uint8)
    upload = io.BytesIO()
    Image.fromarray(noise, mode="L").save(upload, format="PNG")
    response = post(service_url, upload.getvalue(), params=params)
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"].endswith("no-face-found")
    assert (
        "send an aligned 200x250 sketch" in problem["detail"] and "align=false" in problem["detail"]
    )
    # the same image with alignment off is the caller's choice, and is served
    response = post(service_url, upload.getvalue(), params={"align": "false"})
    assert response.status_code == 200, response.text
