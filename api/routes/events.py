"""Ingest: one signed event, or a batch atomic per connected group of items."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Principal, require
from api.problems import ProblemError, problem_of, responses
from api.routes._common import client_of, json_body_schema, read_json, service_of
from api.services.root import Service
from ledger.append import Accepted, Outcome, Rejected
from ledger.errors import LedgerError, StaleHeadError

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
    model_config = ConfigDict(extra="forbid")
    alg: Literal["ed25519"]
    value: str = Field(description="the Ed25519 signature (64 bytes), canonical base64",
                       pattern=r"^[A-Za-z0-9+/]{85}[AQgw]==$")  # fmt: skip


class SignedEventIn(BaseModel):
    """A device-signed event: ``body`` per the event schema, signed as ``EVENT_BODY‖JCS(body)``.

    Only the shape is in this schema: the body's own (``ledger.events``), the signature, the
    device's certificate and the item's chain head are checked on arrival, and an event
    that fails any of them is refused (422, or 409 for a head another event moved)."""

    model_config = ConfigDict(extra="forbid")
    body: dict[str, Any]
    signature: SignatureIn


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[Any] = Field(
        min_length=1,
        description="signed events (each a SignedEventIn); each is judged on its own, and "
        "one that is malformed is rejected in its result, not the whole batch; more than "
        "the deployment's batch size is a 413",
    )


def _problem(service: Service, principal: Principal, error: LedgerError) -> ProblemError:
    """The problem for a rejection; a head is only named to someone who may see the item."""
    if isinstance(error, StaleHeadError):
        item = str(error.context.get("item", ""))
        if not service.queries.may_see(principal, item):
            return ProblemError(409, error.code, f"event does not extend item {item}'s head",
                                item=item)  # fmt: skip
        problem = problem_of(error)
        problem.detail = "another event moved this item's chain first: " + problem.detail
        return problem
    return problem_of(error)


def _result(service: Service, principal: Principal, position: int, outcome: Outcome) -> EventResult:
    if isinstance(outcome, Accepted):
        status: Literal["accepted", "duplicate"] = "duplicate" if outcome.duplicate else "accepted"
        return EventResult(
            index=position, status=status, receipt=ReceiptOut(**outcome.receipt.to_json())
        )
    assert isinstance(outcome, Rejected)
    problem = _problem(service, principal, outcome.error)
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
    submit = service.ingest.submit
    (outcome,) = await run_in_threadpool(submit, [raw], principal, client_of(request))
    if isinstance(outcome, Rejected):
        raise _problem(service, principal, outcome.error)
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
    submit = service.ingest.submit
    outcomes = await run_in_threadpool(submit, raw["events"], principal, client_of(request))
    results = [_result(service, principal, i, o) for i, o in enumerate(outcomes)]
    return BatchResult(
        accepted=sum(r.status == "accepted" for r in results),
        duplicates=sum(r.status == "duplicate" for r in results),
        rejected=sum(r.status == "rejected" for r in results),
        results=results,
    )
