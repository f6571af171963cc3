"""POST /verify: an image's Content Credentials and invisible watermark."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, UploadFile
from fastapi.concurrency import run_in_threadpool
from PIL import Image

from isegan.provenance.credentials import Check, check
from isegan.service.dependencies import Settings, State
from isegan.service.http.openapi import problem_responses
from isegan.service.http.problems import ProblemError, ProblemType
from isegan.service.runtime.state import ServiceState
from isegan.service.schemas import VerifyResponse, WatermarkInfo
from isegan.service.uploads import UploadLimits, decode_image, sniff_format

router = APIRouter(tags=["provenance"])


@router.post(
    "/verify", response_model=VerifyResponse, responses=problem_responses(400, 413, 415, 422)
)
async def verify(
    state: State,
    settings: Settings,
    image: Annotated[
        UploadFile, File(description="An image to check (PNG, JPEG, BMP, TIFF or WebP).")
    ],
) -> VerifyResponse:
    """Check an image's C2PA Content Credentials (signature, hash binding, and trust:
    the configured anchors, else this service's own root), and read its invisible
    watermark, which survives when the manifest is stripped."""
    data = await image.read()
    result, watermark = await run_in_threadpool(check_image, state, settings.limits, data)
    return VerifyResponse(**result.as_dict(), watermark=watermark)


def check_image(
    state: ServiceState, limits: UploadLimits, data: bytes
) -> tuple[Check, WatermarkInfo | None]:
    """The credentials' verdict, and the watermark's reading when watermarking is on
    (pixels that do not decode, as in an edited file, carry no reading)."""
    if not data:
        raise ProblemError(ProblemType.EMPTY_UPLOAD, "the image upload is empty")
    fmt = sniff_format(data, limits)
    result = check(data, Image.MIME.get(fmt, "image/png"), state.trust_anchors)
    if state.watermarker is None:
        return result, None
    try:
        pixels = decode_image(data, limits).image
    except ProblemError:
        return result, None
    reading = state.watermarker.read(pixels, state.known_installations)
    return result, WatermarkInfo.model_validate(reading.as_dict()) if reading else None
