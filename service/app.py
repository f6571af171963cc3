"""The FastAPI application: routes, middleware and lifespan of one isegan service.

``create_app(settings)`` builds a self-contained app (its own model, worker, metrics and
audit log), so tests can run several side by side and ``isegan serve`` runs one.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

import numpy as np
from fastapi import Depends, FastAPI, File, Form, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from PIL import Image
from prometheus_client import CONTENT_TYPE_LATEST

from isegan.model.alignment import AlignMode, NoFaceFoundError
from isegan.model.five_points import INSTALL_HINT as ALIGNMENT_INSTALL_HINT
from isegan.model.pipeline import PipelineResult
from isegan.provenance.audit import AuditLog, AuditUnavailableError
from isegan.provenance.credentials import Check, check
from isegan.provenance.custody import Custody
from isegan.provenance.labels import (
    EmbeddedFacts,
    OutputFormat,
    ProvenanceRecord,
    sha256_hex,
    utc_now,
)
from isegan.provenance.render import (
    Rendered,
    Signing,
    WatermarkMark,
    output_images,
    render_outputs,
)
from isegan.service.custody_fields import custody_fields
from isegan.service.metrics import ServiceMetrics
from isegan.service.middleware import (
    PUBLIC_PREFIXES,
    ApiKeyMiddleware,
    BodySizeLimitMiddleware,
    RequestContextMiddleware,
    SecurityHeadersMiddleware,
)
from isegan.service.negotiation import negotiate
from isegan.service.problems import Problem, ProblemError, install_problem_handlers
from isegan.service.request_context import current_request_id
from isegan.service.schemas import (
    DEFAULT_OUTPUTS,
    LABELS,
    OUTPUT_NAMES,
    OUTPUTS_MAX_LENGTH,
    OUTPUTS_PATTERN,
    ContentCredentialsInfo,
    EncodedImage,
    Health,
    ModelInfo,
    SynthesisResponse,
    VerifyResponse,
    WatermarkInfo,
)
from isegan.service.settings import ServiceSettings
from isegan.service.slow_clients import BodyTimeoutMiddleware
from isegan.service.state import ServiceState
from isegan.service.uploads import (
    check_sketch_content,
    decode_image,
    decode_parsing,
    sniff_format,
)
from isegan.service.webui import mount_web_ui
from isegan.service.worker import JobOutcome, QueueFullError, WorkerStoppedError

logger = logging.getLogger(__name__)
#: Seconds a client should wait before retrying while the audit log cannot be written.
AUDIT_RETRY_AFTER_S = 5
#: The outputs grammar as the schema states it (align and format are enums), so clients
#: and fuzzers send what can succeed; upload sizes are added by _state_upload_limits.
OUTPUTS_SCHEMA = {"pattern": OUTPUTS_PATTERN, "maxLength": OUTPUTS_MAX_LENGTH}

API_DESCRIPTION = """
Turns a face sketch into a photo with ISEGAN and returns the intermediate parsing map.

