"""Bounds on slow clients: time limits for request headers and bodies, and for idle
keep-alive connections, plus a cap on concurrent connections.

A client that trickles its headers or its upload a byte at a time holds a connection,
a file descriptor and (for the body) a request task for as long as it likes unless the
server sets limits (the "slowloris" pattern). The limits follow Apache's
``mod_reqtimeout`` defaults, the usual reverse-proxy practice:

- headers must be complete within ``header_timeout_s`` of the connection opening (or of
  the previous response, on a kept-alive connection); otherwise the server answers
  **408 Request Timeout** and closes (RFC 9110 15.5.9);
- the body must arrive within ``body_timeout_s``, extended by one second per
  ``body_min_rate`` bytes received, so a large upload on a slow but honest link is fine
  and a trickle is not: 408 with a problem+json body, and the connection is closed;
- an idle kept-alive connection is closed after ``keep_alive_timeout_s`` (uvicorn's own);
- beyond ``max_connections`` concurrent connections requests are answered 503.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from isegan.service.http.middleware import send_problem
from isegan.service.http.problems import PROBLEM_MEDIA_TYPE, ProblemType

_HEADER_TIMEOUT_DETAIL = "the request headers did not arrive in time"


def _timeout_response(detail: str) -> bytes:
    body = json.dumps(
        {
            "type": ProblemType.REQUEST_TIMEOUT.uri,
            "title": ProblemType.REQUEST_TIMEOUT.title,
            "status": ProblemType.REQUEST_TIMEOUT.status,
            "detail": detail,
        }
    ).encode()
    head = (
        "HTTP/1.1 408 Request Timeout\r\n"
        f"content-type: {PROBLEM_MEDIA_TYPE}\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


def header_timeout_protocol(header_timeout_s: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol with a deadline for each request's headers."""

    class HeaderTimeoutProtocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm_header_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm_header_timer()
            super().connection_lost(exc)

        def handle_events(self) -> None:
            before = self.cycle
            super().handle_events()
            if self.cycle is not before:  # a request's headers were parsed
                self._disarm_header_timer()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm_header_timer()  # the next request on this connection

        def _arm_header_timer(self) -> None:
            self._disarm_header_timer()
            self._header_timer = self.loop.call_later(header_timeout_s, self._headers_late)

        def _disarm_header_timer(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_late(self) -> None:
            self._header_timer = None
            idle = self.cycle is None or self.cycle.response_complete
            if idle and not self.transport.is_closing():
                self.transport.write(_timeout_response(_HEADER_TIMEOUT_DETAIL))
                self.transport.close()

    return HeaderTimeoutProtocol


class _BodyTimeout(Exception):
    pass


class BodyTimeoutMiddleware:
    """408 when a request body arrives slower than ``timeout_s`` plus one second per
    ``min_rate`` bytes; the application's reaction to the aborted body is discarded."""

    def __init__(self, app: ASGIApp, timeout_s: float, min_rate: int) -> None:
        self.app = app
        self.timeout_s = timeout_s
        self.min_rate = min_rate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        received = 0
        body_done = False
        timed_out = False
        response_started = False

        async def bounded_receive() -> Message:
            nonlocal received, body_done, timed_out
            if body_done:
                return await receive()  # after the body: disconnect notices, unbounded
            allowed = started + self.timeout_s + received / self.min_rate - time.monotonic()
            try:
                message = await asyncio.wait_for(receive(), max(allowed, 0.0))
            except TimeoutError:
                timed_out = True
                raise _BodyTimeout from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if timed_out:
                return
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, bounded_receive, guarded_send)
        except _BodyTimeout:
            pass
        except Exception:
            if not timed_out:
                raise
        if timed_out and not response_started:
            detail = (
                f"the request body arrived too slowly ({received} bytes in "
                f"{time.monotonic() - started:.0f} s)"
            )
            await send_problem(
                scope, send, ProblemType.REQUEST_TIMEOUT, detail, [(b"connection", b"close")]
            )


def uvicorn_limits(settings: Any) -> dict[str, Any]:
    """The uvicorn.Config arguments that bound slow and idle clients."""
    return {
        "http": header_timeout_protocol(settings.header_timeout_s),
        "timeout_keep_alive": int(settings.keep_alive_timeout_s),
        "limit_concurrency": settings.max_connections,
    }
