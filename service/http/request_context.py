"""The id of the request being served, for responses and for every log line."""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar

_request_id: ContextVar[str] = ContextVar("isegan_request_id", default="-")

#: A caller's own X-Request-ID is kept when it is short and plain; otherwise we make one.
_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def current_request_id() -> str:
    return _request_id.get()


def set_request_id(candidate: str | None) -> str:
    """Adopt the caller's id when acceptable, else a new random one; returns the id."""
    value = candidate if candidate and _ACCEPTABLE_ID.match(candidate) else uuid.uuid4().hex
    _request_id.set(value)
    return value


class RequestIdLogFilter(logging.Filter):
    """Adds ``record.request_id`` so a log format can include ``%(request_id)s``."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id()
        return True
