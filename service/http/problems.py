"""RFC 9457 problem details: every error the service returns has this one shape.

A client can branch on ``type`` (a stable URI per kind of problem) and show ``detail``;
``request_id`` matches the ``X-Request-ID`` header and the server's log lines.
"""

from __future__ import annotations

import logging
from enum import Enum
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from isegan.service.http.request_context import current_request_id

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "https://isegan.dev/problems/"

logger = logging.getLogger(__name__)


class Problem(BaseModel):
    """The body of every error response."""

    type: str = Field(examples=[PROBLEM_BASE + "unsupported-image-format"])
    title: str = Field(examples=["Unsupported image format"])
    status: int = Field(examples=[415])
    detail: str = Field(examples=["the upload is not an image in PNG, JPEG, BMP, TIFF, WEBP"])
    instance: str | None = Field(None, examples=["/synthesize"])
    request_id: str = Field(examples=["3f1c2d9e6b4a4f0e9d7c1a2b3c4d5e6f"])
    errors: list[dict[str, Any]] | None = Field(
        None,
        description="Field-level errors of a 422: each names the field (``loc``) and why.",
    )


class ProblemType(Enum):
    """Every kind of problem the service answers with, once: (status, slug, title). The
    slug, after :data:`PROBLEM_BASE`, is the ``type`` URI clients branch on."""

    # the upload
    EMPTY_UPLOAD = (422, "empty-upload", "Empty upload")
    CORRUPT_IMAGE = (422, "corrupt-image", "Corrupt image")
    UNSUPPORTED_IMAGE_FORMAT = (415, "unsupported-image-format", "Unsupported image format")
    TOO_MANY_PIXELS = (413, "too-many-pixels", "Too many pixels")
    PAYLOAD_TOO_LARGE = (413, "payload-too-large", "Payload too large")
    IMAGE_TOO_SMALL = (422, "image-too-small", "Image too small")
    BLANK_IMAGE = (422, "blank-image", "Blank image")
    INVALID_PARSING_MAP = (422, "invalid-parsing-map", "Invalid parsing map")
    # the request
    INVALID_REQUEST = (422, "invalid-request", "Invalid request")
    INVALID_OPTIONS = (422, "invalid-options", "Invalid options")
    INVALID_CUSTODY = (422, "invalid-custody", "Invalid custody field")
    NOT_ACCEPTABLE = (406, "not-acceptable", "Not acceptable")
    UNAUTHORIZED = (401, "unauthorized", "Unauthorized")
    REQUEST_TIMEOUT = (408, "request-timeout", "Request timeout")
    # HTTP errors raised by the framework (routing, methods, media types)
    BAD_REQUEST = (400, "bad-request", "Bad request")
    FORBIDDEN = (403, "forbidden", "Forbidden")
    NOT_FOUND = (404, "not-found", "Not found")
    METHOD_NOT_ALLOWED = (405, "method-not-allowed", "Method not allowed")
    UNSUPPORTED_MEDIA_TYPE = (415, "unsupported-media-type", "Unsupported media type")
    # the sketch
    ALIGNMENT_UNAVAILABLE = (422, "alignment-unavailable", "Alignment unavailable")
    NO_FACE_FOUND = (422, "no-face-found", "No face found")
    UNPROCESSABLE_SKETCH = (422, "unprocessable-sketch", "Unprocessable sketch")
    # the service
    NOT_READY = (503, "not-ready", "Not ready")
    OVERLOADED = (503, "overloaded", "Overloaded")
    SHUTTING_DOWN = (503, "shutting-down", "Shutting down")
    DEADLINE_EXCEEDED = (504, "deadline-exceeded", "Deadline exceeded")
    AUDIT_UNAVAILABLE = (503, "audit-unavailable", "Audit log unavailable")
    INTERNAL_ERROR = (500, "internal-error", "Internal error")

    @property
    def status(self) -> int:
        return int(self.value[0])

    @property
    def slug(self) -> str:
        return str(self.value[1])

    @property
    def title(self) -> str:
        return str(self.value[2])

    @property
    def uri(self) -> str:
        return PROBLEM_BASE + self.slug


def retry_after(seconds: int | None) -> dict[str, str]:
    """The Retry-After header of a 503 (none when ``seconds`` is None)."""
    return {} if seconds is None else {"Retry-After": str(seconds)}


class ProblemError(Exception):
    """Raise anywhere in a request to answer with a problem+json response."""

    def __init__(
        self,
        problem: ProblemType,
        detail: str,
        *,
        retry_after_s: int | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(detail)
        self.problem = problem
        self.status = problem.status
        self.slug = problem.slug
        self.title = problem.title
        self.detail = detail
        self.headers = retry_after(retry_after_s)
        self.errors = errors


def problem_body(
    path: str,
    status: int,
    slug: str,
    title: str,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    problem = Problem(
        type=PROBLEM_BASE + slug,
        title=title,
        status=status,
        detail=detail,
        instance=path,
        request_id=current_request_id(),
        errors=errors,
    )
    return problem.model_dump(exclude_none=True)


def problem_response(
    request: Request,
    status: int,
    slug: str,
    title: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> JSONResponse:
    body = problem_body(request.url.path, status, slug, title, detail, errors)
    return JSONResponse(
        body,
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers={**(headers or {}), "X-Request-ID": body["request_id"]},
    )


#: The problem type of an HTTP error the framework raises, by status.
_HTTP_PROBLEMS = {
    problem.status: problem
    for problem in (
        ProblemType.BAD_REQUEST, ProblemType.UNAUTHORIZED, ProblemType.FORBIDDEN,
        ProblemType.NOT_FOUND, ProblemType.METHOD_NOT_ALLOWED, ProblemType.NOT_ACCEPTABLE,
        ProblemType.PAYLOAD_TOO_LARGE, ProblemType.UNSUPPORTED_MEDIA_TYPE,
    )
}  # fmt: skip


def install_problem_handlers(app: FastAPI) -> None:
    """Route ProblemError, FastAPI's validation errors, HTTP errors and crashes to
    problem+json, so no error ever leaves in another shape."""

    async def on_problem(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, ProblemError)
        return problem_response(
            request, error.status, error.slug, error.title, error.detail,
            headers=error.headers, errors=error.errors,
        )  # fmt: skip

    async def on_validation(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
            for e in error.errors()
        ]
        summary = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
        invalid = ProblemType.INVALID_REQUEST
        return problem_response(
            request, invalid.status, invalid.slug, invalid.title, summary, errors=errors
        )

    async def on_http(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StarletteHTTPException)
        known = _HTTP_PROBLEMS.get(error.status_code)
        slug, title = (known.slug, known.title) if known else ("http-error", "HTTP error")
        return problem_response(
            request,
            error.status_code,
            slug,
            title,
            str(error.detail),
            headers=dict(error.headers or {}),
        )

    async def on_crash(request: Request, error: Exception) -> JSONResponse:
        logger.exception("unhandled error")
        internal = ProblemType.INTERNAL_ERROR
        return problem_response(
            request,
            internal.status,
            internal.slug,
            internal.title,
            "the server failed on this request; the request id locates it in the logs",
        )

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_crash)
