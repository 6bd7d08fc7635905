"""Prometheus metrics (``GET /metrics``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

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
