"""Prometheus metrics (``GET /metrics``)."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REGISTRY = CollectorRegistry(auto_describe=True)

EVENTS = Counter(
    "chemtrace_events_total", "Submitted events by outcome.", ["outcome"], registry=REGISTRY
)
REQUESTS = Histogram(
    "chemtrace_http_request_seconds",
    "HTTP request latency.",
    ["route", "method", "status"],
    registry=REGISTRY,
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
LOG_SIZE = Gauge("chemtrace_log_size", "Entries in the log.", registry=REGISTRY)
CHECKPOINT_SIZE = Gauge(
    "chemtrace_checkpoint_size", "Size of the newest signed checkpoint.", registry=REGISTRY
)
CHECKPOINT_LAG = Histogram(
    "chemtrace_checkpoint_lag_seconds",
    "Age of the oldest uncheckpointed entry when a checkpoint covers it.",
    registry=REGISTRY,
    buckets=(0.1, 0.25, 0.5, 1, 1.5, 2, 3, 5, 10),
)
OUTBOX_PUBLISHED = Counter(
    "chemtrace_outbox_published_total",
    "Outbox rows relayed to the Redis stream.",
    registry=REGISTRY,
)
REDIS_FALLBACKS = Counter(
    "chemtrace_redis_fallbacks_total",
    "Operations that fell back to in-process because Redis failed.",
    ["what"],
    registry=REGISTRY,
)
JOURNAL = Counter(
    "chemtrace_security_journal_total",
    "Security journal entries by code.",
    ["code"],
    registry=REGISTRY,
)
WITNESS_UP = Gauge(
    "chemtrace_witness_up",
    "1 when the witness answered its last request with a cosignature, 0 while it fails.",
    ["witness"],
    registry=REGISTRY,
)
WITNESS_SIZE = Gauge(
    "chemtrace_witness_cosigned_size",
    "The newest checkpoint size the witness has cosigned, as far as the log knows.",
    ["witness"],
    registry=REGISTRY,
)
WITNESS_FAILURES = Counter(
    "chemtrace_witness_failures_total",
    "add-checkpoint requests that did not return a valid cosignature.",
    ["witness"],
    registry=REGISTRY,
)
WITNESS_LATENCY = Histogram(
    "chemtrace_witness_request_seconds",
    "add-checkpoint round trips that returned a cosignature.",
    ["witness"],
    registry=REGISTRY,
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
QUORUM_LAG = Histogram(
    "chemtrace_checkpoint_quorum_lag_seconds",
    "From a checkpoint's signing to its witness quorum being attached.",
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


class RequestTiming:
    """ASGI middleware: each request's latency into ``REQUESTS``, by route, method and status.

    A plain ASGI wrapper rather than ``@app.middleware("http")``: Starlette's
    ``BaseHTTPMiddleware`` runs every request through a task group and memory streams on the
    event loop, which was a quarter of the single-event write path's event-loop time.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def timed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                self._observe(scope, status, started)

        try:
            await self.app(scope, receive, timed_send)
        except BaseException:
            self._observe(scope, 500, started)
            raise

    @staticmethod
    def _observe(scope: Scope, status: int, started: float) -> None:
        path = getattr(scope.get("route"), "path", "unmatched")
        REQUESTS.labels(path, scope["method"], str(status)).observe(time.perf_counter() - started)
