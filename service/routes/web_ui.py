"""The examiner's page: ``/`` and its static files under ``/ui/``, shipped in the
package (its security headers: ``service/http/page_headers.py``)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from starlette.staticfiles import StaticFiles

from isegan.service.http.page_headers import UI_PREFIX

STATIC_DIR = Path(__file__).parent.parent / "static"


def mount_web_ui(app: FastAPI) -> None:
    """Serve the examiner page at ``/`` and its files under ``/ui/``."""

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def examiner_page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    # follow_symlink: an editable install links each file into the package tree.
    app.mount(UI_PREFIX, StaticFiles(directory=STATIC_DIR, follow_symlink=True), name="ui")
