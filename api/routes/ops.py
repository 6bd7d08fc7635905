"""Health, readiness, Prometheus metrics and the security journal."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Principal, require
from api.metrics import REGISTRY
from api.problems import responses
from api.routes._common import service_of
from api.routes._lists import (
    PAGE_HEADERS,
    Cursor,
    after_pair,
    cut_page,
    page_headers,
    stored_time,
    time_param,
)
from api.services.paging import Page

router = APIRouter(tags=["operations"])
OVERSIGHT = Depends(require("admin", "regulator"))


@router.get("/healthz", summary="The process is up.")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


class WitnessState(BaseModel):
    """One witness as the log knows it."""

    url: str
    state: str = Field(description="`ok`, or `failing` (retried with backoff)")
    cosigned_size: int = Field(description="The newest size it cosigned, as far as the log knows")
    failures: int = Field(description="Failed requests in a row")
    last_error: str | None
    cosigned_newest: bool = Field(description="It cosigned the newest checkpoint")


class Witnessing(BaseModel):
    """The witnesses asked to cosign each checkpoint (only when some are configured)."""

    quorum: int
    newest_has_quorum: bool
    witnesses: dict[str, WitnessState]


class Readiness(BaseModel):
    """What /readyz checked: ready when the database answers (Redis down only degrades, and
    a failing witness never makes the service unready)."""

    ready: bool
    database: str = Field(description="`ok`, or `down: <error>`")
    accelerator: str = Field(description="`local` or `redis`")
    redis: str | None = Field(None, description="`ok` or `degraded` (with Redis only)")
    log_size: int
    checkpoint_size: int
    witnessing: Witnessing | None = None


@router.get(
    "/readyz",
    summary="The database answers (and Redis, when configured).",
    responses={
        200: {"model": Readiness, "description": "Ready"},
        503: {"model": Readiness, "description": "Not ready: the database does not answer"},
    },
)
def readyz(request: Request) -> JSONResponse:
    ready, checks = service_of(request).readiness()
    return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "description": "The Prometheus text format",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
    summary="Prometheus metrics.",
)
def metrics() -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


class JournalEntryOut(BaseModel):
    """One rejected attempt that suggests fraud, or `count` repeats of it in one window."""

    model_config = ConfigDict(extra="allow")
    id: str
    at: str
    last_at: str
    code: str
    detail: str
    user_id: str | None
    org: str | None
    device_key: str | None
    item_code: str | None
    site: str | None
    district: str | None
    client: str | None
    count: int
    window_start: str | None


@router.get(
    "/v1/security/journal",
    response_model=list[JournalEntryOut],
    responses={200: {"headers": PAGE_HEADERS}, **responses(401, 403, 422)},
    summary="Rejected attempts that suggest fraud, last seen first, within your districts.",
)
def journal(
    request: Request,
    response: Response,
    principal: Principal = OVERSIGHT,
    since: Annotated[str | None, time_param("`last_at` on or after")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Cursor = None,
) -> list[dict[str, Any]]:
    """Repeats of one attempt from one client (or device) in one window are one entry:
    `count` says how many, `at` and `last_at` when the first and the last were seen, and
    `window_start` which window (null for an entry that stands for one attempt).

    Pages: `X-Total-Count`, and `Link: <…>; rel="next"` with a `cursor`. An entry that is
    repeated while you page moves to the front (its `last_at` changes): a later page does
    not show it again."""
    entries, total = service_of(request).journal.entries(
        principal, since=stored_time(since, "since"), limit=limit + 1,
        after=after_pair(request, principal, cursor),
    )  # fmt: skip
    entries, following = cut_page(request, principal, entries, limit,
                                  lambda e: [e.last_at, e.id])  # fmt: skip
    page_headers(request, response, Page(entries, total, "exact", None), following)
    return [entry.to_json() for entry in entries]
