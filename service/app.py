"""The FastAPI application of one isegan service, assembled: state, lifespan, middleware,
routes (``service/routes/``) and schema edits (``service/http/openapi.py``).

``create_app(settings)`` builds a self-contained app (its own model, worker, metrics and
audit log), so tests can run several side by side; ``serve(settings)`` runs one under
uvicorn, as ``isegan serve`` does.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline

from isegan.service.http.middleware import (
    ApiKeyMiddleware,
    BodySizeLimitMiddleware,
    RequestContextMiddleware,
    SecurityHeadersMiddleware,
)
from isegan.service.http.openapi import (
    API_DESCRIPTION,
    declare_api_keys,
    problem_responses,
    state_upload_limits,
)
from isegan.service.http.problems import install_problem_handlers
from isegan.service.http.request_context import RequestIdLogFilter
from isegan.service.http.slow_clients import BodyTimeoutMiddleware, uvicorn_limits
from isegan.service.prometheus import ServiceMetrics
from isegan.service.routes import API_ROUTERS
from isegan.service.routes.web_ui import mount_web_ui
from isegan.service.runtime.state import ServiceState
from isegan.service.settings import ServiceSettings


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or ServiceSettings()
    state = ServiceState(settings, ServiceMetrics())

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
        responses=problem_responses(401),
    )
    app.state.isegan = state
    install_problem_handlers(app)
    _add_middleware(app, settings, state)
    for router in API_ROUTERS:
        app.include_router(router)
    if settings.web_ui:
        mount_web_ui(app)
    state_upload_limits(app, settings.max_upload_bytes)
    if settings.api_key_sha256:
        declare_api_keys(app)
    return app


def _add_middleware(app: FastAPI, settings: ServiceSettings, state: ServiceState) -> None:
    """Outermost last: request context, security headers, API keys, body deadline, body
    size, CORS."""
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
    app.add_middleware(RequestContextMiddleware, metrics=state.metrics)


def serve(settings: ServiceSettings) -> None:
    """Serve one app under uvicorn until stopped: one process (one copy of the model per
    device), the request id in every log line, and the slow-client limits."""
    import uvicorn

    handler = logging.StreamHandler()
    handler.addFilter(RequestIdLogFilter())
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
    )
    logging.getLogger().handlers[:] = [handler]
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,  # the handler above, with request ids
        access_log=False,  # the service logs each request itself, with its id
        timeout_graceful_shutdown=int(settings.shutdown_timeout_s),
        workers=1,
        **uvicorn_limits(settings),  # header/body/keep-alive time limits, connection cap
    )
    uvicorn.Server(config).run()