Every image carries an XMP synthetic-media label (IPTC DigitalSourceType
`trainedAlgorithmicMedia`) and comes with a provenance record; every response is also
written to a hash-chained audit log. **A synthesised photo is not evidence of anyone's
appearance.** Errors are RFC 9457 `application/problem+json` with a `request_id`.
"""


def _problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {"model": Problem, "content": {"application/problem+json": {}}}
        for status in statuses
    }


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or ServiceSettings()
    metrics = ServiceMetrics()
    state = ServiceState(settings, metrics)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(state.start)
        try:
            yield
        finally:
            await run_in_threadpool(state.stop)

    # The docs pages load Swagger UI and ReDoc from files shipped in fastapi-offline, never
    # from a CDN, so /docs works in an air-gapped lab; no external validator badge either.
    app = FastAPIOffline(
        swagger_ui_parameters={"validatorUrl": None},
        title="isegan",
        version=state.code_version,
        description=API_DESCRIPTION,
        lifespan=lifespan,
        responses=_problem_responses(401),
    )
    app.state.isegan = state
    install_problem_handlers(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "X-API-Key", "X-Request-ID", "Accept"],
            expose_headers=["X-Request-ID", "X-Isegan-Provenance", "Retry-After"],
        )
    app.add_middleware(BodySizeLimitMiddleware, limit=settings.max_upload_bytes)
    app.add_middleware(
        BodyTimeoutMiddleware, timeout_s=settings.body_timeout_s, min_rate=settings.body_min_rate
    )
    app.add_middleware(ApiKeyMiddleware, key_digests=settings.api_key_sha256)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)  # outermost

    @app.get("/health/live", response_model=Health, tags=["health"])
    async def live() -> Health:
        """The process answers. Restart it if this fails."""
        return Health(status="stopping" if state.stopping else "ok")

    @app.get(
        "/health/ready",
        response_model=Health,
        tags=["health"],
        responses={
            503: {
                "model": Health,
                "description": "Still loading, stopping, or the audit log cannot be written.",
            }
        },
    )
    async def ready() -> Response:
        """Models loaded, one warm-up inference done and the audit log writable: send
        traffic. While the audit log cannot be written, 503 ``audit-unavailable``."""
        audit = state.audit
        if audit is not None and not audit.healthy and not await run_in_threadpool(audit.probe):
            metrics.audit_healthy.set(0)
            body = Health(status="audit-unavailable", detail=audit.last_error)
            return JSONResponse(body.model_dump(exclude_none=True), status_code=503)
        metrics.audit_healthy.set(1)
        if state.ready and state.pipeline is not None:
            return JSONResponse(Health(status="ok", model_id=state.pipeline.model_id).model_dump())
        body = Health(status="stopping" if state.stopping else "starting")
        return JSONResponse(body.model_dump(), status_code=503)

    async def _record(audit: AuditLog, payload: dict[str, Any]) -> None:
        """Append the audit record; a log that cannot be written is a 503 of its own kind
        (the response would otherwise leave the service unrecorded), logged in one line."""
        try:
            await run_in_threadpool(audit.append, payload)
        except AuditUnavailableError as error:
            metrics.audit_failures.inc()
            metrics.audit_healthy.set(0)
            logger.error(
                "audit log unavailable, request %s refused: %s", current_request_id(), error
            )
            raise ProblemError(
                503,
                "audit-unavailable",
                "Audit log unavailable",
                "the service cannot record this request in its audit log (disk full or "
                "not writable), so it returns no image; try again later or another replica",
                headers={"Retry-After": str(AUDIT_RETRY_AFTER_S)},
            ) from None

    @app.get("/metrics", tags=["operations"], response_class=Response)
    async def prometheus_metrics() -> Response:
        """Prometheus text exposition."""
        if state.worker is not None:
            metrics.queue_depth.set(state.worker.depth)
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/model", response_model=ModelInfo, tags=["model"])
    async def model_info() -> ModelInfo:
        """The loaded generator and parser: ids, architecture, training record, metrics."""
        pipeline = _pipeline(state)
        meta = pipeline.metadata
        assert meta is not None
        return ModelInfo(
            model_id=pipeline.model_id,
            parser_id=pipeline.parser_id,
            code_version=state.code_version,
            device=str(pipeline.device),
            two_stage=pipeline.two_stage,
            architecture=meta.architecture.model_dump(),
            training=meta.training,
            data=meta.data.model_dump() if meta.data else None,
            metrics=meta.metrics,
            notes=meta.notes,
            created_at=meta.created_at,
            labels=LABELS,
            content_credentials=ContentCredentialsInfo(
                signing=state.signer is not None,
                signer=state.signer.subject if state.signer is not None else None,
                key=state.signing.key if state.signing is not None else "off",
                installation=state.installation.id if state.installation else None,
                watermark=state.watermarker is not None,
            ),
        )

    @app.post(
        "/verify",
        response_model=VerifyResponse,
        tags=["provenance"],
        responses=_problem_responses(400, 413, 415, 422),
    )
    async def verify(
        image: Annotated[
            UploadFile, File(description="An image to check (PNG, JPEG, BMP, TIFF or WebP).")
        ],
    ) -> VerifyResponse:
        """Check an image's C2PA Content Credentials (signature, hash binding, and trust:
        the configured anchors, else this service's own root), and read its invisible
        watermark, which survives when the manifest is stripped."""
        data = await image.read()
        result, watermark = await run_in_threadpool(_check_credentials, state, data)
        return VerifyResponse(**result.as_dict(), watermark=watermark)

    @app.post(
        "/synthesize",
        response_model=SynthesisResponse,
        tags=["synthesis"],
        responses={
            200: {
                "content": {"image/png": {}, "image/jpeg": {}, "image/webp": {}},
                "description": "JSON by default; with `Accept: image/png` (or jpeg, webp) "
                "the photo alone, its provenance in `X-Isegan-*` headers.",
            },
            **_problem_responses(400, 406, 413, 415, 422, 503, 504),
        },
    )
    async def synthesize(
        request: Request,
        custody: Annotated[Custody, Depends(custody_fields)],
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
        outputs_form: Annotated[
            str | None,
            Form(
                alias="outputs",
                description="Comma-separated: photo, parsing, stage1_photo, sketch_parsing.",
                examples=["photo,parsing"],
                json_schema_extra=OUTPUTS_SCHEMA,
            ),
        ] = None,
        format_form: Annotated[OutputFormat | None, Form(alias="format")] = None,
        align_form: Annotated[
            AlignMode | None,
            Form(
                alias="align",
                description="auto (default): align the face to the CUFS frame unless the "
                "sketch is already there or comes with a parsing map; true: always; false: "
                "never.",
            ),
        ] = None,
        outputs_query: Annotated[
            str | None, Query(alias="outputs", json_schema_extra=OUTPUTS_SCHEMA)
        ] = None,
        format_query: Annotated[OutputFormat | None, Query(alias="format")] = None,
        align_query: Annotated[AlignMode | None, Query(alias="align")] = None,
    ) -> Response:
        """Sketch in; photo (Y2), intermediate parsing (P_int) and provenance out.

        Options may come as query parameters or form fields (not both at once).
        With `align=auto` (the default) a sketch that is not already CUFS-aligned is first
        warped so the face sits where CUFS has it; a sketch with no face found is a 422.
        """
        received = time.perf_counter()
        pipeline = _pipeline(state)
        assert state.worker is not None
        outputs = _parse_outputs(_one("outputs", outputs_form, outputs_query))
        fmt: OutputFormat = _one("format", format_form, format_query) or "png"
        align: AlignMode = _one("align", align_form, align_query) or "auto"
        representation = negotiate(request.headers.get("accept"), fmt)
        as_image = representation != "json"
        if representation != "json":
            fmt = representation
        if align == "true" and parsing is not None:
            raise ProblemError(
                422, "invalid-options", "Invalid options",
                "a supplied parsing map is in the sketch's frame and cannot be combined "
                "with align=true",
            )  # fmt: skip
        if align != "false" and not state.alignment_available:
            raise ProblemError(
                422, "alignment-unavailable", "Alignment unavailable",
                f"{ALIGNMENT_INSTALL_HINT}; or send an aligned sketch with align=false",
            )  # fmt: skip

        sketch_bytes = await sketch.read()
        parsing_bytes = await parsing.read() if parsing is not None else None
        decoded, class_map = await run_in_threadpool(
            _decode_inputs, state, sketch_bytes, parsing_bytes
        )
        decode_s = time.perf_counter() - received

        outcome = await _run(state, decoded.image, align, class_map, settings, received)

        started = time.perf_counter()
        facts = EmbeddedFacts(
            output="photo",
            input_sha256=decoded.sha256,
            parsing_input_sha256=sha256_hex(parsing_bytes) if parsing_bytes else None,
            model_id=pipeline.model_id,
            parser_id=pipeline.parser_id,
            code_version=state.code_version,
        )
        wanted = ("photo",) if as_image else outputs
        mark = _watermark_mark(state)
        signing = None
        if state.signer is not None:
            assertion = {"request_id": current_request_id(), **custody.given()}
            signing = Signing(
                state.signer, sketch_bytes,
                Image.MIME.get(decoded.format, "application/octet-stream"), assertion,
            )  # fmt: skip
        images = await run_in_threadpool(
            _render, outcome.result, decoded.image, wanted, facts, fmt, mark, signing
        )
        encode_s = time.perf_counter() - started

        record = ProvenanceRecord(
            request_id=current_request_id(),
            created=utc_now(),
            input_sha256=decoded.sha256,
            parsing_input_sha256=facts.parsing_input_sha256,
            outputs={name: sha256_hex(image.data) for name, image in images.items()},
            model_id=pipeline.model_id,
            parser_id=pipeline.parser_id,
            code_version=state.code_version,
            options={"outputs": list(wanted), "format": fmt, "align": align},
            custody=custody.given() or None,
            watermark=mark.record_fields() if mark is not None else None,
            inference={**pipeline.inference_record(), "batch_size": outcome.batch_size},
        )
        started = time.perf_counter()
        if state.audit is not None:
            await _record(state.audit, {"event": "synthesize", **record.model_dump(mode="json")})
        audit_s = time.perf_counter() - started
        stages = {"decode": decode_s, "encode": encode_s, "audit": audit_s}
        metrics.observe_stages(stages)

        credentials = "signed" if state.signer is not None else "unsigned"
        if as_image:
            photo = images["photo"]
            return Response(
                photo.data,
                media_type=photo.media_type,
                headers={
                    "X-Isegan-Model-Id": pipeline.model_id,
                    "X-Isegan-Parser-Id": pipeline.parser_id,
                    "X-Isegan-Input-Sha256": decoded.sha256,
                    "X-Isegan-Output-Sha256": record.outputs["photo"],
                    "X-Isegan-Provenance": json.dumps(record.model_dump(), separators=(",", ":")),
                    "X-Isegan-Content-Credentials": credentials,
                },
            )
        timings = {"decode": decode_s, **outcome.stage_seconds, "encode": encode_s}
        timings |= {"audit": audit_s, "total": time.perf_counter() - received}
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
            content_credentials=credentials,
            aligned=outcome.result.warped,
            batch_size=outcome.batch_size,
            timings_ms={name: round(seconds * 1000, 3) for name, seconds in timings.items()},
            provenance=record,
        )
        return JSONResponse(body.model_dump(mode="json"))

    if settings.web_ui:
        mount_web_ui(app)
    _state_upload_limits(app, settings.max_upload_bytes)
    if settings.api_key_sha256:
        _declare_api_keys(app)
    return app


def _edit_openapi(app: FastAPI, edit: Callable[[dict[str, Any]], None]) -> None:
    """Run ``edit`` on the generated OpenAPI schema once, when it is first built; edits
    registered one after another all apply."""
    build_schema = app.openapi

    def edited_openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build_schema()
        edit(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = edited_openapi  # type: ignore[method-assign]


def _state_upload_limits(app: FastAPI, max_bytes: int) -> None:
    """Every uploaded file in the schema gets this service's byte limit as maxLength."""

    def add_limits(schema: dict[str, Any]) -> None:
        for component in schema.get("components", {}).get("schemas", {}).values():
            for field in component.get("properties", {}).values():
                for option in [field, *field.get("anyOf", [])]:
                    if option.get("format") == "binary" or "contentMediaType" in option:
                        option["maxLength"] = max_bytes

    _edit_openapi(app, add_limits)


