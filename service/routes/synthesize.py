"""POST /synthesize: sketch in; photo, intermediate parsing and provenance out.

The route reads as the request's life: check the options, decode the uploads, predict
(through the batching worker), render and sign the outputs, write the audit record,
respond. Each step is one function below, in that order.
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
from PIL import Image

from isegan.model.alignment import NoFaceFoundError
from isegan.model.five_points import INSTALL_HINT as ALIGNMENT_INSTALL_HINT
from isegan.model.pipeline import FacePipeline
from isegan.model.stamps import utc_now
from isegan.provenance.audit import AuditUnavailableError
from isegan.provenance.custody import Custody
from isegan.provenance.labels import EmbeddedFacts, OutputFormat, ProvenanceRecord, sha256_hex
from isegan.provenance.render import (
    Rendered,
    Signing,
    WatermarkMark,
    output_images,
    render_outputs,
)
from isegan.service.dependencies import Custodied, Options, State, SynthesisOptions, ready_pipeline
from isegan.service.negotiation import negotiate
from isegan.service.openapi import problem_responses
from isegan.service.problems import ProblemError
from isegan.service.request_context import current_request_id
from isegan.service.schemas import LABELS, EncodedImage, SynthesisResponse
from isegan.service.state import ServiceState
from isegan.service.uploads import DecodedImage, check_sketch_content, decode_image, decode_parsing
from isegan.service.worker import JobOutcome, QueueFullError, WorkerStoppedError

logger = logging.getLogger(__name__)
#: Seconds a client should wait before retrying while the audit log cannot be written.
AUDIT_RETRY_AFTER_S = 5

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
    options: Options,
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
    """
    received = time.perf_counter()
    pipeline = ready_pipeline(state)
    reply = Reply.negotiated(request.headers.get("accept"), options)
    check_options(state, options, with_parsing=parsing is not None)

    inputs = await decode_inputs(state, sketch, parsing)
    decoded_at = time.perf_counter()
    outcome = await predict(state, inputs, options, received)
    rendering: dict[str, float] = {}  # watermark, encode, sign
    images, record = await render_and_sign(
        state, pipeline, outcome, inputs, reply, custody, rendering
    )
    audited_from = time.perf_counter()
    await write_audit_record(state, record)
    done = time.perf_counter()

    stages = {"decode": decoded_at - received, **rendering, "audit": done - audited_from}
    state.metrics.observe_stages(stages)
    if reply.as_image:
        return image_response(state, pipeline, images["photo"], record)
    timings = {"decode": stages["decode"], **outcome.stage_seconds, **rendering}
    timings |= {"audit": stages["audit"], "total": time.perf_counter() - received}
    return json_response(state, pipeline, images, record, outcome, timings)


@dataclass(frozen=True)
class Reply:
    """What the client gets: the JSON body with the chosen outputs, or (when its Accept
    header asks for an image) the photo alone."""

    as_image: bool
    format: OutputFormat
    outputs: tuple[str, ...]
    options: SynthesisOptions

    @classmethod
    def negotiated(cls, accept: str | None, options: SynthesisOptions) -> Reply:
        representation = negotiate(accept, options.format)
        if representation == "json":
            return cls(False, options.format, options.outputs, options)
        return cls(True, representation, ("photo",), options)


@dataclass(frozen=True)
class Inputs:
    """The uploads as received (their bytes are what the record's hashes name) and as
    decoded."""

    sketch: DecodedImage
    sketch_bytes: bytes
    parsing_bytes: bytes | None
    class_map: np.ndarray | None


def check_options(state: ServiceState, options: SynthesisOptions, *, with_parsing: bool) -> None:
    """Refuse option combinations that cannot succeed, before any upload is decoded."""
    if options.align == "true" and with_parsing:
        raise ProblemError(
            422, "invalid-options", "Invalid options",
            "a supplied parsing map is in the sketch's frame and cannot be combined "
            "with align=true",
        )  # fmt: skip
    if options.align != "false" and not state.alignment_available:
        raise ProblemError(
            422, "alignment-unavailable", "Alignment unavailable",
            f"{ALIGNMENT_INSTALL_HINT}; or send an aligned sketch with align=false",
        )  # fmt: skip


