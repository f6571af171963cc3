"""The watermark on real photos: read back after JPEG with no metadata, absent elsewhere."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from isegan.model import inference_options as inference
from isegan.model.pipeline import FacePipeline
from isegan.model.weights.pretrained import default_generator_path, default_parser_path
from isegan.provenance.rivagan import load_rivagan
from isegan.provenance.watermark import (
    MIN_STRENGTH,
    RECORD_BITS,
    Watermarker,
    payload_bits,
    read_payload,
    resolve_watermark_precision,
)


@pytest.fixture(scope="module")
def watermarker() -> Watermarker:
    return Watermarker.load()


@pytest.fixture(scope="module")
def photos(cufs_sketches) -> list[Image.Image]:
    """What the watermark goes on: the bundled model's photos of real CUFS test sketches."""
    generator, parser = default_generator_path(), default_parser_path()
    assert generator is not None and parser is not None
    pipeline = FacePipeline.from_files(generator, parser)
    return [result.photo for result in pipeline(cufs_sketches, align="false")]


@pytest.fixture(scope="module")
def real_photos(cufs_dir, test_ids) -> list[Image.Image]:
    images = []
    for name in (test_ids[3], test_ids[-3]):
        with Image.open(cufs_dir / "photos" / f"{name}.png") as image:
            images.append(image.convert("RGB"))
    return images


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue()))


def test_payloads_differ_by_record_and_installation() -> None:
    a, b, c = payload_bits("inst-a", 5), payload_bits("inst-a", 6), payload_bits("inst-b", 5)
    assert len(a) == 32 and a != b and a != c
    assert payload_bits("inst-a", 5 + (1 << RECORD_BITS)) == a  # the record wraps


def test_marked_photos_read_back_after_jpeg_75(watermarker, photos) -> None:
    for record, photo in enumerate(photos, start=41):
        marked = watermarker.embed(photo, "inst-test", record)
        assert marked.size == photo.size
        change = np.abs(np.asarray(marked, np.int16) - np.asarray(photo, np.int16))
        assert 0 < change.max() <= 5  # at most 0.032 of the range, plus rounding
        for image in (marked, _jpeg(marked, 75)):
            reading = watermarker.read(image, ["inst-other", "inst-test"])
            assert reading is not None, record
            assert (reading.installation, reading.record) == ("inst-test", record)
            assert "record" in reading.describe()


def test_unmarked_photos_and_other_installations_read_nothing(
    watermarker, photos, real_photos
) -> None:
    for photo in photos + real_photos:
        assert watermarker.read(photo, ["inst-test"]) is None
        assert float(np.abs(watermarker.scores(photo)).mean()) < MIN_STRENGTH
    marked = watermarker.embed(photos[0], "inst-test", 7)
    assert watermarker.read(marked, ["inst-elsewhere"]) is None


def test_weak_scores_are_no_claim_even_when_the_bits_fit() -> None:
    bits = np.asarray(payload_bits("inst-test", 9))
    scores = np.where(bits == 1, 1.0, -1.0) * (MIN_STRENGTH * 0.9)
    assert read_payload(scores, ["inst-test"]) is None
    assert read_payload(scores / 0.8, ["inst-test"]) is not None


def test_a_bf16_change_reads_back_like_the_fp32_one(watermarker, photos) -> None:
    """bf16 embedding, built directly so it runs on any CPU (emulated where bf16 is not
    native, which only costs time): the same payload, read back in fp32 after JPEG 75,
    and pixels within a few grey levels of the fp32 embedding."""
    encoder, _ = load_rivagan(fft=False)  # as Watermarker.load builds it for bf16
    bf16 = Watermarker(encoder, watermarker.decoder, precision="bf16")
    for record, photo in enumerate(photos[:2], start=7):
        marked = bf16.embed(photo, "inst-test", record)
        reference = watermarker.embed(photo, "inst-test", record)
        difference = np.abs(np.asarray(marked, np.int16) - np.asarray(reference, np.int16))
        assert difference.max() <= 8 and (difference > 0).mean() < 0.1
        assert difference.max() > 0  # it did run in bf16
        reading = watermarker.read(_jpeg(marked, 75), ["inst-test"])
        assert reading is not None and reading.record == record


def test_auto_precision_follows_the_cpu(monkeypatch) -> None:
    """The hardware check is patched to exercise both branches on whatever CPU runs it."""
    monkeypatch.setattr(inference, "native_bf16", lambda device: True)
    assert resolve_watermark_precision("auto") == "bf16"
    assert resolve_watermark_precision("fp32") == "fp32"
    monkeypatch.setattr(inference, "native_bf16", lambda device: False)
    assert resolve_watermark_precision("auto") == "fp32"
    assert resolve_watermark_precision("bf16") == "fp32"  # never emulated in service