def _declare_api_keys(app: FastAPI) -> None:
    """Name the key schemes in the OpenAPI schema, so Swagger UI offers "Authorize" and
    generated clients send the key; the health probes stay open."""

    def add_keys(schema: dict[str, Any]) -> None:
        schema.setdefault("components", {})["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer"},
            "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        }
        schema["security"] = [{"bearer": []}, {"apiKeyHeader": []}]
        for path, operations in schema["paths"].items():
            if path.startswith(PUBLIC_PREFIXES):
                for operation in operations.values():
                    operation["security"] = []

    _edit_openapi(app, add_keys)


def _pipeline(state: ServiceState) -> Any:
    if not state.ready or state.pipeline is None:
        raise ProblemError(
            503, "not-ready", "Not ready", "the model is not loaded yet (or is stopping)",
            headers={"Retry-After": str(state.settings.retry_after_s)},
        )  # fmt: skip
    return state.pipeline


def _one(name: str, form: Any, query: Any) -> Any:
    if form is not None and query is not None and form != query:
        raise ProblemError(
            422, "invalid-options", "Invalid options",
            f"'{name}' was given both as a query parameter ({query!r}) and a form field "
            f"({form!r}); give it once",
        )  # fmt: skip
    return form if form is not None else query


def _parse_outputs(text: str | None) -> tuple[str, ...]:
    if text is None:
        return DEFAULT_OUTPUTS
    if len(text) > OUTPUTS_MAX_LENGTH or not re.fullmatch(OUTPUTS_PATTERN, text):
        raise ProblemError(
            422, "invalid-options", "Invalid options",
            f"outputs must be a comma-separated subset of {', '.join(OUTPUT_NAMES)}; "
            f"got {text[:OUTPUTS_MAX_LENGTH]!r}",
        )  # fmt: skip
    return tuple(dict.fromkeys(part.strip(" \t") for part in text.split(",")))


