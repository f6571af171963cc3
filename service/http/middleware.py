"""Pure ASGI middleware: request ids, access logs and request metrics; API keys; the
upload size limit. Pure ASGI (not BaseHTTPMiddleware) so bodies stream untouched."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from isegan.service.http.page_headers import is_public_path, page_headers
from isegan.service.http.problems import PROBLEM_MEDIA_TYPE, ProblemType, problem_body
from isegan.service.http.request_context import set_request_id
from isegan.service.prometheus import ServiceMetrics

logger = logging.getLogger("isegan.service.access")

#: Routes anyone may call, even when API keys are configured (for orchestrator probes).
PUBLIC_PREFIXES = ("/health/",)


def _public(path: str) -> bool:
    return path.startswith(PUBLIC_PREFIXES) or is_public_path(path)


async def send_problem(
    scope: Scope,
    send: Send,
    problem: ProblemType,
    detail: str,
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    path = scope.get("path", "")
    body = json.dumps(
        problem_body(path, problem.status, problem.slug, problem.title, detail)
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": problem.status,
            "headers": [
                (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestContextMiddleware:
    """Gives each request an id (the caller's X-Request-ID when sane), echoes it in the
    response, and records one access log line and the request metrics."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = set_request_id(Headers(scope=scope).get("x-request-id"))
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.observe_request(route, scope.get("method", ""), status, elapsed)
            logger.info(
                "%s %s -> %d in %.1f ms",
                scope.get("method"),
                scope.get("path"),
                status,
                elapsed * 1000,
            )


class ApiKeyMiddleware:
    """When keys are configured, every route but the health probes needs
    ``Authorization: Bearer KEY`` or ``X-API-Key: KEY``. Only SHA-256 digests of the
    keys are held, and each is compared in constant time.

    Which header counts: an empty (or blank) header is treated as absent; with both
    headers carrying a key, the two must be the same key (conflicting credentials are
    refused rather than one silently preferred)."""

    def __init__(self, app: ASGIApp, key_digests: Sequence[str]) -> None:
        self.app = app
        self.digests = [bytes.fromhex(d) for d in key_digests]

    def _authorised(self, scope: Scope) -> bool:
        headers = Headers(scope=scope)
        header_key = (headers.get("x-api-key") or "").strip()
        authorization = (headers.get("authorization") or "").strip()
        bearer = ""
        if authorization.lower().startswith("bearer "):
            bearer = authorization[7:].strip()
        if header_key and bearer and not hmac.compare_digest(header_key, bearer):
            return False
        offered = bearer or header_key
        if not offered:
            return False
        digest = hashlib.sha256(offered.encode("utf-8", "surrogateescape")).digest()
        matched = False
        for known in self.digests:  # no early exit: time does not depend on which matched
            matched |= hmac.compare_digest(digest, known)
        return matched

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not self.digests
            or _public(str(scope.get("path", "")))
            or self._authorised(scope)
        ):
            await self.app(scope, receive, send)
            return
        await send_problem(
            scope,
            send,
            ProblemType.UNAUTHORIZED,
            "a valid API key is required (Authorization: Bearer KEY or X-API-Key: KEY)",
            [(b"www-authenticate", b'Bearer realm="isegan"')],
        )


class _BodyTooLarge(Exception):
    pass


class BodySizeLimitMiddleware:
    """Refuses request bodies over ``limit`` bytes with a 413: at once when
    Content-Length says so, else as soon as the streamed body passes the limit (the
    application's own answer is then discarded)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        detail = f"the request body is larger than the {self.limit}-byte limit"
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await send_problem(scope, send, ProblemType.PAYLOAD_TOO_LARGE, detail)
            return
        received = 0
        exceeded = False
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if exceeded:
                return  # the app's reaction to the aborted body is replaced by our 413
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _BodyTooLarge:
            pass
        except Exception:
            if not exceeded:
                raise
        if exceeded and not response_started:
            await send_problem(scope, send, ProblemType.PAYLOAD_TOO_LARGE, detail)


class SecurityHeadersMiddleware:
    """Adds the browser security headers (CSP and friends) that ``headers_for(path)``
    names to every answer on that path, replacing any the app set itself."""

    def __init__(
        self, app: ASGIApp, headers_for: Callable[[str], Mapping[str, str] | None] = page_headers
    ) -> None:
        self.app = app
        self.headers_for = headers_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        extra = self.headers_for(str(scope.get("path", ""))) if scope["type"] == "http" else None
        if not extra:
            await self.app(scope, receive, send)
            return
        added = [(name.lower().encode(), value.encode()) for name, value in extra.items()]
        names = {name for name, _ in added}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": kept + added}
            await send(message)

        await self.app(scope, receive, send_with_headers)
