"""Response bodies of the API (request bodies are multipart forms, see app.py)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from isegan.model.face_classes import FACE_CLASS_COLOURS, FACE_CLASS_NAMES
from isegan.provenance.media_labels import ProvenanceRecord
from isegan.provenance.outputs import REQUESTABLE

#: What ``outputs`` may name, from the one list (isegan.provenance.outputs).
OUTPUT_NAMES: tuple[str, ...] = tuple(str(name) for name in REQUESTABLE)
_ONE_OUTPUT = "(?:" + "|".join(OUTPUT_NAMES) + ")"
#: The ``outputs`` option: output names separated by commas, blanks allowed around them.
#: The OpenAPI schema publishes this pattern and the route validates with it, so the
#: schema is exactly as strict as the service.
OUTPUTS_PATTERN = rf"^[ \t]*{_ONE_OUTPUT}[ \t]*(?:,[ \t]*{_ONE_OUTPUT}[ \t]*)*$"
OUTPUTS_MAX_LENGTH = 200


class EncodedImage(BaseModel):
    media_type: str = Field(examples=["image/png"])
    width: int
    height: int
    sha256: str = Field(description="SHA-256 of the decoded file bytes.")
    data: str = Field(description="The file, base64-encoded.")


class Label(BaseModel):
    index: int = Field(description="The pixel value in a parsing map.")
    name: str
    colour: tuple[int, int, int] = Field(description="RGB colour in the map's palette.")


LABELS: list[Label] = [
    Label(index=i, name=name, colour=colour)
    for i, (name, colour) in enumerate(zip(FACE_CLASS_NAMES, FACE_CLASS_COLOURS, strict=True))
]


_EXAMPLE_SHA = "3f1c2d9e6b4a4f0e9d7c1a2b3c4d5e6f3f1c2d9e6b4a4f0e9d7c1a2b3c4d5e6f"


class SynthesisResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "request_id": "case-2041-sketch-3",
                    "model_id": _EXAMPLE_SHA,
                    "parser_id": _EXAMPLE_SHA,
                    "images": {
                        "photo": {"media_type": "image/png", "width": 200, "height": 250,
                                  "sha256": _EXAMPLE_SHA, "data": "iVBORw0KGgo..."},
                        "parsing": {"media_type": "image/png", "width": 200, "height": 250,
                                    "sha256": _EXAMPLE_SHA, "data": "iVBORw0KGgo..."},
                    },
                    "labels": [{"index": 0, "name": "background", "colour": [0, 0, 0]}],
                    "content_credentials": "signed",
                    "aligned": False,
                    "batch_size": 1,
                    "timings_ms": {"decode": 2.1, "queue": 5.3, "parse": 33.0, "stage1": 80.3,
                                   "stage2": 63.0, "postprocess": 17.4, "encode": 10.3,
                                   "audit": 0.9, "total": 215.9},
                    "provenance": {
                        "schema_version": "isegan.provenance/1",
                        "request_id": "case-2041-sketch-3",
                        "created": "2026-11-30T04:04:57.269Z",
                        "digital_source_type": "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
                        "input_sha256": _EXAMPLE_SHA,
                        "outputs": {"photo": _EXAMPLE_SHA, "parsing": _EXAMPLE_SHA},
                        "model_id": _EXAMPLE_SHA,
                        "parser_id": _EXAMPLE_SHA,
                        "code_version": "0.1.0+g350ea30d1c2f",
                        "options": {"outputs": ["photo", "parsing"], "format": "png",
                                    "align": False},
                    },
                }
            ]
        }
    )  # fmt: skip

    request_id: str
    model_id: str
    parser_id: str
    images: dict[str, EncodedImage] = Field(
        description="photo (Y2), parsing (P_int), stage1_photo (Y1), sketch_parsing (P_s) as "
        "requested; photo_on_input too when the sketch was warped (aligned); variation_1 ... "
        "variation_N when variations were asked for. Parsing maps are palette PNGs whose "
        "pixel values are label indices."
    )
    labels: list[Label]
    content_credentials: Literal["signed", "unsigned"] = Field(
        description="Whether each image carries a signed C2PA manifest (a key is configured)."
    )
    aligned: bool = Field(
        description="Whether the networks saw a warped copy of the sketch (align found it "
        "outside the CUFS frame); the photo is then in the CUFS frame and photo_on_input "
        "is in the sketch's."
    )
    batch_size: int = Field(description="Sketches in the forward pass this one ran in.")
    timings_ms: dict[str, float] = Field(
        description="decode, queue, align, parse, stage1, stage2, postprocess, encode, sign, "
        "audit, total. Batch stages are for the whole batch."
    )
    colour: dict[str, Any] | None = Field(
        None,
        description="When colour hints or variations were asked for: the hints applied "
        "(region -> value, rgb), those that could not be (not_applied: region -> why), and "
        "each variation image's label and colours. The provenance record holds the same.",
    )
    provenance: ProvenanceRecord


class ContentCredentialsInfo(BaseModel):
    signing: bool = Field(description="Outputs carry signed C2PA manifests.")
    signer: str | None = Field(description="Subject of the signing certificate.")
    key: Literal["organisation", "installation", "off"] = Field(
        "off",
        description="Whose key signs: a configured organisation key, or this installation's "
        "own (self-signed: verifiers say 'untrusted' until given its root).",
    )
    installation: str | None = Field(None, description="This installation's id.")
    watermark: bool = Field(False, description="Output photos carry the invisible watermark.")


class WatermarkInfo(BaseModel):
    synthetic: bool = True
    installation: str = Field(description="The installation whose check the payload passed.")
    record: int = Field(description="Its record number, modulo 2**20 (isegan audit find).")
    flipped_bits: int = Field(description="Uncertain bits the reading had to flip (0-2).")
    strength: float = Field(description="Mean decoder score magnitude (unmarked: under 3).")


class VerifyResponse(BaseModel):
    verdict: Literal["trusted", "untrusted", "invalid", "no-credentials"]
    signer: str | None
    digital_source_type: str | None
    provenance: dict[str, Any] = Field(description="isegan's own assertion, when present.")
    failures: list[str] = Field(description="C2PA validation codes that failed.")
    watermark: WatermarkInfo | None = Field(
        None,
        description="The invisible watermark of an installation this service knows, read "
        "from the pixels (present even when the manifest and XMP were stripped).",
    )


class ColourInfo(BaseModel):
    palettes: dict[str, dict[str, str]] = Field(
        description="Request field (hair_colour, skin_tone, eye_colour) -> palette name -> "
        "#rrggbb. A hint is one of these names or any #rrggbb colour."
    )
    max_variations: int = Field(description="The most variations one request may ask for.")


def colour_info(max_variations: int) -> ColourInfo:
    """The palettes as the request fields name them (model/colour/hints.py)."""
    from isegan.model.colour.colouring import HINT_FIELDS
    from isegan.model.colour.hints import PALETTES

    palettes = {
        HINT_FIELDS[region]: {
            name: "#{:02x}{:02x}{:02x}".format(*rgb) for name, rgb in colours.items()
        }
        for region, colours in PALETTES.items()
    }
    return ColourInfo(palettes=palettes, max_variations=max_variations)


class ModelInfo(BaseModel):
    model_id: str = Field(description="SHA-256 of the generator checkpoint file.")
    parser_id: str = Field(description="SHA-256 of the parser weights file.")
    code_version: str
    device: str
    two_stage: bool
    architecture: dict[str, Any]
    training: dict[str, Any] | None
    data: dict[str, Any] | None
    metrics: dict[str, float | None]
    notes: str
    created_at: str
    labels: list[Label]
    content_credentials: ContentCredentialsInfo
    colour: ColourInfo


class Health(BaseModel):
    status: Literal["ok", "starting", "stopping", "audit-unavailable"]
    model_id: str | None = None
    detail: str | None = None
