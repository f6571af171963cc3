"""C2PA Content Credentials: sign what isegan makes, and check what others bring.

A signed output carries a C2PA manifest with:

- a ``c2pa.created`` action whose digital source type is ``trainedAlgorithmicMedia``;
- the input sketch as an ``inputTo`` ingredient, recorded by title and format only, with
  no thumbnail (the manifest never holds a copy of the sketch);
- our own assertion ``dev.isegan.provenance``: the input's SHA-256, the model and parser
  ids, the code version, the request id, which output the file is, the chain-of-custody
  fields given with the request and, for a photo, its watermark's installation and record.

The signer is an ES256 key with its certificate chain, given as PEM files: an
organisation's, or the installation's own self-signed one (``installation.py``), made on
first use. Verifiers decide whom to trust by the root they pass as trust anchor.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from isegan.provenance.media_labels import DIGITAL_SOURCE_TYPE


def _c2pa() -> Any:
    """The C2PA library, imported when a manifest is signed or read: its native library
    is large, and a machine that only trains or benchmarks never needs it."""
    import c2pa

    return c2pa


ASSERTION_LABEL = "dev.isegan.provenance"
ROOT_FILE, CHAIN_FILE, KEY_FILE = "isegan-root.pem", "isegan-signer-chain.pem", "isegan-signer.key"


#: Input formats C2PA can describe as an ingredient.
INGREDIENT_MEDIA_TYPES = frozenset(
    {"image/png", "image/jpeg", "image/webp", "image/tiff", "image/gif"}
)


class CredentialsError(ValueError):
    """The signing key or certificate files cannot be used."""


class Verdict(StrEnum):
    """What a check of one image concluded; also the ``isegan verify`` exit status."""

    TRUSTED = "trusted"  # valid, and signed by a chain to a trusted root
    UNTRUSTED = "untrusted"  # valid and unedited, but the signer is not trusted here
    INVALID = "invalid"  # the image or its manifest changed after signing
    NO_CREDENTIALS = "no-credentials"  # nothing to check

    @property
    def exit_code(self) -> int:
        return {"trusted": 0, "untrusted": 3, "invalid": 4, "no-credentials": 5}[self.value]


@dataclass(frozen=True)
class Check:
    verdict: Verdict
    signer: str | None = None  # certificate common name and organisation
    provenance: dict[str, Any] = field(default_factory=dict)  # our assertion, if present
    digital_source_type: str | None = None
    failures: list[str] = field(default_factory=list)  # C2PA validation codes

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "signer": self.signer,
            "digital_source_type": self.digital_source_type,
            "provenance": self.provenance,
            "failures": self.failures,
        }


def _name(common_name: str, organisation: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
        ]
    )


def _key_usage(*, sign_certs: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not sign_certs,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=sign_certs,
        crl_sign=sign_certs,
        encipher_only=False,
        decipher_only=False,
    )


def generate_dev_chain(out: Path, organisation: str = "isegan development") -> dict[str, Path]:
    """A self-signed root and an ES256 signing certificate it issued, for development and
    tests. Verifiers trust it only when given ``isegan-root.pem`` as anchor."""
    now = dt.datetime.now(dt.UTC)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = _name(f"{organisation} root", organisation)
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(sign_certs=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), False)
        .sign(root_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{organisation} signer", organisation))
        .issuer_name(root_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=730))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(sign_certs=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), False
        )
        .sign(root_key, hashes.SHA256())
    )
    out.mkdir(parents=True, exist_ok=True)
    pem = serialization.Encoding.PEM
    paths = {"root": out / ROOT_FILE, "chain": out / CHAIN_FILE, "key": out / KEY_FILE}
    paths["root"].write_bytes(root.public_bytes(pem))
    paths["chain"].write_bytes(leaf.public_bytes(pem) + root.public_bytes(pem))
    paths["key"].touch(mode=0o600)
    paths["key"].write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


def root_of_chain(chain_pem: bytes) -> str:
    """The last certificate of a PEM chain (its root), as PEM text."""
    certificates = x509.load_pem_x509_certificates(chain_pem)
    return certificates[-1].public_bytes(serialization.Encoding.PEM).decode()


class CredentialSigner:
    """Signs encoded images with one key and certificate chain (thread-safe: each call
    builds its own manifest)."""

    def __init__(self, key_file: Path, chain_file: Path) -> None:
        try:
            key_pem = key_file.read_bytes()
            chain_pem = chain_file.read_bytes()
            certificates = x509.load_pem_x509_certificates(chain_pem)
            serialization.load_pem_private_key(key_pem, password=None)
        except (OSError, ValueError, TypeError) as error:
            raise CredentialsError(f"cannot use {key_file} / {chain_file}: {error}") from error
        self.subject = certificates[0].subject.rfc4514_string()
        c2pa = _c2pa()
        self._info = c2pa.C2paSignerInfo(b"es256", chain_pem, key_pem, None)
        # No thumbnails: a manifest must not carry a copy of the sketch (or the output).
        self._context_settings = {"builder": {"thumbnail": {"enabled": False}}}

    def sign(
        self,
        image: bytes,
        media_type: str,
        *,
        sketch: bytes,
        sketch_media_type: str,
        facts: dict[str, Any],
        title: str,
    ) -> bytes:
        manifest = {
            "claim_generator_info": [{"name": "isegan", "version": str(facts.get("code_version"))}],
            "title": title,
            "assertions": [
                {
                    "label": "c2pa.actions",
                    "data": {
                        "actions": [
                            {"action": "c2pa.created", "digitalSourceType": DIGITAL_SOURCE_TYPE}
                        ]
                    },
                },
                {"label": ASSERTION_LABEL, "data": facts},
            ],
        }
        c2pa = _c2pa()
        signer = c2pa.Signer.from_info(self._info)
        context = c2pa.Context.from_dict(self._context_settings)
        try:
            builder = c2pa.Builder(manifest, context)
            if sketch_media_type in INGREDIENT_MEDIA_TYPES:
                builder.add_ingredient(
                    {"title": "sketch", "relationship": "inputTo"},
                    sketch_media_type,
                    io.BytesIO(sketch),
                )  # else (BMP, PPM) the input is known by input_sha256 in our assertion
            signed = io.BytesIO()
            builder.sign(signer, media_type, io.BytesIO(image), signed)
            return signed.getvalue()
        finally:
            signer.close()
            context.close()


def check(data: bytes, media_type: str, trust_anchors: str | None = None) -> Check:
    """Validate an image's C2PA manifest: signature, hash binding and (with
    ``trust_anchors`` PEM text) whether the signer chains to a trusted root."""
    settings: dict[str, Any] = {"verify": {"verify_trust": bool(trust_anchors)}}
    if trust_anchors:
        settings["trust"] = {"trust_anchors": trust_anchors}
    c2pa = _c2pa()
    context = c2pa.Context.from_dict(settings)
    try:
        try:
            reader = c2pa.Reader(media_type, io.BytesIO(data), context=context)
        except c2pa.C2paError as error:
            if "ManifestNotFound" in type(error).__name__ or "no JUMBF" in str(error):
                return Check(Verdict.NO_CREDENTIALS)
            return Check(Verdict.INVALID, failures=[f"{type(error).__name__}: {error}"])
        with reader:
            state = reader.get_validation_state()
            results = reader.get_validation_results() or {}
            manifest = reader.get_active_manifest() or {}
    finally:
        context.close()
    failures = [f["code"] for f in results.get("activeManifest", {}).get("failure", [])]
    provenance: dict[str, Any] = {}
    source_type = None
    for assertion in manifest.get("assertions", []):
        if assertion.get("label") == ASSERTION_LABEL:
            provenance = dict(assertion.get("data", {}))
        if assertion.get("label", "").startswith("c2pa.actions"):
            for action in assertion.get("data", {}).get("actions", []):
                if action.get("action") == "c2pa.created":
                    source_type = action.get("digitalSourceType")
    signature = manifest.get("signature_info", {})
    signer = ", ".join(v for v in (signature.get("common_name"), signature.get("issuer")) if v)
    only_untrusted = bool(failures) and set(failures) == {"signingCredential.untrusted"}
    if state == "Trusted":
        verdict = Verdict.TRUSTED
    elif state == "Valid" or (state == "Invalid" and only_untrusted):
        verdict = Verdict.UNTRUSTED
    else:
        verdict = Verdict.INVALID
    return Check(verdict, signer or None, provenance, source_type, failures)


def describe(result: Check) -> str:
    """One human-readable paragraph for ``isegan verify``."""
    lines = [f"verdict: {result.verdict.value}"]
    if result.signer:
        lines.append(f"signed by: {result.signer}")
    if result.digital_source_type:
        lines.append(f"source type: {result.digital_source_type.rsplit('/', 1)[-1]}")
    for key in ("output", "input_sha256", "model_id", "parser_id", "code_version", "request_id",
                "case_id", "evidence_id", "examiner", "note", "watermark"):  # fmt: skip
        if key in result.provenance:
            lines.append(f"{key}: {result.provenance[key]}")
    if result.failures:
        lines.append(f"failed checks: {', '.join(result.failures)}")
    return "\n".join(lines)


def to_json(results: dict[str, Check]) -> str:
    return json.dumps({name: r.as_dict() for name, r in results.items()}, indent=2)
