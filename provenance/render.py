"""Turn a pipeline result into the files handed out: watermarked, labelled, signed.

Three steps, shared by the service and ``isegan synthesize`` so a photo from either
carries the same marks:

1. :func:`output_images`: the requested outputs as images;
2. :meth:`PhotoMarker.mark`: the invisible watermark in the photos' pixels (a parsing
   map's pixels are label indices, so it is left alone). The service runs this step on
   its inference worker, right after the batch, since the watermark is a torch network;
3. :func:`render_outputs`: each image encoded with its XMP synthetic-media label and,
   when a signer is given, a C2PA manifest whose assertion holds the embedded facts, the
   custody fields and the watermark's record (:mod:`isegan.provenance.stamp` adds the
   provenance record).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from isegan.model.colour.colouring import Colouring
from isegan.model.face_classes import parsing_to_image
from isegan.model.pipeline import PipelineResult
from isegan.provenance.credentials import CredentialSigner
from isegan.provenance.installation import RecordNumbers
from isegan.provenance.media_labels import EmbeddedFacts, OutputFormat, encode_image
from isegan.provenance.outputs import Output, OutputName, Variation
from isegan.provenance.watermark import Watermarker


@dataclass(frozen=True)
class Rendered:
    data: bytes
    media_type: str
    size: tuple[int, int]


@dataclass(frozen=True)
class Marked:
    """Outputs after watermarking, with what the record says of the mark (None: no
    watermark) and the seconds it took."""

    images: dict[OutputName, Image.Image]
    watermark: dict[str, Any] | None
    seconds: float


@dataclass(frozen=True)
class PhotoMarker:
    """Hides (installation, record number) in the photos of one output set; the record
    number is drawn when the photos are marked, so only outputs that exist use one."""

    watermarker: Watermarker
    installation: str
    records: RecordNumbers

    def mark(self, images: Mapping[OutputName, Image.Image]) -> Marked:
        started = time.perf_counter()
        record = self.records.next()
        marked = {
            name: (
                self.watermarker.embed(image, self.installation, record) if name.is_photo else image
            )
            for name, image in images.items()
        }
        fields = {
            "method": "rivagan",
            "installation": self.installation,
            "record": record,
            "precision": self.watermarker.precision,
        }
        return Marked(marked, fields, time.perf_counter() - started)


def unmarked(images: Mapping[OutputName, Image.Image]) -> Marked:
    """The outputs as they are, where the watermark is off."""
    return Marked(dict(images), None, 0.0)


@dataclass(frozen=True)
class Signing:
    """What a signed output's manifest says beside the embedded facts."""

    signer: CredentialSigner
    sketch: bytes
    sketch_media_type: str
    assertion: dict[str, Any] = field(default_factory=dict)  # custody, request id, ...


def output_images(
    result: PipelineResult, names: Iterable[str], sketch: Image.Image
) -> dict[OutputName, Image.Image]:
    """The requested outputs as images; ``photo_on_input`` joins the photo when the
    sketch was warped, since only it shows the face where the examiner drew it."""
    makers = {
        Output.PHOTO: lambda: result.photo,
        Output.STAGE1_PHOTO: lambda: result.stage1_photo,
        Output.PARSING: lambda: parsing_to_image(result.intermediate_parsing),
        Output.SKETCH_PARSING: lambda: parsing_to_image(result.sketch_parsing),
    }
    wanted = [Output(name) for name in names]
    images: dict[OutputName, Image.Image] = {name: makers[name]() for name in wanted}
    if result.warped and Output.PHOTO in wanted:
        images[Output.PHOTO_ON_INPUT] = result.photo_on_input(sketch)
    return images


def coloured_images(
    colouring: Colouring, names: Iterable[str], sketch: Image.Image
) -> dict[OutputName, Image.Image]:
    """The requested outputs of a coloured result (:func:`output_images`), then each of
    its variations as an output of its own."""
    images = output_images(colouring.result, names, sketch)
    images.update({Variation(v.index): v.photo for v in colouring.variations})
    return images


@dataclass(frozen=True)
class RenderedOutputs:
    files: dict[OutputName, Rendered]
    seconds: dict[str, float]  # "encode" and "sign", over all outputs


def render_outputs(
    images: Mapping[OutputName, Image.Image],
    facts: EmbeddedFacts,
    fmt: OutputFormat = "png",
    *,
    signing: Signing | None = None,
    watermark: dict[str, Any] | None = None,
    assertions: Mapping[str, dict[str, Any]] | None = None,
) -> RenderedOutputs:
    """Each image as file bytes, labelled, then signed; ``watermark`` is the mark the
    photos already carry, named in their manifests; ``assertions`` adds fields to the
    manifest of the output of that name (a hinted photo's colours, say)."""
    files: dict[OutputName, Rendered] = {}
    spent = {"encode": 0.0, "sign": 0.0}
    for name, image in images.items():
        started = time.perf_counter()
        labelled = facts.model_copy(update={"output": str(name)})
        data, media_type = encode_image(image, labelled, fmt)
        encoded = time.perf_counter()
        spent["encode"] += encoded - started
        if signing is not None:
            assertion = {**labelled.model_dump(exclude_none=True), **signing.assertion}
            if watermark is not None and name.is_photo:
                assertion["watermark"] = watermark
            assertion.update((assertions or {}).get(str(name), {}))
            data = signing.signer.sign(
                data,
                media_type,
                sketch=signing.sketch,
                sketch_media_type=signing.sketch_media_type,
                facts=assertion,
                title=f"{name}.{media_type.split('/')[-1]}",
            )
            spent["sign"] += time.perf_counter() - encoded
        files[name] = Rendered(data, media_type, image.size)
    return RenderedOutputs(files, spent)
