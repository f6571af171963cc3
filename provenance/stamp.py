"""The one place a synthesis becomes files and a provenance record.

:class:`Stamper` takes the (already watermarked) outputs of one sketch, the upload they
came from, the options, custody fields and request id, and gives back the encoded,
labelled, signed files and the record that names them. The service and ``isegan
synthesize`` both call it, so a record from either has the same fields, filled the same
way; what differs between them (the options a request can set) is passed in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from PIL import Image

from isegan.model.stamps import utc_now
from isegan.provenance.credentials import CredentialSigner
from isegan.provenance.custody import Custody
from isegan.provenance.media_labels import EmbeddedFacts, OutputFormat, ProvenanceRecord, sha256_hex
from isegan.provenance.outputs import Output, OutputName
from isegan.provenance.render import Marked, Rendered, Signing, render_outputs


@dataclass(frozen=True)
class Upload:
    """The sketch as received (its bytes are what the record's hashes name) and, when
    one replaced P_s, the parsing map's bytes."""

    data: bytes
    media_type: str
    parsing: bytes | None = None

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @cached_property
    def parsing_sha256(self) -> str | None:
        return sha256_hex(self.parsing) if self.parsing is not None else None


@dataclass(frozen=True)
class Stamped:
    files: dict[OutputName, Rendered]
    record: ProvenanceRecord
    seconds: dict[str, float]  # "encode" and "sign"


@dataclass(frozen=True)
class Stamper:
    """What every output of one installation states: which model, parser and code made
    it, and who signs it (None: unsigned)."""

    model_id: str
    parser_id: str
    code_version: str
    signer: CredentialSigner | None = None

    def stamp(
        self,
        marked: Marked,
        upload: Upload,
        *,
        request_id: str,
        options: Mapping[str, str | bool | int | list[str]],
        custody: Custody,
        inference: Mapping[str, str | bool | int],
        fmt: OutputFormat = "png",
        colour: dict[str, Any] | None = None,
    ) -> Stamped:
        """The files and record of one sketch's outputs; ``colour`` is the colouring's
        record section (model/colour/colouring.py), also stated in each photo's manifest."""
        facts = EmbeddedFacts(
            output=str(Output.PHOTO),
            input_sha256=upload.sha256,
            parsing_input_sha256=upload.parsing_sha256,
            model_id=self.model_id,
            parser_id=self.parser_id,
            code_version=self.code_version,
        )
        rendered = render_outputs(
            marked.images,
            facts,
            fmt,
            signing=self._signing(upload, request_id, custody),
            watermark=marked.watermark,
            assertions=colour_assertions(colour),
        )
        record = ProvenanceRecord(
            request_id=request_id,
            created=utc_now(),
            input_sha256=upload.sha256,
            parsing_input_sha256=upload.parsing_sha256,
            outputs={str(name): sha256_hex(f.data) for name, f in rendered.files.items()},
            model_id=self.model_id,
            parser_id=self.parser_id,
            code_version=self.code_version,
            options=dict(options),
            custody=custody.given() or None,
            watermark=marked.watermark,
            colour=colour,
            inference=dict(inference),
        )
        return Stamped(rendered.files, record, rendered.seconds)

    def _signing(self, upload: Upload, request_id: str, custody: Custody) -> Signing | None:
        if self.signer is None:
            return None
        assertion: dict[str, Any] = {"request_id": request_id, **custody.given()}
        return Signing(self.signer, upload.data, upload.media_type, assertion)


def colour_assertions(colour: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """What each photo's manifest says of its colours: the hinted photo (and the same
    photo on the input) the hints, each variation its own colours."""
    if colour is None:
        return {}
    hinted = {key: value for key, value in colour.items() if key in ("hints", "not_applied")}
    assertions = {str(name): {"colour": hinted} for name in (Output.PHOTO, Output.PHOTO_ON_INPUT)}
    for name, entry in colour.get("variations", {}).items():
        assertions[name] = {"colour": entry}
    return assertions


def media_type_of(image_format: str | None) -> str:
    """The media type of a decoded upload's format (Pillow's name, e.g. "PNG")."""
    return Image.MIME.get(image_format or "", "application/octet-stream")
