"""Every kind of bad upload gets a precise problem+json answer, never a 500, and the
service stays up; every Pillow mode and EXIF orientation of a good sketch works."""

from __future__ import annotations

import io

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.service.test_synthesize import post


def encode(image: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def real_sketch(sketch_bytes: bytes) -> Image.Image:
    with Image.open(io.BytesIO(sketch_bytes)) as image:
        return image.convert("RGB")


def bad_uploads(sketch_bytes: bytes) -> dict[str, tuple[bytes, int, str]]:
    """name -> (upload bytes, expected status, expected problem type suffix)."""
    noise = np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    return {
        "empty": (b"", 422, "empty-upload"),
        "random bytes": (noise, 415, "unsupported-image-format"),
        "text": (b"name,age\nalice,30\n" * 20, 415, "unsupported-image-format"),
        "pdf": (
            b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF",
            415,
            "unsupported-image-format",
        ),
        # EPS would run Ghostscript if Pillow were allowed to open it.
        "eps": (
            b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n",
            415,
            "unsupported-image-format",
        ),
        "truncated png": (sketch_bytes[: len(sketch_bytes) // 2], 422, "corrupt-image"),
        "png header only": (sketch_bytes[:40], 422, "corrupt-image"),
        "tiny": (encode(Image.new("L", (8, 8), 128)), 422, "image-too-small"),
        "one pixel line": (encode(Image.new("L", (4000, 1), 128)), 422, "image-too-small"),
        "blank page": (encode(Image.new("RGB", (200, 250), "white")), 422, "blank-image"),
        "too many pixels": (encode(Image.new("1", (2500, 2000))), 413, "too-many-pixels"),
        # 169 Mpx of 1-bit zeros: a few kB on the wire, 169 MB decoded.
        "decompression bomb": (encode(Image.new("1", (13000, 13000))), 413, "too-many-pixels"),
    }


BAD_CASES = [
    "empty", "random bytes", "text", "pdf", "eps", "truncated png", "png header only", "tiny",
    "one pixel line", "blank page", "too many pixels", "decompression bomb",
]  # fmt: skip


@pytest.fixture(scope="module")
def uploads(sketch_bytes: bytes) -> dict[str, tuple[bytes, int, str]]:
    return bad_uploads(sketch_bytes)


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_upload_gets_problem_json(service_url: str, uploads, case: str) -> None:
    data, status, kind = uploads[case]
    response = post(service_url, data)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/" + kind)
    assert problem["status"] == status
    assert problem["request_id"] == response.headers["x-request-id"]
    assert problem["detail"]
    assert httpx.get(service_url + "/health/ready").status_code == 200


def test_body_over_the_limit_is_413_with_or_without_content_length(service_url: str) -> None:
    big = b"\0" * (3 * 1024 * 1024)  # the test service allows 2 MiB
    declared = post(service_url, big)
    assert declared.status_code == 413
    assert declared.json()["type"].endswith("payload-too-large")

    def chunks():  # no Content-Length: the limit must hold on the stream itself
        boundary = b"--xyz\r\n"
        yield boundary + b'Content-Disposition: form-data; name="sketch"; filename="a.png"\r\n\r\n'
        for _ in range(48):
            yield b"\0" * 65536
        yield b"\r\n--xyz--\r\n"

    streamed = httpx.post(
        service_url + "/synthesize",
        content=chunks(),
        headers={"Content-Type": "multipart/form-data; boundary=xyz"},
        timeout=60,
    )
    assert streamed.status_code == 413
    assert streamed.json()["type"].endswith("payload-too-large")
    assert httpx.get(service_url + "/health/ready").status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/nowhere", 404), ("DELETE", "/synthesize", 405), ("POST", "/synthesize", 422)],
)
def test_routing_and_missing_field_errors_are_problem_json(
    service_url, method, path, status
) -> None:
    response = httpx.request(method, service_url + path, timeout=30)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == status


def test_unacceptable_accept_header_is_406(service_url: str, sketch_bytes: bytes) -> None:
    response = post(service_url, sketch_bytes, headers={"Accept": "text/html"})
    assert response.status_code == 406
    assert "image/png" in response.json()["detail"]


def _modes(sketch: Image.Image) -> dict[str, tuple[bytes, tuple[int, int]]]:
    """name -> (upload, size the photo must have). Each holds the same real sketch."""
    grey = sketch.convert("L")
    sixteen = Image.fromarray(np.asarray(grey, dtype=np.uint16) * 257)
    rgba = sketch.convert("RGBA")
    rgba.putalpha(200)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: the stored image must be rotated 90 degrees clockwise
    rotated = sketch.transpose(Image.Transpose.ROTATE_90)  # stored as a camera would
    return {
        "L": (encode(grey), sketch.size),
        "LA": (encode(grey.convert("LA")), sketch.size),
        "P": (encode(sketch.convert("P")), sketch.size),
        "RGBA": (encode(rgba), sketch.size),
        "I;16": (encode(sixteen), sketch.size),
        "1": (encode(grey.convert("1")), sketch.size),
        "CMYK jpeg": (encode(sketch.convert("CMYK"), "JPEG"), sketch.size),
        "EXIF-rotated jpeg": (encode(rotated, "JPEG", exif=exif), sketch.size),
        "bmp": (encode(sketch, "BMP"), sketch.size),
        "tiff": (encode(sketch, "TIFF"), sketch.size),
        "webp": (encode(sketch, "WEBP"), sketch.size),
        "gif": (encode(sketch, "GIF"), sketch.size),
        # aligned under the default align=auto, so the photo is in the CUFS frame
        "not CUFS sized": (encode(sketch.resize((333, 417))), (200, 250)),
    }


MODE_CASES = [
    "L", "LA", "P", "RGBA", "I;16", "1", "CMYK jpeg", "EXIF-rotated jpeg", "bmp", "tiff",
    "webp", "gif", "not CUFS sized",
]  # fmt: skip


@pytest.mark.parametrize("case", MODE_CASES)
def test_any_mode_and_orientation_is_synthesised(service_url, sketch_bytes, case) -> None:
    sketch = real_sketch(sketch_bytes)
    data, size = _modes(sketch)[case]
    if case == "I;16":
        with Image.open(io.BytesIO(data)) as check:
            assert check.mode.startswith("I;16")
    response = post(service_url, data, headers={"Accept": "image/png"})
    assert response.status_code == 200, response.text
    with Image.open(io.BytesIO(response.content)) as photo:
        assert photo.size == size
