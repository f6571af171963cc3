"""Turn a pipeline result into the files handed out: watermarked, labelled, signed.

The one path the service and ``isegan synthesize`` share, so a photo from either carries
the same marks: the invisible watermark in its pixels (photos only; a parsing map's
pixels are label indices), the XMP synthetic-media label, and a C2PA manifest whose
assertion holds the embedded facts, the custody fields and the watermark's record.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from isegan.model.labels import parsing_to_image
from isegan.model.pipeline import PipelineResult
from isegan.provenance.credentials import CredentialSigner
from isegan.provenance.labels import EmbeddedFacts, OutputFormat, encode_image
from isegan.provenance.watermark import Watermarker

#: Outputs that are photos, and so carry the watermark.
PHOTO_OUTPUTS = frozenset({"photo", "stage1_photo", "photo_on_input"})


@dataclass(frozen=True)
class Rendered:
    data: bytes
    media_type: str
    size: tuple[int, int]


@dataclass(frozen=True)
class WatermarkMark:
    """What to hide in the photos of one request."""

    watermarker: Watermarker
    installation: str
    record: int

    def record_fields(self) -> dict[str, Any]:
        return {
            "method": "rivagan",
            "installation": self.installation,
            "record": self.record,
            "precision": self.watermarker.precision,
        }


@dataclass(frozen=True)
class Signing:
    """What a signed output's manifest says beside the embedded facts."""

    signer: CredentialSigner
    sketch: bytes
    sketch_media_type: str
    assertion: dict[str, Any] = field(default_factory=dict)  # custody, request id, ...


def output_images(
    result: PipelineResult, names: Iterable[str], sketch: Image.Image
) -> dict[str, Image.Image]:
    """The requested outputs as images; ``photo_on_input`` joins the photo when the
    sketch was warped, since only it shows the face where the examiner drew it."""
    makers = {
        "photo": lambda: result.photo,
        "stage1_photo": lambda: result.stage1_photo,
        "parsing": lambda: parsing_to_image(result.intermediate_parsing),
        "sketch_parsing": lambda: parsing_to_image(result.sketch_parsing),
    }
    names = list(names)
    images = {name: makers[name]() for name in names}
    if result.warped and "photo" in names:
        images["photo_on_input"] = result.photo_on_input(sketch)
    return images


def render_outputs(
    images: dict[str, Image.Image],
    facts: EmbeddedFacts,
    fmt: OutputFormat = "png",
    *,
    watermark: WatermarkMark | None = None,
    signing: Signing | None = None,
    timings: dict[str, float] | None = None,
) -> dict[str, Rendered]:
    """Each image as file bytes: watermarked if a photo, labelled, then signed. The
    seconds each step took over all images are added to ``timings`` under
    ``watermark``, ``encode`` and ``sign`` when it is given."""
    rendered = {}
    spent = {"watermark": 0.0, "encode": 0.0, "sign": 0.0}
    for name, image in images.items():
        started = time.perf_counter()
        if watermark is not None and name in PHOTO_OUTPUTS:
            image = watermark.watermarker.embed(image, watermark.installation, watermark.record)
        marked = time.perf_counter()
        labelled = facts.model_copy(update={"output": name})
        data, media_type = encode_image(image, labelled, fmt)
        encoded = time.perf_counter()
        spent["watermark"] += marked - started
        spent["encode"] += encoded - marked
        if signing is not None:
            assertion = {**labelled.model_dump(exclude_none=True), **signing.assertion}
            if watermark is not None and name in PHOTO_OUTPUTS:
                assertion["watermark"] = watermark.record_fields()
            data = signing.signer.sign(
                data,
                media_type,
                sketch=signing.sketch,
                sketch_media_type=signing.sketch_media_type,
                facts=assertion,
                title=f"{name}.{media_type.split('/')[-1]}",
            )
            spent["sign"] += time.perf_counter() - encoded
        rendered[name] = Rendered(data, media_type, image.size)
    if timings is not None:
        for step, seconds in spent.items():
            timings[step] = timings.get(step, 0.0) + seconds
    return rendered
