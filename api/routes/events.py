"""Ingest: one signed event, or a batch atomic per connected group of items."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.auth import Principal, require
from api.problems import ProblemError, problem_of, responses
from api.routes._common import client_of, json_body_schema, read_json, service_of
from ledger.append import Accepted, Outcome, Rejected
from ledger.errors import StaleHeadError

router = APIRouter(prefix="/v1", tags=["events"])
Writer = Depends(require("enterprise", "inspector"))


class ReceiptOut(BaseModel):
    """The log's signed receipt: the event is at ``index`` with this leaf hash."""

    origin: str
    entry_hash: str
    leaf_hash: str
    index: int
    log_time: str
    signature: str


class EventResult(BaseModel):
    index: int
    status: Literal["accepted", "duplicate", "rejected"]
    receipt: ReceiptOut | None = None
    error: dict[str, Any] | None = None


class BatchResult(BaseModel):
    accepted: int
    duplicates: int
    rejected: int
    results: list[EventResult]


class SignatureIn(BaseModel):
    alg: Literal["ed25519"]
    value: str


class SignedEventIn(BaseModel):
    """A device-signed event: ``body`` per the event schema, signed as ``EVENT_BODY‖JCS(body)``."""

    body: dict[str, Any]
    signature: SignatureIn


class BatchIn(BaseModel):
    events: list[SignedEventIn]


def _result(position: int, outcome: Outcome) -> EventResult:
    if isinstance(outcome, Accepted):
        status: Literal["accepted", "duplicate"] = "duplicate" if outcome.duplicate else "accepted"
        return EventResult(
            index=position, status=status, receipt=ReceiptOut(**outcome.receipt.to_json())
        )
    assert isinstance(outcome, Rejected)
    problem = problem_of(outcome.error)
    return EventResult(
        index=position,
        status="rejected",
        error={"code": problem.code, "detail": problem.detail, **problem.extra},
    )


@router.post(
    "/events",
    status_code=201,
    response_model=ReceiptOut,
    responses={
        200: {"model": ReceiptOut, "description": "A resend: the original receipt"},
        **responses(401, 403, 409, 413, 415, 422, 429, 503),
    },
    openapi_extra=json_body_schema("#/components/schemas/SignedEventIn"),
    summary="Append one signed event; a resend returns the original receipt (200).",
)
async def post_event(request: Request, principal: Principal = Writer) -> JSONResponse:
    raw = await read_json(request)
    service = service_of(request)
    (outcome,) = service.submit([raw], principal, client_of(request))
    if isinstance(outcome, Rejected):
        problem = problem_of(outcome.error)
        if isinstance(outcome.error, StaleHeadError):
            problem.detail = "another event moved this item's chain first: " + problem.detail
        raise problem
    assert isinstance(outcome, Accepted)
    return JSONResponse(outcome.receipt.to_json(), status_code=200 if outcome.duplicate else 201)


@router.post(
    "/events:batch",
    response_model=BatchResult,
    responses=responses(401, 403, 413, 415, 422, 429, 503),
    openapi_extra=json_body_schema("#/components/schemas/BatchIn"),
    summary="Append many events; atomic per connected group of items, one result per event.",
)
async def post_batch(request: Request, principal: Principal = Writer) -> BatchResult:
    raw = await read_json(request)
    if not isinstance(raw, dict) or set(raw) != {"events"} or not isinstance(raw["events"], list):
        raise ProblemError(422, "invalid_request", 'send {"events": [...]}', field="events")
    service = service_of(request)
    limit = service.settings.max_batch_events
    if not 1 <= len(raw["events"]) <= limit:
        raise ProblemError(
            413 if raw["events"] else 422,
            "batch_size",
            f"a batch holds 1 to {limit} events",
            field="events",
            limit=limit,
        )
    outcomes = service.submit(raw["events"], principal, client_of(request))
    results = [_result(i, outcome) for i, outcome in enumerate(outcomes)]
    return BatchResult(
        accepted=sum(r.status == "accepted" for r in results),
        duplicates=sum(r.status == "duplicate" for r in results),
        rejected=sum(r.status == "rejected" for r in results),
        results=results,
    )
