"""Response bodies of the API (request bodies are multipart forms, see app.py)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from isegan.model.labels import FACE_CLASS_COLOURS, FACE_CLASS_NAMES
from isegan.service.provenance import ProvenanceRecord

OutputName = Literal["photo", "parsing", "stage1_photo", "sketch_parsing"]
OUTPUT_NAMES: tuple[OutputName, ...] = ("photo", "parsing", "stage1_photo", "sketch_parsing")
DEFAULT_OUTPUTS: tuple[OutputName, ...] = ("photo", "parsing")


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


class SynthesisResponse(BaseModel):
    request_id: str
    model_id: str
    parser_id: str
    images: dict[str, EncodedImage] = Field(
        description="photo (Y2), parsing (P_int), stage1_photo (Y1), sketch_parsing (P_s) as "
        "requested; photo_on_input too when the sketch was aligned. Parsing maps are "
        "palette PNGs whose pixel values are label indices."
    )
    labels: list[Label]
    aligned: bool
    batch_size: int = Field(description="Sketches in the forward pass this one ran in.")
    timings_ms: dict[str, float] = Field(
        description="decode, queue, align, parse, stage1, stage2, encode, audit, total. "
        "Batch stages are for the whole batch."
    )
    provenance: ProvenanceRecord


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


class Health(BaseModel):
    status: Literal["ok", "starting", "stopping"]
    model_id: str | None = None
