"""Colour hints and variations over real HTTP, on the bundled model (real photos, so the
watermark reads back and the parsing has hair and skin to colour)."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from isegan.provenance.credentials import check
from isegan.provenance.installation import WATERMARK_RECORD_BITS
from isegan.provenance.watermark import Watermarker
from isegan.service.client import IseganClient, ServiceError
from isegan.service.settings import ServiceSettings
from tests.service.server import running_server


@pytest.fixture(scope="module")
def bundled_audit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("colour-audit") / "audit.jsonl"


@pytest.fixture(scope="module")
def bundled_url(bundled_audit: Path, installation_folder: Path) -> Iterator[str]:
    settings = ServiceSettings(device="cpu", audit_log=bundled_audit, max_variations=3)
    with running_server(settings) as url:
        yield url


def _post(url: str, sketch: bytes, **kwargs) -> httpx.Response:
    return httpx.post(
        url + "/synthesize", files={"sketch": ("s.png", sketch, "image/png")}, timeout=120,
        **kwargs,
    )  # fmt: skip


def _decoded(body: dict, name: str) -> bytes:
    return base64.b64decode(body["images"][name]["data"])


def test_hints_and_variations_are_images_records_manifests_and_marks(
    bundled_url: str, sketch_bytes: bytes, bundled_audit: Path, installation_folder: Path
) -> None:
    plain = _post(bundled_url, sketch_bytes, data={"align": "false"})
    hinted = _post(
        bundled_url,
        sketch_bytes,
        data={"align": "false", "hair_colour": "blond", "skin_tone": "#9c7050", "variations": "2"},
    )
    assert plain.status_code == 200 and hinted.status_code == 200, hinted.text
    body = hinted.json()
    assert plain.json()["colour"] is None and plain.json()["provenance"]["colour"] is None

    # What became of each hint, in the response and the record alike.
    colour = body["colour"]
    assert colour == body["provenance"]["colour"]
    assert colour["hints"] == {
        "hair": {"value": "blond", "rgb": "#b2966c"},
        "skin": {"value": "#9c7050", "rgb": "#9c7050"},
    }
    assert set(colour["variations"]) == {"variation_1", "variation_2"}
    options = body["provenance"]["options"]
    assert options["hair_colour"] == "blond" and options["variations"] == 2

    # The hinted photo differs from the plain one; its parsing map does not.
    photo = Image.open(io.BytesIO(_decoded(body, "photo"))).convert("RGB")
    plain_photo = Image.open(io.BytesIO(_decoded(plain.json(), "photo"))).convert("RGB")
    assert photo.tobytes() != plain_photo.tobytes()
    parsings = [Image.open(io.BytesIO(_decoded(b, "parsing"))) for b in (body, plain.json())]
    assert parsings[0].tobytes() == parsings[1].tobytes()

    # Each variation: its own hashed, signed, watermarked output.
    root = (installation_folder / "credentials" / "isegan-root.pem").read_text()
    watermarker = Watermarker.load()
    record = body["provenance"]["watermark"]["record"] % 2**WATERMARK_RECORD_BITS
    for name in ("variation_1", "variation_2"):
        data = _decoded(body, name)
        assert body["provenance"]["outputs"][name] == body["images"][name]["sha256"]
        checked = check(data, "image/png", root)
        assert checked.verdict.value == "trusted"
        assert checked.provenance["output"] == name
        assert checked.provenance["colour"] == colour["variations"][name]
        reading = watermarker.read(
            Image.open(io.BytesIO(data)).convert("RGB"),
            [body["provenance"]["watermark"]["installation"]],
        )
        assert reading is not None and reading.record == record
    photo_manifest = check(_decoded(body, "photo"), "image/png", root).provenance
    assert photo_manifest["colour"]["hints"] == colour["hints"]

    audited = json.loads(bundled_audit.read_text().splitlines()[-1])
    assert audited["request_id"] == body["request_id"] and audited["colour"] == colour


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"hair_colour": "purple"}, "hair_colour"),
        ({"skin_tone": "7"}, "skin_tone"),
        ({"eye_colour": "#12345"}, "eye_colour"),
        ({"variations": "4"}, "variations"),  # above this service's max_variations (3)
    ],
)
def test_a_bad_colour_field_is_a_422_naming_it(
    bundled_url: str, sketch_bytes: bytes, data: dict[str, str], field: str
) -> None:
    response = _post(bundled_url, sketch_bytes, data=data)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"].endswith("/invalid-options")
    assert problem["errors"][0]["loc"] == ["body", field]
    assert field in problem["detail"]


def test_variations_need_the_json_reply(bundled_url: str, sketch_bytes: bytes) -> None:
    response = _post(bundled_url, sketch_bytes, data={"variations": "2"},
                     headers={"Accept": "image/png"})  # fmt: skip
    assert response.status_code == 422 and response.json()["errors"][0]["loc"][-1] == "variations"
    alone = _post(bundled_url, sketch_bytes, data={"hair_colour": "black"},
                  headers={"Accept": "image/png"})  # fmt: skip
    assert alone.status_code == 200 and alone.headers["content-type"] == "image/png"
    record = json.loads(alone.headers["X-Isegan-Provenance"])
    assert record["colour"]["hints"]["hair"]["value"] == "black"


def test_the_client_and_the_model_record_offer_the_palettes(
    bundled_url: str, sketch_bytes: bytes
) -> None:
    with IseganClient(bundled_url) as client:
        palettes = client.model()["colour"]
        assert palettes["max_variations"] == 3
        assert "dark-brown" in palettes["palettes"]["hair_colour"]
        assert list(palettes["palettes"]["skin_tone"]) == ["1", "2", "3", "4", "5", "6"]
        result = client.synthesize(sketch_bytes, align="false", eye_colour="green", variations=2)
        assert result.variations == ["variation_1", "variation_2"]
        assert result.response.colour is not None
        assert result.response.colour["hints"]["eyes"]["value"] == "green"
        with pytest.raises(ServiceError) as bad:
            client.synthesize(sketch_bytes, hair_colour="plaid")
        assert bad.value.problem["errors"][0]["loc"] == ["body", "hair_colour"]
