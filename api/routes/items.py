"""Items, custody chains, search, inventory and offline bundles, within the caller's scope."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from api.auth import Caller, Principal, require
from api.problems import ProblemError, responses
from api.routes._common import service_of
from api.routes._params import Code, SiteId, time_query
from ledger.canonical import format_hash
from ledger.errors import LedgerError
from ledger.state import GONE, ItemState, Projection, Status, fold_item
from ledger.timefmt import parse_utc

router = APIRouter(prefix="/v1", tags=["items"])
ANY_USER = Depends(require("admin", "regulator", "inspector", "enterprise"))
Time = Annotated[str | None, time_query("RFC 3339 UTC, e.g. 2026-10-01T08:00:00Z")]


class ItemStateOut(BaseModel):
    code: str
    chemical: str | None
    packaging: str | None
    holder: str | None
    site: str | None
    status: str
    quantity: str | None
    unit: str | None
    destination: str | None
    last_event: str | None
    last_time: str | None
    seq: int


class ItemOut(BaseModel):
    state: ItemStateOut
    issued_to: str | None
    label_url: str | None
    head: dict[str, Any] | None
    events: int


class Step(BaseModel):
    """One step of the custody chain: who held it, where, when, how much."""

    seq: int
    index: int
    type: str
    time: str
    log_time: str
    org: str
    site: str | None
    holder: str | None
    status: str
    quantity: str | None
    unit: str | None
    event_hash: str
    device_key: str
    data: dict[str, Any]


class Chain(BaseModel):
    code: str
    steps: list[Step]


class Inventory(BaseModel):
    at: str
    items: list[ItemStateOut]
    totals: list[dict[str, Any]]


def _check_time(value: str | None, name: str) -> str | None:
    if value is not None:
        try:
            parse_utc(value)
        except LedgerError:
            raise ProblemError(
                422, "invalid_request", f"{name} must be RFC 3339 UTC", field=name
            ) from None
    return value


def _out(state: ItemState) -> ItemStateOut:
    return ItemStateOut(**state.to_json())


@router.get(
    "/items/{code}",
    response_model=ItemOut,
    responses=responses(401, 404),
    summary="An item: its current state, issuer, label and chain head.",
)
def get_item(request: Request, code: Code, principal: Caller) -> ItemOut:
    service = service_of(request)
    view = service.queries.visible_item(principal, code)
    canonical = view.code
    bodies = (logged.event.body for logged in view.known_prefix)
    state = fold_item(canonical, bodies, service.queries.units.kilograms)
    signed = service.registry.signed_code(canonical)
    head = service.queries.item_head(view)
    return ItemOut(
        state=_out(state),
        issued_to=signed.facts.org if signed else None,
        label_url=service.registry.label_url(signed) if signed else None,
        head=None
        if head is None
        else {
            "seq": head.seq,
            "hash": format_hash(head.head_hash),
            "index": head.index,
        },
        events=len(view.seen),
    )


@router.get(
    "/items/{code}/events",
    response_model=Chain,
    responses=responses(401, 404),
    summary="The custody chain: every event of the item, with holder, place and quantity.",
)
def get_chain(request: Request, code: Code, principal: Caller) -> Chain:
    queries = service_of(request).queries
    queries.require_custody_reader(principal)
    view = queries.visible_item(principal, code)
    canonical = view.code
    projection, steps = Projection(kilograms=queries.units.kilograms), []
    for logged, shown in zip(view.events, view.visible, strict=True):
        body = logged.event.body
        projection.apply(body)
        if not shown:
            continue
        state = projection.items[canonical]
        raw_data = logged.event.raw_body.get("data", {})
        steps.append(
            Step(
                seq=state.seq,
                index=logged.index,
                type=body.type,
                time=body.time,
                log_time=logged.log_time,
                org=body.org,
                site=body.site,
                holder=state.holder,
                status=state.status,
                quantity=None if state.quantity is None else str(state.quantity),
                unit=state.unit,
                event_hash=format_hash(logged.event.event_hash),
                device_key=logged.event.key_id,
                data=dict(raw_data),
            )
        )
    return Chain(code=canonical, steps=steps)


@router.get(
    "/items/{code}/bundle",
    responses=responses(401, 404, 503),
    summary="The item's offline bundle (verify with `chemtrace verify-bundle`).",
)
def get_bundle(
    request: Request,
    code: Code,
    principal: Caller,
    since: Annotated[
        int | None, Query(ge=1, description="add a consistency proof from here")
    ] = None,
) -> dict[str, Any]:
    return service_of(request).queries.item_bundle(principal, code, since)


@router.get(
    "/items/{code}/verify",
    responses=responses(401, 404, 503),
    summary="Build the item's bundle and verify it against the pinned keys.",
)
def verify_item(request: Request, code: Code, principal: Caller) -> dict[str, Any]:
    return service_of(request).queries.verify_item(principal, code)


@router.get(
    "/sites/{site}/bundle",
    responses=responses(401, 403, 404, 503),
    summary="Every item now at a site, as one offline bundle (for inspections).",
)
def site_bundle(
    request: Request,
    site: SiteId,
    principal: Principal = ANY_USER,
) -> dict[str, Any]:
    return service_of(request).queries.site_bundle(principal, site)


@router.get(
    "/items",
    response_model=list[ItemStateOut],
    responses=responses(401, 422),
    summary="Search items by chemical, organisation, site, status and activity time.",
)
def search_items(
    request: Request,
    principal: Caller,
    chemical: str | None = None,
    org: str | None = None,
    site: str | None = None,
    status: Status | None = None,
    since: Time = None,
    until: Time = None,
    at: Time = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[ItemStateOut]:
    for value, name in ((since, "since"), (until, "until"), (at, "at")):
        _check_time(value, name)
    found = []
    queries = service_of(request).queries
    states = queries.visible_states(principal, at, chemical=chemical, holder=org, site=site,
                                  status=status)  # fmt: skip
    for state in states:
        if (since and (state.last_time or "") < since) or (
            until and (state.last_time or "") > until
        ):
            continue
        found.append(_out(state))
        if len(found) >= limit:
            break
    return found


@router.get(
    "/inventory",
    response_model=Inventory,
    responses=responses(401, 422),
    summary="What is where: items held, by site, organisation, chemical or district, at a time.",
)
def inventory(
    request: Request,
    principal: Caller,
    site: str | None = None,
    org: str | None = None,
    chemical: str | None = None,
    district: str | None = None,
    at: Time = None,
) -> Inventory:
    _check_time(at, "at")
    queries = service_of(request).queries
    sites = None if district is None else queries.sites_in([district])
    items: list[ItemStateOut] = []
    totals: dict[tuple[str, str | None, str | None], tuple[int, Decimal | int]] = {}
    for state in queries.visible_states(principal, at, site=site, holder=org, chemical=chemical):
        if state.status in GONE or state.status == "lost":
            continue
        if sites is not None and state.site not in sites:
            continue
        items.append(_out(state))
        key = (state.site or f"in transit ({state.holder})", state.chemical, state.unit)
        count, amount = totals.get(key, (0, 0))
        totals[key] = (count + 1, amount + (state.quantity or 0))
    return Inventory(
        at=at or queries.now(),
        items=items,
        totals=[
            {"place": k[0], "chemical": k[1], "unit": k[2], "items": v[0], "quantity": str(v[1])}
            for k, v in sorted(totals.items(), key=str)
        ],
    )
