"""Prometheus metrics of the service (request, stage and queue figures)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from isegan.service.dependencies import Metrics, State

router = APIRouter(tags=["operations"])


@router.get("/metrics", response_class=Response)
async def prometheus_metrics(metrics: Metrics, state: State) -> Response:
    """Prometheus text exposition."""
    if state.worker is not None:  # also before the service is ready
        metrics.queue_depth.set(state.worker.depth)
    return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
