"""Health, readiness, Prometheus metrics and the security journal."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.auth import Principal, require
from api.metrics import REGISTRY
from api.problems import responses
from api.routes._common import service_of

router = APIRouter(tags=["operations"])
OVERSIGHT = Depends(require("admin", "regulator"))


@router.get("/healthz", summary="The process is up.")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="The database answers (and Redis, when configured).",
    responses={503: {"description": "not ready"}},
)
def readyz(request: Request) -> JSONResponse:
    service = service_of(request)
    checks: dict[str, Any] = {}
    try:
        service.reads.ping()
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"down: {type(exc).__name__}"
    checks["accelerator"] = service.accel.name
    if service.accel.name == "redis":
        # Redis down degrades (in-process fallbacks), it does not make the service unready.
        checks["redis"] = "ok" if service.accel.healthy() else "degraded"
    size, covered = service.reads.checkpoint_state() if checks["database"] == "ok" else (0, 0)
    checks.update(log_size=size, checkpoint_size=covered)
    ready = checks["database"] == "ok"
    return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)


@router.get("/metrics", response_class=Response, summary="Prometheus metrics.")
def metrics() -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


@router.get(
    "/v1/security/journal",
    responses=responses(401, 403),
    summary="Rejected attempts that suggest fraud, last seen first, within your districts.",
)
def journal(
    request: Request,
    principal: Principal = OVERSIGHT,
    since: Annotated[str | None, Query(description="RFC 3339 UTC; `last_at` on or after")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Repeats of one attempt from one client (or device) in one window are one entry:
    `count` says how many, `at` and `last_at` when the first and the last were seen, and
    `window_start` which window (null for an entry that stands for one attempt)."""
    service = service_of(request)
    if principal.role == "admin":
        entries = service.reads.journal_entries(since=since, limit=limit)
    else:
        entries = service.reads.journal_entries(
            orgs=sorted(service.scope(principal).orgs or ()),
            districts=sorted(principal.districts),
            since=since,
            limit=limit,
        )
    return [entry.to_json() for entry in entries]
