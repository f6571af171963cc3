"""The one stamper the service and the CLI share: files, record and signatures agree.

Real images, a real dev signing chain made by the test, real C2PA reading back."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from PIL import Image

from isegan.provenance.credentials import CredentialSigner, Verdict, check, generate_dev_chain
from isegan.provenance.custody import parse_custody
from isegan.provenance.media_labels import XMP_PNG_KEYWORD
from isegan.provenance.outputs import Output
from isegan.provenance.render import Marked, unmarked
from isegan.provenance.stamp import Stamper, Upload

MODEL, PARSER = "a" * 64, "b" * 64


@pytest.fixture(scope="module")
def images() -> dict[Output, Image.Image]:
    rng = np.random.default_rng(0)
    photo = Image.fromarray(rng.integers(0, 256, (250, 200, 3), dtype=np.uint8))
    parsing = Image.fromarray(rng.integers(0, 8, (250, 200), dtype=np.uint8), mode="L")
    return {Output.PHOTO: photo, Output.PARSING: parsing.convert("P")}


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _stamp(stamper: Stamper, marked: Marked, upload: Upload):  # type: ignore[no-untyped-def]
    return stamper.stamp(
        marked, upload, request_id="case-7", options={"align": "auto"},
        custody=parse_custody({"case_id": "C-1", "examiner": "R. Roe"}),
        inference={"device": "cpu"},
    )  # fmt: skip


def test_files_and_record_name_each_other(images) -> None:
    upload = Upload(b"sketch bytes", "image/png", parsing=b"parsing bytes")
    stamped = _stamp(Stamper(MODEL, PARSER, "0.1.0+gtest"), unmarked(images), upload)
    record = stamped.record
    assert set(stamped.files) == set(images)
    for name, rendered in stamped.files.items():
        assert record.outputs[name] == hashlib.sha256(rendered.data).hexdigest()
        with Image.open(io.BytesIO(rendered.data)) as opened:
            xmp = opened.info[XMP_PNG_KEYWORD]
        assert f'isegan:Output="{name}"' in xmp and MODEL in xmp
        assert hashlib.sha256(b"parsing bytes").hexdigest() in xmp
    assert record.input_sha256 == hashlib.sha256(b"sketch bytes").hexdigest()
    assert record.parsing_input_sha256 == hashlib.sha256(b"parsing bytes").hexdigest()
    assert (record.model_id, record.parser_id, record.code_version) == (
        MODEL,
        PARSER,
        "0.1.0+gtest",
    )
    assert record.options == {"align": "auto"} and record.inference == {"device": "cpu"}
    assert record.custody == {"case_id": "C-1", "examiner": "R. Roe"}
    assert record.watermark is None and record.request_id == "case-7"
    assert set(stamped.seconds) == {"encode", "sign"} and stamped.seconds["sign"] == 0.0


def test_signed_photos_name_the_request_custody_and_mark(images, tmp_path) -> None:
    chain = generate_dev_chain(tmp_path)
    stamper = Stamper(MODEL, PARSER, "0.1.0+gtest", CredentialSigner(chain["key"], chain["chain"]))
    mark = {"method": "rivagan", "installation": "inst-1", "record": 7, "precision": "fp32"}
    marked = Marked(dict(images), mark, 0.0)
    sketch = _png(images[Output.PHOTO].convert("L"))  # any real PNG stands in for the sketch
    stamped = _stamp(stamper, marked, Upload(sketch, "image/png"))
    assert stamped.record.watermark == mark and stamped.seconds["sign"] > 0
    photo = check(stamped.files[Output.PHOTO].data, "image/png", chain["root"].read_text())
    assert photo.verdict is Verdict.TRUSTED
    assert photo.provenance["request_id"] == "case-7" and photo.provenance["case_id"] == "C-1"
    assert photo.provenance["watermark"]["record"] == 7 and photo.provenance["output"] == "photo"
    parsing = check(stamped.files[Output.PARSING].data, "image/png", chain["root"].read_text())
    assert parsing.verdict is Verdict.TRUSTED and "watermark" not in parsing.provenance


def test_output_names_are_one_list() -> None:
    assert [o.is_photo for o in Output] == [True, False, True, False, True]
    assert Output.PHOTO_ON_INPUT.file_name("s1") == "s1.on-input.png"
    assert len({o.file_name("x") for o in Output}) == len(Output)
