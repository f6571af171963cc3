"""POST /synthesize: sketch in; photo, intermediate parsing and provenance out.

The route reads as the request's life, in three hops off the event loop:

1. decode the uploads (a thread of the pool);
2. infer and mark: the inference worker runs the sketch in a batch, turns the result
   into the wanted outputs and watermarks the photos (service/runtime/worker.py);
3. stamp and audit: encode, label and sign the files, make the record
   (provenance/stamp.py, shared with the CLI) and append it to the audit log (a thread
   of the pool).

Each step is one function below, in that order; each returns its own seconds.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, File, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from isegan.model.alignment.align import NoFaceFoundError
from isegan.model.alignment.five_points import INSTALL_HINT as ALIGNMENT_INSTALL_HINT
from isegan.model.colour.colouring import ColourRequest
from isegan.provenance.audit import AuditLog, AuditUnavailableError
from isegan.provenance.custody import Custody
from isegan.provenance.media_labels import OutputFormat
from isegan.provenance.outputs import Output
from isegan.provenance.stamp import Stamped, Stamper, Upload, media_type_of
from isegan.service.colour_options import Colour
from isegan.service.dependencies import (
    Audit,
    Custodied,
    Marker,
    Metrics,
    Options,
    Pipeline,
    Settings,
    StamperOf,
    State,
    SynthesisOptions,
    Worker,
)
from isegan.service.http.negotiation import negotiate
from isegan.service.http.openapi import problem_responses
from isegan.service.http.problems import ProblemError, ProblemType
from isegan.service.http.request_context import current_request_id
from isegan.service.prometheus import ServiceMetrics
from isegan.service.runtime.worker import (
    InferenceWorker,
    JobOutcome,
    QueueFullError,
    WorkerStoppedError,
)
from isegan.service.schemas import LABELS, EncodedImage, SynthesisResponse
from isegan.service.settings import ServiceSettings
from isegan.service.uploads import (
    DecodedImage,
    UploadLimits,
    check_sketch_content,
    decode_image,
    decode_parsing,
)

logger = logging.getLogger(__name__)
#: Seconds a client should wait before retrying while the audit log cannot be written.
AUDIT_RETRY_AFTER_S = 5

Credentials = Literal["signed", "unsigned"]

router = APIRouter(tags=["synthesis"])


@router.post(
    "/synthesize",
    response_model=SynthesisResponse,
    responses={
        200: {
            "content": {"image/png": {}, "image/jpeg": {}, "image/webp": {}},
            "description": "JSON by default; with `Accept: image/png` (or jpeg, webp) "
            "the photo alone, its provenance in `X-Isegan-*` headers.",
        },
        **problem_responses(400, 406, 413, 415, 422, 503, 504),
    },
)
async def synthesize(
    request: Request,
    state: State,
    pipeline: Pipeline,
    worker: Worker,
    stamper: StamperOf,
    marker: Marker,
    audit: Audit,
    metrics: Metrics,
    settings: Settings,
    options: Options,
    colour: Colour,
    custody: Custodied,
    sketch: Annotated[
        UploadFile, File(description="The face sketch (PNG, JPEG, BMP, TIFF or WebP).")
    ],
    parsing: Annotated[
        UploadFile | None,
        File(
            description="Optional corrected sketch parsing: a palette or greyscale PNG of "
            "label indices 0-7, the sketch's size. Replaces the automatic P_s."
        ),
    ] = None,
) -> Response:
    """Sketch in; photo (Y2), intermediate parsing (P_int) and provenance out.

    Options may come as query parameters or form fields (not both at once).
    With `align=auto` (the default) a sketch that is not already CUFS-aligned is first
    warped so the face sits where CUFS has it; a sketch with no face found is a 422.
    Colour hints (`hair_colour`, `skin_tone`, `eye_colour`) recolour the photo's regions;
    `variations=N` adds N labelled colourings (docs/colour.md).
    """
    received = time.perf_counter()
    reply = Reply.negotiated(request.headers.get("accept"), options, colour)
    check_options(options, alignment_available=state.alignment_available,
                  with_parsing=parsing is not None)  # fmt: skip

    inputs = await decode_inputs(settings.limits, sketch, parsing)
    decoded_at = time.perf_counter()
    remaining = settings.request_timeout_s - (decoded_at - received)
    outcome = await infer_and_mark(worker, metrics, settings, inputs, reply, marker, remaining)
    inference = {**pipeline.inference_record(), "batch_size": outcome.batch_size}
    stamped, audit_s = await stamp_and_audit(
        stamper, audit, metrics, outcome, inputs.upload, reply, custody, inference
    )

    stages = {"decode": decoded_at - received, **stamped.seconds, "audit": audit_s}
    metrics.observe_stages(stages)
    credentials: Credentials = "signed" if stamper.signer is not None else "unsigned"
    if reply.as_image:
        return image_response(stamped, credentials)
    timings = {"decode": stages["decode"], **outcome.stage_seconds, **stamped.seconds}
    timings |= {"audit": audit_s, "total": time.perf_counter() - received}
    return json_response(stamped, outcome, credentials, timings)


@dataclass(frozen=True)
class Reply:
    """What the client gets: the JSON body with the chosen outputs, or (when its Accept
    header asks for an image) the photo alone."""

    as_image: bool
    format: OutputFormat
    outputs: tuple[Output, ...]
    options: SynthesisOptions
    colour: ColourRequest

    @classmethod
    def negotiated(
        cls, accept: str | None, options: SynthesisOptions, colour: ColourRequest
    ) -> Reply:
        representation = negotiate(accept, options.format)
        if representation == "json":
            return cls(False, options.format, options.outputs, options, colour)
        if colour.variations:
            raise ProblemError(
                ProblemType.INVALID_OPTIONS,
                "variations come back as extra images in the JSON reply; an image reply "
                f"(Accept: image/{representation}) holds the photo alone",
                errors=[{"loc": ["body", "variations"], "msg": "needs the JSON reply",
                         "type": "invalid-options"}],
            )  # fmt: skip
        return cls(True, representation, (Output.PHOTO,), options, colour)


@dataclass(frozen=True)
class Inputs:
    """The uploads as received (their bytes are what the record's hashes name) and as
    decoded."""

    sketch: DecodedImage
    upload: Upload
    class_map: np.ndarray | None


def check_options(
    options: SynthesisOptions, *, alignment_available: bool, with_parsing: bool
) -> None:
    """Refuse option combinations that cannot succeed, before any upload is decoded."""
    if options.align == "true" and with_parsing:
        raise ProblemError(
            ProblemType.INVALID_OPTIONS,
            "a supplied parsing map is in the sketch's frame and cannot be combined "
            "with align=true",
        )
    if options.align != "false" and not alignment_available:
        raise ProblemError(
            ProblemType.ALIGNMENT_UNAVAILABLE,
            f"{ALIGNMENT_INSTALL_HINT}; or send an aligned sketch with align=false",
        )


async def decode_inputs(
    limits: UploadLimits, sketch: UploadFile, parsing: UploadFile | None
) -> Inputs:
    """Read and decode the uploads within the service's limits (off the event loop)."""
    sketch_bytes = await sketch.read()
    parsing_bytes = await parsing.read() if parsing is not None else None

    def decode() -> Inputs:
        decoded = decode_image(sketch_bytes, limits)
        check_sketch_content(decoded.image)
        class_map = None
        if parsing_bytes is not None:
            class_map = decode_parsing(parsing_bytes, limits, decoded.image.size)
        upload = Upload(sketch_bytes, media_type_of(decoded.format), parsing_bytes)
        return Inputs(decoded, upload, class_map)

    return await run_in_threadpool(decode)


async def infer_and_mark(
    worker: InferenceWorker,
    metrics: ServiceMetrics,
    settings: ServiceSettings,
    inputs: Inputs,
    reply: Reply,
    marker: Marker,
    remaining_s: float,
) -> JobOutcome:
    """One trip to the batching worker: the sketch in, the wanted outputs out with the
    photos watermarked, within what is left of the request's deadline; each way it can
    fail is its own problem type."""
    retry_s = settings.retry_after_s
    try:
        if remaining_s <= 0:
            raise TimeoutError
        return await worker.submit(
            inputs.sketch.image,
            align=reply.options.align,
            sketch_parsing=inputs.class_map,
            timeout_s=remaining_s,
            outputs=reply.outputs,
            marker=marker,
            colour=reply.colour,
        )
    except QueueFullError as error:
        metrics.rejected.labels("queue_full").inc()
        raise ProblemError(
            ProblemType.OVERLOADED,
            f"the inference queue is full ({error}); retry later",
            retry_after_s=retry_s,
        ) from error
    except WorkerStoppedError as error:
        raise ProblemError(ProblemType.SHUTTING_DOWN, str(error), retry_after_s=retry_s) from error
    except TimeoutError as error:
        metrics.rejected.labels("deadline").inc()
        raise ProblemError(
            ProblemType.DEADLINE_EXCEEDED,
            f"no result within the {settings.request_timeout_s:g} s request timeout",
        ) from error
    except NoFaceFoundError as error:
        raise ProblemError(ProblemType.NO_FACE_FOUND, str(error)) from error
    except ValueError as error:
        raise ProblemError(ProblemType.UNPROCESSABLE_SKETCH, str(error)) from error


async def stamp_and_audit(
    stamper: Stamper,
    audit: AuditLog | None,
    metrics: ServiceMetrics,
    outcome: JobOutcome,
    upload: Upload,
    reply: Reply,
    custody: Custody,
    inference: dict[str, str | bool | int],
) -> tuple[Stamped, float]:
    """One hop off the loop: encode, label and sign the outputs and make their record
    (provenance/stamp.py, shared with the CLI), then append the record to the audit log
    (fsynced before the response). Returns the stamped files and the audit's seconds.

    A log that cannot be written is a 503 of its own kind, since the response would
    otherwise leave the service unrecorded, logged in one line."""
    request_id = current_request_id()
    options: dict[str, str | bool | int | list[str]] = {
        "outputs": [str(name) for name in reply.outputs],
        "format": reply.format,
        "align": reply.options.align,
        "canonicalise": bool(inference.get("canonicalise", False)),
        **reply.colour.options(),
    }

    def stamp_and_append() -> tuple[Stamped, float]:
        stamped = stamper.stamp(
            outcome.outputs, upload, request_id=request_id, options=options,
            custody=custody, inference=inference, fmt=reply.format,
            colour=outcome.colouring.record(),
        )  # fmt: skip
        started = time.perf_counter()
        if audit is not None:
            audit.append({"event": "synthesize", **stamped.record.model_dump(mode="json")})
        return stamped, time.perf_counter() - started

    try:
        return await run_in_threadpool(stamp_and_append)
    except AuditUnavailableError as error:
        metrics.audit_failures.inc()
        metrics.audit_healthy.set(0)
        logger.error("audit log unavailable, request %s refused: %s", request_id, error)
        raise ProblemError(
            ProblemType.AUDIT_UNAVAILABLE,
            "the service cannot record this request in its audit log (disk full or "
            "not writable), so it returns no image; try again later or another replica",
            retry_after_s=AUDIT_RETRY_AFTER_S,
        ) from None


def image_response(stamped: Stamped, credentials: Credentials) -> Response:
    """The photo alone; its provenance in ``X-Isegan-*`` headers."""
    photo, record = stamped.files[Output.PHOTO], stamped.record
    return Response(
        photo.data,
        media_type=photo.media_type,
        headers={
            "X-Isegan-Model-Id": record.model_id,
            "X-Isegan-Parser-Id": record.parser_id,
            "X-Isegan-Input-Sha256": record.input_sha256,
            "X-Isegan-Output-Sha256": record.outputs[Output.PHOTO],
            "X-Isegan-Provenance": json.dumps(record.model_dump(), separators=(",", ":")),
            "X-Isegan-Content-Credentials": credentials,
        },
    )


def json_response(
    stamped: Stamped,
    outcome: JobOutcome,
    credentials: Credentials,
    timings: dict[str, float],
) -> Response:
    """Every wanted output, base64-encoded, with the record and the stage timings."""
    record = stamped.record
    body = SynthesisResponse(
        request_id=record.request_id,
        model_id=record.model_id,
        parser_id=record.parser_id,
        images={
            str(name): EncodedImage(
                media_type=image.media_type,
                width=image.size[0],
                height=image.size[1],
                sha256=record.outputs[str(name)],
                data=base64.b64encode(image.data).decode("ascii"),
            )
            for name, image in stamped.files.items()
        },
        labels=LABELS,
        content_credentials=credentials,
        aligned=outcome.result.warped,
        batch_size=outcome.batch_size,
        timings_ms={name: round(seconds * 1000, 3) for name, seconds in timings.items()},
        colour=record.colour,
        provenance=record,
    )
    return JSONResponse(body.model_dump(mode="json"))
