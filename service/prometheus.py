"""Prometheus metrics of one service instance, in its own registry (so several apps,
as in the tests, never share counters)."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    generate_latest,
)

#: Latency buckets from 5 ms (a small CPU batch stage) to 2 min (a flooded queue).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "isegan_requests",
            "HTTP requests by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "isegan_request_duration_seconds",
            "Whole-request latency by route template.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.stage_seconds = Histogram(
            "isegan_stage_duration_seconds",
            "Seconds per synthesis stage (batch stages count once per batch).",
            ["stage"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.wasted_inferences = Counter(
            "isegan_wasted_inferences",
            "Sketches computed for requests that had timed out or gone by the time the "
            "batch finished.",
            registry=self.registry,
        )
        self.audit_failures = Counter(
            "isegan_audit_failures",
            "Audit records that could not be written (the request was answered 503).",
            registry=self.registry,
        )
        self.audit_healthy = Gauge(
            "isegan_audit_healthy",
            "1 while the audit log can be written, 0 after a failed append until a probe "
            "or an append succeeds.",
            registry=self.registry,
        )
        self.audit_healthy.set(1)
        self.queue_depth = Gauge(
            "isegan_queue_depth",
            "Requests waiting for the inference worker.",
            registry=self.registry,
        )
        self.batch_limit = Gauge(
            "isegan_batch_limit",
            "Sketches the next batch may take: max_batch_size, or the size measured "
            "fastest per sketch (batch_sizing=measured).",
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "isegan_batch_size",
            "Sketches per forward pass.",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            registry=self.registry,
        )
        self.rejected = Counter(
            "isegan_rejected_requests",
            "Synthesis requests refused before inference, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.model = Info(
            "isegan_model", "The loaded model, parser and code.", registry=self.registry
        )

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.request_seconds.labels(route).observe(seconds)

    def observe_stages(self, seconds: dict[str, float]) -> None:
        for stage, value in seconds.items():
            self.stage_seconds.labels(stage).observe(value)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