async def decode_inputs(
    state: ServiceState, sketch: UploadFile, parsing: UploadFile | None
) -> Inputs:
    """Read and decode the uploads within the service's limits (off the event loop)."""
    sketch_bytes = await sketch.read()
    parsing_bytes = await parsing.read() if parsing is not None else None

    def decode() -> Inputs:
        decoded = decode_image(sketch_bytes, state.limits)
        check_sketch_content(decoded.image)
        class_map = None
        if parsing_bytes is not None:
            class_map = decode_parsing(parsing_bytes, state.limits, decoded.image.size)
        return Inputs(decoded, sketch_bytes, parsing_bytes, class_map)

    return await run_in_threadpool(decode)


async def predict(
    state: ServiceState, inputs: Inputs, options: SynthesisOptions, received: float
) -> JobOutcome:
    """Run the pipeline through the batching worker, within what is left of the
    request's deadline; each way it can fail is its own problem type."""
    assert state.worker is not None
    settings = state.settings
    remaining = settings.request_timeout_s - (time.perf_counter() - received)
    retry = {"Retry-After": str(settings.retry_after_s)}
    try:
        if remaining <= 0:
            raise TimeoutError
        return await state.worker.submit(
            inputs.sketch.image,
            align=options.align,
            sketch_parsing=inputs.class_map,
            timeout_s=remaining,
        )
    except QueueFullError as error:
        state.metrics.rejected.labels("queue_full").inc()
        raise ProblemError(
            503, "overloaded", "Overloaded", f"the inference queue is full ({error}); retry later",
            headers=retry,
        ) from error  # fmt: skip
    except WorkerStoppedError as error:
        raise ProblemError(
            503, "shutting-down", "Shutting down", str(error), headers=retry
        ) from error
    except TimeoutError as error:
        state.metrics.rejected.labels("deadline").inc()
        raise ProblemError(
            504, "deadline-exceeded", "Deadline exceeded",
            f"no result within the {settings.request_timeout_s:g} s request timeout",
        ) from error  # fmt: skip
    except NoFaceFoundError as error:
        raise ProblemError(422, "no-face-found", "No face found", str(error)) from error
    except ValueError as error:
        raise ProblemError(
            422, "unprocessable-sketch", "Unprocessable sketch", str(error)
        ) from error


async def render_and_sign(
    state: ServiceState,
    pipeline: FacePipeline,
    outcome: JobOutcome,
    inputs: Inputs,
    reply: Reply,
    custody: Custody,
    timings: dict[str, float],
) -> tuple[dict[str, Rendered], ProvenanceRecord]:
    """Encode the wanted outputs with their embedded facts, watermark and Content
    Credentials (provenance/render.py, shared with the CLI), and the record naming them;
    the seconds spent watermarking, encoding and signing go into ``timings``."""
    facts = EmbeddedFacts(
        output="photo",
        input_sha256=inputs.sketch.sha256,
        parsing_input_sha256=sha256_hex(inputs.parsing_bytes) if inputs.parsing_bytes else None,
        model_id=pipeline.model_id,
        parser_id=pipeline.parser_id,
        code_version=state.code_version,
    )
    mark = watermark_mark(state)
    signing = None
    if state.signer is not None:
        assertion = {"request_id": current_request_id(), **custody.given()}
        media_type = Image.MIME.get(inputs.sketch.format, "application/octet-stream")
        signing = Signing(state.signer, inputs.sketch_bytes, media_type, assertion)

    def render() -> dict[str, Rendered]:
        images = output_images(outcome.result, reply.outputs, inputs.sketch.image)
        return render_outputs(
            images, facts, reply.format, watermark=mark, signing=signing, timings=timings
        )

    images = await run_in_threadpool(render)
    record = ProvenanceRecord(
        request_id=current_request_id(),
        created=utc_now(),
        input_sha256=inputs.sketch.sha256,
        parsing_input_sha256=facts.parsing_input_sha256,
        outputs={name: sha256_hex(image.data) for name, image in images.items()},
        model_id=pipeline.model_id,
        parser_id=pipeline.parser_id,
        code_version=state.code_version,
        options={
            "outputs": list(reply.outputs),
            "format": reply.format,
            "align": reply.options.align,
            "canonicalise": pipeline.canonicalise is not None,
        },
        custody=custody.given() or None,
        watermark=mark.record_fields() if mark is not None else None,
        inference={**pipeline.inference_record(), "batch_size": outcome.batch_size},
    )
    return images, record


