"""The public audit API, shaped like Certificate Transparency's (design brief §7).

An outside auditor can fetch every leaf, recompute RFC 6962 leaf hashes, and check
inclusion and consistency proofs against the signed checkpoint with any RFC 9162 library.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from api.problems import ProblemError, responses
from api.routes._common import service_of
from ledger.canonical import b64encode

router = APIRouter(prefix="/v1/log", tags=["log (public audit API)"])
MAX_ENTRIES = 1000
Index = Annotated[int, Query(ge=0, le=2**62)]


class Entries(BaseModel):
    entries: list[str]


class InclusionProof(BaseModel):
    index: int
    size: int
    proof: list[str]


class ConsistencyProof(BaseModel):
    first: int
    second: int
    proof: list[str]


@router.get(
    "/checkpoint",
    response_class=PlainTextResponse,
    responses=responses(404),
    summary="The latest checkpoint (a C2SP signed note).",
)
def checkpoint(request: Request) -> PlainTextResponse:
    note = service_of(request).log.checkpoint()
    return PlainTextResponse(note, headers={"Cache-Control": "no-cache"})


@router.get(
    "/key",
    response_class=PlainTextResponse,
    summary="The log's verifier key (a C2SP vkey: name+hexid+base64).",
)
def key(request: Request) -> PlainTextResponse:
    return PlainTextResponse(service_of(request).log.vkey() + "\n")


@router.get(
    "/entries",
    response_model=Entries,
    responses=responses(400),
    summary="Leaf inputs for start <= i < end (at most 1000, and only up to the log's size).",
)
def entries(request: Request, start: Index, end: Index) -> Entries:
    if end <= start:
        raise ProblemError(400, "bad_range", "end must be greater than start", field="end")
    end = min(end, start + MAX_ENTRIES)
    leaves = service_of(request).log.leaf_inputs(start, end)
    if not leaves:
        raise ProblemError(400, "bad_range", "start is beyond the log", field="start")
    return Entries(entries=[b64encode(leaf) for leaf in leaves])


@router.get(
    "/proof/inclusion",
    response_model=InclusionProof,
    responses=responses(400),
    summary="An RFC 9162 inclusion proof of leaf `index` in the tree of `size` leaves.",
)
def inclusion(request: Request, index: Index, size: Index) -> InclusionProof:
    log = service_of(request).log
    if not index < size <= log.size():
        raise ProblemError(400, "bad_range", "need index < size <= the log's size", field="size")
    proof = log.inclusion_proof(index, size)
    return InclusionProof(index=index, size=size, proof=[b64encode(node) for node in proof])


@router.get(
    "/proof/consistency",
    response_model=ConsistencyProof,
    responses=responses(400),
    summary="An RFC 9162 consistency proof between trees of `first` and `second` leaves.",
)
def consistency(request: Request, first: Index, second: Index) -> ConsistencyProof:
    log = service_of(request).log
    if not 0 < first <= second <= log.size():
        raise ProblemError(
            400, "bad_range", "need 0 < first <= second <= the log's size", field="second"
        )
    proof = log.consistency_proof(first, second)
    return ConsistencyProof(first=first, second=second, proof=[b64encode(n) for n in proof])