def _decode_inputs(
    state: ServiceState, sketch: bytes, parsing: bytes | None
) -> tuple[Any, np.ndarray | None]:
    decoded = decode_image(sketch, state.limits)
    check_sketch_content(decoded.image)
    class_map = None
    if parsing is not None:
        class_map = decode_parsing(parsing, state.limits, decoded.image.size)
    return decoded, class_map


async def _run(
    state: ServiceState,
    image: Image.Image,
    align: AlignMode,
    class_map: np.ndarray | None,
    settings: ServiceSettings,
    received: float,
) -> JobOutcome:
    assert state.worker is not None
    remaining = settings.request_timeout_s - (time.perf_counter() - received)
    retry = {"Retry-After": str(settings.retry_after_s)}
    try:
        if remaining <= 0:
            raise TimeoutError
        return await state.worker.submit(
            image, align=align, sketch_parsing=class_map, timeout_s=remaining
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


def _check_credentials(state: ServiceState, data: bytes) -> tuple[Check, WatermarkInfo | None]:
    if not data:
        raise ProblemError(422, "empty-upload", "Empty upload", "the image upload is empty")
    fmt = sniff_format(data, state.limits)
    result = check(data, Image.MIME.get(fmt, "image/png"), state.trust_anchors)
    watermark = None
    if state.watermarker is not None:
        try:
            image = decode_image(data, state.limits).image
        except ProblemError:  # pixels that do not decode (an edited file) carry no reading
            return result, None
        reading = state.watermarker.read(image, state.known_installations)
        if reading is not None:
            watermark = WatermarkInfo.model_validate(reading.as_dict())
    return result, watermark


def _watermark_mark(state: ServiceState) -> WatermarkMark | None:
    """This request's record number and what embeds it, when watermarking is on."""
    if state.watermarker is None or state.records is None or state.installation is None:
        return None
    return WatermarkMark(state.watermarker, state.installation.id, state.records.next())


def _render(
    result: PipelineResult,
    sketch: Image.Image,
    names: tuple[str, ...],
    facts: EmbeddedFacts,
    fmt: OutputFormat,
    mark: WatermarkMark | None,
    signing: Signing | None,
) -> dict[str, Rendered]:
    images = output_images(result, names, sketch)
    return render_outputs(images, facts, fmt, watermark=mark, signing=signing)
