"""Items, custody chains, search, inventory and offline bundles, within the caller's scope."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Final, get_args

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from api.auth import Caller, Principal, require
from api.problems import ProblemError, responses
from api.routes._common import service_of
from api.routes._lists import (
    CSV_RESPONSE,
    Bom,
    Cursor,
    Format,
    PageInfo,
    list_answer,
    page_fields,
    page_size,
    paged,
    query_time,
    time_param,
    wants_csv,
)
from api.routes._params import Code, SiteId
from ledger.canonical import format_hash
from ledger.search import Kind
from ledger.state import GONE, ItemState, Status, fold_item
from ledger.timefmt import parse_utc

router = APIRouter(prefix="/v1", tags=["items"])
ANY_USER = Depends(require("admin", "regulator", "inspector", "enterprise"))
Time = Annotated[str | None, time_param("e.g. 2026-10-01T08:00:00+08:00")]


class ItemStateOut(BaseModel):
    code: str
    chemical: str | None = Field(description="the catalog code (`26`, or a form: `26.3`)")
    chemical_name: str | None = Field(description="the chemical's Chinese name")
    chemical_name_en: str | None
    cas: str | None
    un: str | None = Field(description="`UN…` of the form (or of the chemical's only form)")
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


class Chain(PageInfo):
    code: str
    steps: list[Step]


class ItemPage(PageInfo):
    items: list[ItemStateOut]


class Total(BaseModel):
    place: str = Field(description="a site, or `in transit (<holder>)`")
    chemical: str | None
    chemical_name: str | None
    chemical_name_en: str | None
    cas: str | None
    un: str | None
    unit: str | None
    items: int
    quantity: str


class Inventory(PageInfo):
    at: str
    items: list[ItemStateOut] = Field(description="a page of the items held")
    totals: list[Total] = Field(description="over every item held, not only this page")


STEP_COLUMNS: Final = (*(n for n in Step.model_fields if n != "data"), "data")


def _out(request: Request, state: ItemState) -> ItemStateOut:
    return ItemStateOut(**state.to_json(), **service_of(request).catalog.described(state.chemical))


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
        state=_out(request, state),
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
    responses={**CSV_RESPONSE, **responses(401, 403, 404, 422)},
    summary="The custody chain: every event of the item, with holder, place and quantity.",
)
def get_chain(
    request: Request, code: Code, principal: Caller, cursor: Cursor = None,
    limit: Annotated[int | None, Query(ge=1, le=5000, description="default 1000 "
                     "(CSV: every step)")] = None,
    format: Format = None, bom: Bom = True,
) -> Chain | StreamingResponse:  # fmt: skip
    """Errors: 403 `forbidden` (the responder role sees no chains); 404 `item_not_found`."""
    csv = wants_csv(request, format)
    queries = service_of(request).queries
    queries.require_custody_reader(principal)
    view = queries.visible_item(principal, code)
    canonical, steps = view.code, list[Step]()
    for logged, state in queries.chain_steps(view):
        body = logged.event.body
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
    page, following = paged(request, principal, steps, lambda s: (s.index,), (int,),
                            cursor=cursor, limit=page_size(limit, csv, 1000))  # fmt: skip
    return list_answer(
        csv, page.rows, page_fields(page, following),
        lambda fields: Chain(code=canonical, steps=page.rows, **fields),
        name=f"chain-{canonical}", columns=STEP_COLUMNS, bom=bom,
        cells=lambda s: [*(getattr(s, n) for n in STEP_COLUMNS[:-1]),
                         json.dumps(s.data, ensure_ascii=False, sort_keys=True)],
    )  # fmt: skip


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


ITEM_COLUMNS: Final = tuple(ItemStateOut.model_fields)
STATUSES: Final = tuple(get_args(Status))


def _moment(text: str | None) -> datetime | None:
    return None if text is None else parse_utc(text)


@router.get(
    "/items",
    response_model=ItemPage,
    responses={**CSV_RESPONSE, **responses(401, 403, 404, 422)},
    summary="Search items by chemical, organisation, site, status, lot, waybill, vehicle, "
    "device and activity time.",
)
def search_items(
    request: Request,
    principal: Caller,
    chemical: Annotated[str | None, Query(description="an id (`26`, `26.3`), CAS number, UN "
                        "number or name (Chinese or English); one naming no chemical, or "
                        "several, is a 422")] = None,
    org: Annotated[str | None, Query(description="the holder: an organisation's id or "
                   "registered name; one outside your scope is a 404 `org_not_found`")] = None,
    site: Annotated[str | None, Query(description="a site's id; one outside your scope is "
                    "a 404 `site_not_found`")] = None,
    status: Annotated[list[str] | None, Query(description="any of: " + ", ".join(STATUSES)
                      + " (repeat for several)", json_schema_extra={"items": {
                          "enum": list(STATUSES)}})] = None,
    lot: Annotated[str | None, Query(description="a production or filling lot")] = None,
    waybill: Annotated[str | None, Query(description="a waybill number of a shipment")] = None,
    vehicle: Annotated[str | None, Query(description="a vehicle's id or plate (京A12345)")] = None,
    device: Annotated[str | None, Query(description="the key id of a device that signed an "
                      "event of the item")] = None,
    since: Time = None,
    until: Time = None,
    at: Time = None,
    limit: Annotated[int | None, Query(ge=1, le=5000, description="default 500 (CSV: every "
                     "match)")] = None,
    cursor: Cursor = None,
    format: Format = None,
    bom: Bom = True,
) -> ItemPage | StreamingResponse:  # fmt: skip
    """Items (their state now, or at `at`) in your scope, in code order, a page at a time.

    Errors: 404 `org_not_found` / `site_not_found` (also outside your scope); 422
    `unknown_chemical` / `ambiguous_chemical` (with `candidates`), `invalid_request` (a
    time or status), `invalid_cursor`, `unknown_parameter`, `repeated_parameter`."""
    csv = wants_csv(request, format)
    service = service_of(request)
    since, until, at = (query_time(v, n) for v, n in ((since, "since"), (until, "until"),
                                                         (at, "at")))  # fmt: skip
    for value in status or ():
        if value not in STATUSES:
            raise ProblemError(422, "invalid_request", "status must be one of: "
                               + ", ".join(STATUSES), field="status")  # fmt: skip
    filters = service.filters
    wanted: dict[str, str | frozenset[str] | None] = {
        "chemical": filters.chemical(chemical),
        "holder": filters.org(principal, org),
        "site": filters.site(principal, site),
        "status": frozenset(status) if status else None,
    }
    terms: list[tuple[Kind, list[str]]] = [
        ("lot", [lot] if lot else []), ("waybill", [waybill] if waybill else []),
        ("vehicle", filters.vehicles(vehicle) if vehicle else []),
        ("device", [device] if device else []),
    ]  # fmt: skip
    codes: frozenset[str] | None = None
    for kind, values in terms:
        if values:
            found = service.queries.search(kind, values, at)
            codes = found if codes is None else codes & found
    after, before = _moment(since), _moment(until)
    matches = (
        state
        for state in service.queries.visible_states(principal, at, codes=codes, where=wanted)
        if (after is None or (state.last_time and parse_utc(state.last_time) >= after))
        and (before is None or (state.last_time and parse_utc(state.last_time) <= before))
    )  # fmt: skip
    page, following = paged(request, principal, matches, lambda s: (s.code,), (str,),
                            cursor=cursor, limit=page_size(limit, csv, 500))  # fmt: skip
    items = [_out(request, state) for state in page.rows]
    return list_answer(csv, items, page_fields(page, following),
                       lambda fields: ItemPage(items=items, **fields),
                       name="items", columns=ITEM_COLUMNS, bom=bom)  # fmt: skip


@router.get(
    "/inventory",
    response_model=Inventory,
    responses={**CSV_RESPONSE, **responses(401, 403, 404, 422)},
    summary="What is where: items held, by site, organisation, chemical or district, at a time.",
)
def inventory(
    request: Request,
    principal: Caller,
    site: Annotated[str | None, Query(description="a site's id; one outside your scope is "
                    "a 404 `site_not_found`")] = None,
    org: Annotated[str | None, Query(description="the holder: an organisation's id or "
                   "registered name; one outside your scope is a 404 `org_not_found`")] = None,
    chemical: Annotated[str | None, Query(description="an id, CAS number, UN number or "
                        "name; one naming no chemical, or several, is a 422")] = None,
    district: Annotated[str | None, Query(description="a district; one outside a regulator's "
                        "districts is a 403, one with no registered site a 404")] = None,
    at: Time = None,
    limit: Annotated[int | None, Query(ge=1, le=5000, description="items per page, default "
                     "500 (CSV: every item)")] = None,
    cursor: Cursor = None,
    format: Format = None,
    bom: Bom = True,
) -> Inventory | StreamingResponse:  # fmt: skip
    """The items held (not gone, not lost) in your scope, a page at a time in code order,
    and the totals per place, chemical and unit over all of them.

    Errors: 403 `forbidden` (a district not yours); 404 `site_not_found`, `org_not_found`,
    `district_not_found`; 422 as for `/v1/items`."""
    csv = wants_csv(request, format)
    at = query_time(at, "at")
    service = service_of(request)
    queries, filters = service.queries, service.filters
    district = filters.district(principal, district)
    sites = None if district is None else filters.sites_in(district)
    wanted: dict[str, str | frozenset[str] | None] = {
        "site": filters.site(principal, site), "holder": filters.org(principal, org),
        "chemical": filters.chemical(chemical),
    }  # fmt: skip
    held: list[ItemState] = []
    totals: dict[tuple[str, str | None, str | None], tuple[int, Decimal | int]] = {}
    for state in queries.visible_states(principal, at, where=wanted):
        if state.status in GONE or state.status == "lost":
            continue
        if sites is not None and state.site not in sites:
            continue
        held.append(state)
        key = (state.site or f"in transit ({state.holder})", state.chemical, state.unit)
        count, amount = totals.get(key, (0, 0))
        totals[key] = (count + 1, amount + (state.quantity or 0))
    page, following = paged(request, principal, held, lambda s: (s.code,), (str,),
                            cursor=cursor, limit=page_size(limit, csv, 500))  # fmt: skip
    items = [_out(request, state) for state in page.rows]
    described = service.catalog.described
    return list_answer(
        csv, items, page_fields(page, following),
        lambda fields: Inventory(
            at=at or queries.now(), items=items,
            totals=[Total(place=k[0], chemical=k[1], unit=k[2], items=v[0], quantity=str(v[1]),
                          **described(k[1])) for k, v in sorted(totals.items(), key=str)],
            **fields,
        ),
        name="inventory", columns=ITEM_COLUMNS, bom=bom,
    )  # fmt: skip
