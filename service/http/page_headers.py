"""The browser-side security headers of every HTML page the service serves (the
examiner's page at ``/`` with its files under ``/ui/``, and the API docs), and which paths
are public.

Everything the examiner's page needs is served by the service, and a strict Content-Security-Policy
stops the browser from fetching anything from another host, so the page works (and is
known to leak nothing) in an air-gapped lab. The page itself holds no secrets, so it is
public even when API keys are configured; the key is entered in the page and sent only
with API calls.
"""

from __future__ import annotations

from collections.abc import Mapping

UI_PREFIX = "/ui"
DOCS_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc")
DOCS_ASSETS_PREFIX = "/static-offline-docs"  # where fastapi-offline serves its files
OPENAPI_PATH = "/openapi.json"

_COMMON = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
#: The examiner's page: same-origin only; images may be blob: URLs (decoded outputs).
EXAMINER_HEADERS = {
    **_COMMON,
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' blob:; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'",
    "Cache-Control": "no-cache",
}
#: Swagger UI and ReDoc need inline scripts and styles and data: images, but nothing from
#: another host; ReDoc's bundle would fetch a logo from its CDN, which this blocks (the
#: logo hides itself when it fails to load).
DOCS_HEADERS = {
    **_COMMON,
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; "
    "worker-src 'self' blob:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'",
}


def is_public_path(path: str) -> bool:
    """The examiner's page, the API docs, their assets and the schema: nothing secret,
    and a browser cannot send an API key when it opens a page, so these need none.
    The pages then send the key the user enters with each API call."""
    return path in ("/", OPENAPI_PATH, *DOCS_PATHS) or path.startswith(
        (UI_PREFIX + "/", DOCS_ASSETS_PREFIX + "/")
    )


def _is_examiner_path(path: str) -> bool:
    return path == "/" or path.startswith(UI_PREFIX + "/")


def page_headers(path: str) -> Mapping[str, str] | None:
    """Security headers for the HTML pages and their assets; None for API routes."""
    if _is_examiner_path(path):
        return EXAMINER_HEADERS
    if path in DOCS_PATHS:
        return DOCS_HEADERS
    return None
