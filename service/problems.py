"""RFC 9457 problem details: every error the service returns has this one shape.

A client can branch on ``type`` (a stable URI per kind of problem) and show ``detail``;
``request_id`` matches the ``X-Request-ID`` header and the server's log lines.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from isegan.service.request_context import current_request_id

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


class ProblemError(Exception):
    """Raise anywhere in a request to answer with a problem+json response."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.headers = headers or {}
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


_HTTP_TITLES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Unauthorized"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    413: ("payload-too-large", "Payload too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
}


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
        return problem_response(
            request, 422, "invalid-request", "Invalid request", summary, errors=errors
        )

    async def on_http(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StarletteHTTPException)
        slug, title = _HTTP_TITLES.get(error.status_code, ("http-error", "HTTP error"))
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
        return problem_response(
            request,
            500,
            "internal-error",
            "Internal error",
            "the server failed on this request; the request id locates it in the logs",
        )

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_crash)
