"""The service's routes, one module per concern; ``create_app`` includes them in the
order the published schema lists them."""

from __future__ import annotations

from fastapi import APIRouter

from isegan.service.routes import health, metrics, model_info, synthesize, verify

API_ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    metrics.router,
    model_info.router,
    verify.router,
    synthesize.router,
)
