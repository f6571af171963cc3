"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from isegan.service.dependencies import State
from isegan.service.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/health/live", response_model=Health)
async def live(state: State) -> Health:
    """The process answers. Restart it if this fails."""
    return Health(status="stopping" if state.stopping else "ok")


@router.get(
    "/health/ready",
    response_model=Health,
    responses={
        503: {
            "model": Health,
            "description": "Still loading, stopping, or the audit log cannot be written.",
        }
    },
)
async def ready(state: State) -> Response:
    """Models loaded, one warm-up inference done and the audit log writable: send
    traffic. While the audit log cannot be written, 503 ``audit-unavailable``."""
    audit, metrics = state.audit, state.metrics
    if audit is not None and not audit.healthy and not await run_in_threadpool(audit.probe):
        metrics.audit_healthy.set(0)
        body = Health(status="audit-unavailable", detail=audit.last_error)
        return JSONResponse(body.model_dump(exclude_none=True), status_code=503)
    metrics.audit_healthy.set(1)
    if state.ready and state.pipeline is not None:
        return JSONResponse(Health(status="ok", model_id=state.pipeline.model_id).model_dump())
    body = Health(status="stopping" if state.stopping else "starting")
    return JSONResponse(body.model_dump(), status_code=503)
