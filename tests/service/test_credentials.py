"""C2PA Content Credentials: signed with a chain the test makes, read back with c2pa's
own Reader; edits, missing manifests and unknown signers each get their own verdict."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from isegan.provenance.credentials import (
    CredentialsError,
    CredentialSigner,
    Verdict,
    check,
    generate_dev_chain,
)
from isegan.provenance.media_labels import DIGITAL_SOURCE_TYPE

ISEGAN = str(Path(sys.executable).with_name("isegan"))


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return generate_dev_chain(tmp_path_factory.mktemp("keys"))


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def signed(chain, sketch_bytes: bytes) -> tuple[bytes, dict]:
    photo = png(
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (250, 200, 3), dtype=np.uint8))
    )
    facts = {
        "output": "photo",
        "input_sha256": hashlib.sha256(sketch_bytes).hexdigest(),
        "model_id": "a" * 64,
        "parser_id": "b" * 64,
        "code_version": "0.1.0+gtest",
        "request_id": "case-7",
    }
    signer = CredentialSigner(chain["key"], chain["chain"])
    data = signer.sign(
        photo,
        "image/png",
        sketch=sketch_bytes,
        sketch_media_type="image/png",
        facts=facts,
        title="photo.png",
    )
    return data, facts


def test_signed_image_reads_back_with_our_facts_and_is_trusted_with_the_root(signed, chain) -> None:
    data, facts = signed
    untrusted = check(data, "image/png")
    assert untrusted.verdict is Verdict.UNTRUSTED  # valid, but nobody said to trust the root
    assert untrusted.failures == []  # signature and hashes hold; no trust list was asked
    trusted = check(data, "image/png", chain["root"].read_text())
    assert trusted.verdict is Verdict.TRUSTED and trusted.failures == []
    assert trusted.provenance == facts
    assert trusted.digital_source_type == DIGITAL_SOURCE_TYPE
    assert trusted.signer and "isegan development signer" in trusted.signer
    with Image.open(io.BytesIO(data)) as image:
        image.load()  # still an ordinary PNG


def test_manifest_holds_no_copy_of_the_sketch(signed, sketch_bytes) -> None:
    import c2pa

    data, _ = signed
    with c2pa.Reader("image/png", io.BytesIO(data)) as reader:
        manifest = reader.get_active_manifest()
    (ingredient,) = manifest["ingredients"]
    assert ingredient["relationship"] == "inputTo"
    assert "thumbnail" not in ingredient and "thumbnail" not in manifest
    assert len(data) < len(sketch_bytes) + 200_000  # and certainly not the sketch itself


def test_one_changed_pixel_is_invalid_and_re_encoding_strips_the_credentials(signed, chain) -> None:
    data, _ = signed
    tampered = bytearray(data)
    idat = tampered.rfind(b"IDAT")
    tampered[idat + 20] ^= 0x01  # one bit inside the compressed pixel data
    result = check(bytes(tampered), "image/png", chain["root"].read_text())
    assert result.verdict is Verdict.INVALID
    assert any("mismatch" in code for code in result.failures), result.failures
    with Image.open(io.BytesIO(data)) as image:
        pixels = np.asarray(image.convert("RGB")).copy()
    pixels[100, 100, 0] ^= 1  # an edit saved by an ordinary tool carries no manifest
    assert check(png(Image.fromarray(pixels)), "image/png").verdict is Verdict.NO_CREDENTIALS


def test_unknown_signer_is_untrusted_not_trusted(signed, tmp_path) -> None:
    data, _ = signed
    other = generate_dev_chain(tmp_path / "other", organisation="someone else")
    assert check(data, "image/png", other["root"].read_text()).verdict is Verdict.UNTRUSTED


def test_bad_key_files_are_a_clear_error(chain, tmp_path) -> None:
    broken = tmp_path / "broken.key"
    broken.write_text("not a key")
    with pytest.raises(CredentialsError, match=r"broken\.key"):
        CredentialSigner(broken, chain["chain"])


def test_cli_keygen_and_verify_exit_codes(signed, tmp_path, sketch_bytes) -> None:
    keys = tmp_path / "keys"
    made = subprocess.run(
        [ISEGAN, "keygen", "-o", str(keys)], capture_output=True, text=True, check=False
    )
    assert made.returncode == 0, made.stderr
    assert (keys / "isegan-root.pem").is_file() and (
        keys / "isegan-signer.key"
    ).stat().st_mode & 0o077 == 0
    data, facts = signed
    (tmp_path / "photo.png").write_bytes(data)
    (tmp_path / "plain.png").write_bytes(sketch_bytes)
    untrusted = subprocess.run(
        [ISEGAN, "verify", str(tmp_path / "photo.png")], capture_output=True, text=True, check=False
    )
    assert untrusted.returncode == 3 and "verdict: untrusted" in untrusted.stdout
    assert facts["model_id"] in untrusted.stdout
    plain = subprocess.run(
        [ISEGAN, "verify", "--json", str(tmp_path / "plain.png")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert plain.returncode == 5
    assert json.loads(plain.stdout)[str(tmp_path / "plain.png")]["verdict"] == "no-credentials"


def test_service_signs_every_output_and_verifies_uploads(
    chain, generator_checkpoint, parser_checkpoint, sketch_bytes, tmp_path
) -> None:
    import base64

    import httpx

    from tests.service.conftest import service_settings
    from tests.service.server import running_server

    settings = service_settings(
        generator_checkpoint, parser_checkpoint, tmp_path / "audit.jsonl",
        c2pa_key=chain["key"], c2pa_cert_chain=chain["chain"],
        watermark="off",  # below: two signings of the same pixels
    )  # fmt: skip
    with running_server(settings) as url:
        info = httpx.get(url + "/v1/model").json()["content_credentials"]
        assert info["signing"] is True and "isegan development signer" in info["signer"]
        assert info["key"] == "organisation"
        body = httpx.post(
            url + "/synthesize",
            files={"sketch": ("s.png", sketch_bytes)},
            headers={"X-Request-ID": "c2pa-1"},
        ).json()
        assert body["content_credentials"] == "signed"
        photo = base64.b64decode(body["images"]["photo"]["data"])
        assert hashlib.sha256(photo).hexdigest() == body["provenance"]["outputs"]["photo"]
        for name in ("photo", "parsing"):
            result = check(
                base64.b64decode(body["images"][name]["data"]),
                "image/png",
                chain["root"].read_text(),
            )
            assert result.verdict is Verdict.TRUSTED, (name, result.failures)
            assert result.provenance["output"] == name
            assert result.provenance["request_id"] == "c2pa-1"
            assert result.provenance["input_sha256"] == hashlib.sha256(sketch_bytes).hexdigest()

        def verify(data: bytes) -> dict:
            response = httpx.post(url + "/verify", files={"image": ("x.png", data)})
            assert response.status_code == 200, response.text
            return response.json()

        assert verify(photo)["verdict"] == "trusted"  # the service trusts its own root
        assert verify(sketch_bytes)["verdict"] == "no-credentials"
        broken = bytearray(photo)
        broken[broken.rfind(b"IDAT") + 20] ^= 1
        assert verify(bytes(broken))["verdict"] == "invalid"
        assert httpx.post(url + "/verify", files={"image": ("x.txt", b"hello")}).status_code == 415
        # signed twice: different manifests, the same pixels
        again = base64.b64decode(
            httpx.post(url + "/synthesize", files={"sketch": ("s.png", sketch_bytes)}).json()[
                "images"
            ]["photo"]["data"]
        )
        with Image.open(io.BytesIO(photo)) as first, Image.open(io.BytesIO(again)) as second:
            assert np.array_equal(np.asarray(first), np.asarray(second))


def test_cli_synthesize_signs_what_it_writes(
    chain, generator_checkpoint, parser_checkpoint, cufs_dir, test_ids, tmp_path
) -> None:
    sketch = cufs_dir / "sketches" / f"{test_ids[0]}.png"
    out = tmp_path / "out"
    made = subprocess.run(
        [ISEGAN, "synthesize", str(sketch), "-o", str(out), "--extras",
         "--checkpoint", str(generator_checkpoint), "--parser", str(parser_checkpoint),
         "--c2pa-key", str(chain["key"]), "--c2pa-cert-chain", str(chain["chain"])],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    files = sorted(out.glob("*.png"))
    assert len(files) == 4
    verdicts = subprocess.run(
        [ISEGAN, "verify", "--json", "--trust", str(chain["root"]), *map(str, files)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert verdicts.returncode == 0, verdicts.stdout
    report = json.loads(verdicts.stdout)
    assert {entry["provenance"]["output"] for entry in report.values()} == {
        "photo", "parsing", "stage1_photo", "sketch_parsing"
    }  # fmt: skip
    assert all(
        entry["provenance"]["input_sha256"] == hashlib.sha256(sketch.read_bytes()).hexdigest()
        for entry in report.values()
    )