def watermark_mark(state: ServiceState) -> WatermarkMark | None:
    """This request's record number and what embeds it, when watermarking is on."""
    if state.watermarker is None or state.records is None or state.installation is None:
        return None
    return WatermarkMark(state.watermarker, state.installation.id, state.records.next())


async def write_audit_record(state: ServiceState, record: ProvenanceRecord) -> None:
    """Append the record to the audit log (fsynced before the response). A log that
    cannot be written is a 503 of its own kind, since the response would otherwise leave
    the service unrecorded, logged in one line."""
    if state.audit is None:
        return
    payload = {"event": "synthesize", **record.model_dump(mode="json")}
    try:
        await run_in_threadpool(state.audit.append, payload)
    except AuditUnavailableError as error:
        state.metrics.audit_failures.inc()
        state.metrics.audit_healthy.set(0)
        logger.error("audit log unavailable, request %s refused: %s", current_request_id(), error)
        raise ProblemError(
            503,
            "audit-unavailable",
            "Audit log unavailable",
            "the service cannot record this request in its audit log (disk full or "
            "not writable), so it returns no image; try again later or another replica",
            headers={"Retry-After": str(AUDIT_RETRY_AFTER_S)},
        ) from None


def image_response(
    state: ServiceState, pipeline: FacePipeline, photo: Rendered, record: ProvenanceRecord
) -> Response:
    """The photo alone; its provenance in ``X-Isegan-*`` headers."""
    return Response(
        photo.data,
        media_type=photo.media_type,
        headers={
            "X-Isegan-Model-Id": pipeline.model_id,
            "X-Isegan-Parser-Id": pipeline.parser_id,
            "X-Isegan-Input-Sha256": record.input_sha256,
            "X-Isegan-Output-Sha256": record.outputs["photo"],
            "X-Isegan-Provenance": json.dumps(record.model_dump(), separators=(",", ":")),
            "X-Isegan-Content-Credentials": _credentials(state),
        },
    )


def json_response(
    state: ServiceState,
    pipeline: FacePipeline,
    images: dict[str, Rendered],
    record: ProvenanceRecord,
    outcome: JobOutcome,
    timings: dict[str, float],
) -> Response:
    """Every wanted output, base64-encoded, with the record and the stage timings."""
    body = SynthesisResponse(
        request_id=current_request_id(),
        model_id=pipeline.model_id,
        parser_id=pipeline.parser_id,
        images={
            name: EncodedImage(
                media_type=image.media_type,
                width=image.size[0],
                height=image.size[1],
                sha256=record.outputs[name],
                data=base64.b64encode(image.data).decode("ascii"),
            )
            for name, image in images.items()
        },
        labels=LABELS,
        content_credentials=_credentials(state),
        aligned=outcome.result.warped,
        batch_size=outcome.batch_size,
        timings_ms={name: round(seconds * 1000, 3) for name, seconds in timings.items()},
        provenance=record,
    )
    return JSONResponse(body.model_dump(mode="json"))


def _credentials(state: ServiceState) -> Literal["signed", "unsigned"]:
    return "signed" if state.signer is not None else "unsigned"
