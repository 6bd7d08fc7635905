"""Anomaly findings, their review workflow, and webhook subscriptions, within the caller's scope.

An admin sees every finding; a regulator or inspector the findings of its districts; an
enterprise the findings about its own organisation. A finding outside the caller's scope
is answered exactly like a missing one. A finding is a group: one per rule and subject
(e.g. one storage clash at one depot), with its occurrences, when first and last seen, and
a count. Only admins and regulators move findings through the workflow (open →
acknowledged → resolved | false_positive, or open → resolved | false_positive); every move
is appended with who, when and why, never overwritten. The engine itself (user `engine`)
reopens a closed finding that has a new occurrence, and moves one whose every occurrence
a late-synced event explains to `superseded`.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Principal, require
from api.outbound import DestinationRefusedError, OutboundPolicy, Resolver, system_resolver
from api.problems import ProblemError, responses
from api.routes._common import service_of
from api.routes._lists import (
    CSV_RESPONSE,
    CURSOR,
    PAGE_HEADERS,
    Bom,
    Cursor,
    Format,
    PageFields,
    PageInfo,
    PageLimit,
    after_pair,
    cut_page,
    headed_page,
    list_answer,
    page_size,
    query_of,
    query_time,
    time_param,
    wants_csv,
)
from api.routes._params import FindingId, WebhookId, plain_query
from api.services.findings import (
    COUNT_CAP,
    STATUSES,
    FindingFilter,
    FindingsService,
    StoredFinding,
)
from api.services.paging import InvalidCursorError
from ledger.note import parse_vkey
from ledger.rules import RULES, SEVERITIES, Severity

router = APIRouter(prefix="/v1", tags=["findings"])
ANY_USER = Depends(require("admin", "regulator", "inspector", "enterprise"))
OVERSIGHT = Depends(require("admin", "regulator"))


class FindingOut(BaseModel):
    """A group of occurrences: its subject, worst severity and state, and its first
    occurrence's message, evidence and place."""

    id: str
    rule: str
    key: str = Field(description="the group's subject (for most rules, the occurrence's key)")
    severity: str = Field(description="the worst severity of its occurrences")
    status: str
    at: str = Field(description="when first seen (as `first_seen`)")
    message: str
    evidence: list[str]
    org: str | None
    site: str | None
    district: str | None
    chemical: str | None
    chemical_name: str | None = None
    chemical_name_en: str | None = None
    cas: str | None = None
    un: str | None = None
    item: str | None
    log_position: int
    found_at: str
    first_seen: str
    last_seen: str
    count: int = Field(description="how many occurrences the group has")
    openings: int = Field(description="1, plus one per reopening by a new occurrence")


class OccurrenceOut(BaseModel):
    """One occurrence, as the engine found it."""

    id: str
    rule: str
    key: str
    severity: str
    at: str
    message: str
    evidence: list[str]
    org: str | None
    site: str | None
    district: str | None
    chemical: str | None
    item: str | None
    supersedes: list[str] = Field(default_factory=list)
    superseded_by: str | None
    log_position: int
    found_at: str


class FindingList(PageInfo):
    findings: list[FindingOut]


class TransitionOut(BaseModel):
    """One move of a finding's status: who made it, when, from what to what, and why."""

    finding_id: str
    seq: int
    from_status: str
    to_status: str
    user_id: str
    at: str
    comment: str
    occurrence: str | None = Field(
        default=None,
        description="the occurrence the engine reopened or superseded the finding for",
    )


class DeliveryOut(BaseModel):
    webhook_id: str
    state: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: str | None
    delivered_at: str | None
    last_error: str | None


class FindingDetail(BaseModel):
    finding: FindingOut
    occurrences: list[OccurrenceOut] = Field(description="a page of them, newest first")
    occurrences_total: int = Field(description="how many occurrences, over all pages")
    occurrences_next_cursor: str | None = Field(
        default=None, description="pass as `occurrences_cursor` for the next page of them"
    )
    transitions: list[TransitionOut]
    deliveries: list[DeliveryOut] | None = Field(
        description="webhook deliveries (admins: all; regulators: their own hooks'); "
        "null for other roles"
    )


_CONTROL = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f"
COMMENT = rf"^[^{_CONTROL}]*[^\s{_CONTROL}][^{_CONTROL}]*$"
"""A comment the workflow takes: not blank, and no control character but tab, CR and LF."""


class TransitionIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    status: str = Field(description="the new status: " + ", ".join(STATUSES),
                        json_schema_extra={"enum": list(STATUSES)})  # fmt: skip
    comment: Annotated[
        str,
        Field(max_length=2000, description="why (required: not blank, no control characters "
              "but tab and line breaks)", json_schema_extra={"pattern": COMMENT}),
    ]  # fmt: skip
    expected_status: str | None = Field(
        default=None, description="refuse (409) unless the finding is in this status now",
        json_schema_extra={"enum": [*STATUSES, None]},
    )  # fmt: skip


class WebhookIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    url: Annotated[
        str,
        Field(max_length=2000, description="http(s) URL to POST findings to, on a host that is "
              "(or resolves only to) public addresses or networks the operator allows",
              json_schema_extra={"pattern": r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s\x00-\x1f\x7f]+$"}),
    ]  # fmt: skip
    min_severity: Severity = "critical"


class SignatureKey(BaseModel):
    """How deliveries are signed: verify ``Chemtrace-Signature`` with this key."""

    algorithm: Literal["ed25519"]
    key_id: str
    vkey: str


class WebhookOut(BaseModel):
    id: str
    url: str
    min_severity: str
    user_id: str
    districts: list[str] | None = Field(description="the owner's districts; null: every one")
    created_at: str
    signature: SignatureKey


# -- helpers ------------------------------------------------------------------------------------


def _findings(request: Request) -> FindingsService:
    return service_of(request).findings


def _out(request: Request, stored: StoredFinding) -> FindingOut:
    return FindingOut(**service_of(request).catalog.describe_finding(stored))


def _has_control(text: str, allowed: str = "\t\n\r") -> bool:
    return any((ord(c) < 32 or ord(c) == 127) and c not in allowed for c in text)


def _plain(value: str | None, name: str) -> str | None:
    """A free-text filter: no control characters (a database could not even compare them)."""
    if value is not None and _has_control(value, allowed=""):
        raise ProblemError(400, "invalid_filter", f"{name} has control characters", field=name)
    return value


def _one_of(value: str | None, allowed: tuple[str, ...], name: str, code: str) -> str | None:
    if value is not None and value not in allowed:
        raise ProblemError(400, code, f"{name} must be one of: {', '.join(allowed)}", field=name)
    return value


def _time(value: str | None, name: str) -> str | None:
    """RFC 3339 with any offset, as findings write it (UTC, whole seconds unless a fraction
    was given)."""
    try:
        return query_time(value, name)
    except ProblemError as refused:
        raise ProblemError(400, "invalid_filter", refused.detail, field=name) from None


# -- findings -----------------------------------------------------------------------------------


def _all_of(values: list[str] | None, allowed: tuple[str, ...], name: str) -> frozenset[str] | None:
    for value in values or ():
        _one_of(value, allowed, name, "invalid_filter")
    return frozenset(values) if values else None


def _list_query(values: tuple[str, ...] | frozenset[str], description: str = "") -> Any:
    choices = list(values) if isinstance(values, tuple) else sorted(values)
    return Query(description=(description or " | ".join(choices)) + " (repeat for any of "
                 "several)", json_schema_extra={"items": {"enum": choices}})  # fmt: skip


FINDING_COLUMNS: Final = ("id", "rule", "severity", "status", "first_seen", "last_seen",
                          "count", "org", "site", "district", "chemical", "chemical_name",
                          "chemical_name_en", "cas", "un", "item", "key", "message",
                          "evidence", "openings", "log_position", "found_at")  # fmt: skip


@router.get(
    "/findings",
    response_model=FindingList,
    responses={**CSV_RESPONSE, **responses(400, 401, 403, 404, 422)},
    summary="Findings (groups of occurrences) in your scope, last seen first, filtered and paged.",
)
def list_findings(
    request: Request,
    principal: Principal = ANY_USER,
    rule: Annotated[list[str] | None, _list_query(RULES, "a rule id, e.g. "
                    "clone.unissued_code")] = None,
    severity: Annotated[list[str] | None, _list_query(SEVERITIES)] = None,
    district: Annotated[str | None, plain_query("a district; one outside a regulator's "
                        "districts is a 403")] = None,
    org: Annotated[str | None, plain_query("an organisation's id or name; one outside your "
                   "scope is a 404")] = None,
    site: Annotated[str | None, plain_query("a site's id (any occurrence there); one outside "
                    "your scope is a 404")] = None,
    chemical: Annotated[str | None, plain_query("an id, CAS number, UN number or name; one "
                        "naming no chemical, or several, is a 422")] = None,
    status: Annotated[list[str] | None, _list_query(STATUSES)] = None,
    item: Annotated[str | None, plain_query()] = None,
    since: Annotated[str | None, time_param("last seen on or after")] = None,
    until: Annotated[str | None, time_param("first seen on or before")] = None,
    limit: Annotated[int | None, Query(ge=1, le=500, description="default 100 (CSV: every "
                     "match)")] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="deprecated: rows to skip "
                      "(prefer `cursor`, which neither repeats nor skips a row when findings "
                      "arrive between pages); not with `cursor`")] = 0,
    cursor: Cursor = None,
    format: Format = None,
    bom: Bom = True,
) -> FindingList | StreamingResponse:  # fmt: skip
    """Errors: 400 `invalid_filter` (an unknown rule, severity or status, or control
    characters; `field` names it); 403 `forbidden` (a district not yours); 404
    `org_not_found`, `site_not_found`, `district_not_found` (also outside your scope); 422
    `unknown_chemical`, `ambiguous_chemical`, `invalid_request` (a time), `invalid_cursor`."""
    csv = wants_csv(request, format)
    if cursor is not None and offset:
        raise ProblemError(422, "invalid_request", "give cursor or offset, not both",
                           field="offset")  # fmt: skip
    service = service_of(request)
    filters = service.filters
    where = FindingFilter(
        rules=_all_of(rule, RULES, "rule"), severities=_all_of(severity, SEVERITIES, "severity"),
        statuses=_all_of(status, STATUSES, "status"),
        district=filters.district(principal, _plain(district, "district")),
        org=filters.org(principal, _plain(org, "org")),
        site=filters.site(principal, _plain(site, "site")),
        chemicals=filters.chemical(_plain(chemical, "chemical")), item=_plain(item, "item"),
        since=_time(since, "since"), until=_time(until, "until"),
    )  # fmt: skip
    size = page_size(limit, csv, 100)
    found, total, capped = _findings(request).search_page(
        principal, where, limit=(size if size is not None else COUNT_CAP) + 1, offset=offset,
        after=after_pair(request, principal, cursor),
    )  # fmt: skip
    following = None
    if size is not None:
        found, following = cut_page(request, principal, found, size,
                                    lambda f: [f.last_seen, f.finding.id])  # fmt: skip
    describe = service.catalog.describe_finding
    out = [FindingOut(**describe(f)) for f in found]
    fields: PageFields = {"total": total, "total_kind": "capped" if capped else "exact",
                          "next_cursor": following}  # fmt: skip
    return list_answer(csv, out, fields, lambda fields: FindingList(findings=out, **fields),
                       name="findings", columns=FINDING_COLUMNS, bom=bom)  # fmt: skip


@router.get(
    "/findings/{finding_id:segment}",
    response_model=FindingDetail,
    responses=responses(401, 404),
    summary="A finding with its occurrences, workflow history and webhook deliveries.",
)
def get_finding(
    request: Request,
    finding_id: FindingId,
    principal: Principal = ANY_USER,
    occurrences_limit: Annotated[int, Query(ge=1, le=500)] = 50,
    occurrences_offset: Annotated[int, Query(ge=0, le=10_000_000, description="deprecated: "
                                  "prefer `occurrences_cursor`; not with it")] = 0,
    occurrences_cursor: Annotated[str | None, Query(description="a previous answer's "
                                  "`occurrences_next_cursor`", json_schema_extra={
                                      "pattern": CURSOR})] = None,
) -> FindingDetail:  # fmt: skip
    """Errors: 404 `finding_not_found` (also for a finding outside your scope); 422
    `invalid_cursor`, or `invalid_request` for a cursor with an offset."""
    findings = _findings(request)
    stored, history = findings.visible(principal, finding_id)
    if occurrences_cursor is not None and occurrences_offset:
        raise ProblemError(422, "invalid_request", "give occurrences_cursor or "
                           "occurrences_offset, not both", field="occurrences_offset")  # fmt: skip
    cursors, query = service_of(request).cursors, query_of(request, principal)
    after = None
    if occurrences_cursor is not None:
        try:
            position = cursors.decode(query, occurrences_cursor)
        except InvalidCursorError as bad:
            raise InvalidCursorError(bad.detail, field="occurrences_cursor") from None
        if len(position) != 2 or not all(isinstance(v, str) for v in position):
            raise InvalidCursorError("the cursor was not given for this list",
                                     field="occurrences_cursor")  # fmt: skip
        after = (position[0], position[1])
    page, total = findings.occurrences(
        principal, finding_id, limit=occurrences_limit + 1, offset=occurrences_offset,
        after=after,
    )  # fmt: skip
    page, following = cut_page(request, principal, page, occurrences_limit,
                               lambda o: [o.finding.at, o.finding.id])  # fmt: skip
    deliveries = findings.deliveries(principal, finding_id)
    return FindingDetail(
        finding=_out(request, stored),
        occurrences=[OccurrenceOut(**o.to_json()) for o in page],
        occurrences_total=total,
        occurrences_next_cursor=following,
        transitions=[TransitionOut(finding_id=finding_id, **t.to_json()) for t in history],
        deliveries=None
        if deliveries is None
        else [DeliveryOut(**dataclasses.asdict(d)) for d in deliveries],
    )


@router.post(
    "/findings/{finding_id}:transition",
    response_model=TransitionOut,
    responses=responses(400, 401, 403, 404, 409, 422),
    summary="Move a finding through the workflow (admins and regulators), with a comment.",
)
def transition_finding(
    request: Request, finding_id: FindingId, payload: TransitionIn, principal: Principal = OVERSIGHT
) -> TransitionOut:
    """open → acknowledged → resolved | false_positive; open → resolved | false_positive.
    Only the engine reopens a closed finding (on a new occurrence) or moves one to
    `superseded` (every occurrence explained by a late-synced event); asking for either
    is a 409 `invalid_transition`.

    Errors: 400 `invalid_status` (an unknown status or expected_status) or
    `invalid_comment` (empty);
    403 `forbidden` (enterprises and inspectors); 404 `finding_not_found` (also outside your
    districts); 409 `invalid_transition` (the workflow forbids the move, or the finding is
    no longer `expected_status`; `current_status` says what it is).
    """
    _one_of(payload.status, STATUSES, "status", "invalid_status")
    _one_of(payload.expected_status, STATUSES, "expected_status", "invalid_status")
    if not payload.comment.strip() or _has_control(payload.comment):
        raise ProblemError(
            400, "invalid_comment", "a transition needs a (printable) comment", field="comment"
        )
    made = _findings(request).transition(
        principal, finding_id, payload.status, payload.comment, payload.expected_status
    )
    return TransitionOut(finding_id=finding_id, **made.to_json())


# -- webhooks -----------------------------------------------------------------------------------


def _signature(request: Request) -> SignatureKey:
    vkey = _findings(request).signing_vkey()
    return SignatureKey(algorithm="ed25519", key_id=parse_vkey(vkey).key_id.hex(), vkey=vkey)


def _webhook_out(row: dict[str, Any], signature: SignatureKey) -> WebhookOut:
    districts = None if row["districts"] is None else list(json.loads(row["districts"]))
    return WebhookOut(
        id=row["id"], url=row["url"], min_severity=row["min_severity"], user_id=row["user_id"],
        districts=districts, created_at=row["created_at"], signature=signature,
    )  # fmt: skip


def webhook_resolver() -> Resolver:
    """How subscribed hosts are resolved (a dependency, so tests can inject a fake)."""
    return system_resolver


RESOLVER = Depends(webhook_resolver)


def _check_url(url: str, policy: OutboundPolicy) -> str:
    """``url`` if the dispatcher may send to it now (it checks again at every attempt)."""
    if _has_control(url, allowed="") or " " in url:
        raise ProblemError(422, "invalid_request", "url has spaces or control characters",
                           field="url")  # fmt: skip
    try:
        policy.vet(url)
    except DestinationRefusedError as refused:
        if refused.reason == "invalid":
            raise ProblemError(422, "invalid_request", f"url must be an http(s) URL: "
                               f"{refused.detail}", field="url") from None  # fmt: skip
        if refused.reason == "unresolvable":
            raise ProblemError(422, "webhook_url_unresolvable", refused.detail,
                               field="url") from None  # fmt: skip
        raise ProblemError(422, "webhook_url_forbidden", refused.detail, field="url",
                           reason=refused.reason) from None  # fmt: skip
    return url


@router.post(
    "/webhooks",
    response_model=WebhookOut,
    status_code=201,
    responses=responses(401, 403, 422),
    summary="Subscribe a URL to new findings in your scope (admins and regulators).",
)
def create_webhook(
    request: Request,
    payload: WebhookIn,
    principal: Principal = OVERSIGHT,
    resolver: Resolver = RESOLVER,
) -> WebhookOut:
    """New findings of at least `min_severity` in your scope (a regulator's districts, as
    they are now; an admin's: all) are POSTed to `url`, signed by the log key: see
    `signature` and the `api.webhooks` module for the scheme.

    `url` must be http(s), without userinfo, on a host that is (or resolves only to) public
    addresses, or to networks the operator allows (`CHEMTRACE_WEBHOOK_ALLOW_NETWORKS`).

    Errors: 422 `webhook_url_forbidden` (`reason` says why: `scheme`, `userinfo`,
    `private_address` for a non-public literal address, `private_name` for a name with a
    non-public address among its addresses), `webhook_url_unresolvable` (the name does not
    resolve), or `invalid_request` (a malformed URL)."""
    allowed = service_of(request).settings.webhook_allow_networks
    url = _check_url(payload.url, OutboundPolicy(allowed, resolver))
    row = _findings(request).add_webhook(principal, url, payload.min_severity)
    return _webhook_out(row, _signature(request))


@router.get(
    "/webhooks",
    response_model=list[WebhookOut],
    responses={200: {"headers": PAGE_HEADERS}, **responses(401, 403, 422)},
    summary="Your active webhook subscriptions (an admin: everyone's), by id.",
)
def list_webhooks(
    request: Request, response: Response, principal: Principal = OVERSIGHT,
    cursor: Cursor = None, limit: PageLimit = None,
) -> list[WebhookOut]:  # fmt: skip
    """Pages with `limit` and `cursor` (see the `Link` and `X-Total-Count` headers)."""
    signature = _signature(request)
    hooks = _findings(request).webhooks(principal)
    page = headed_page(request, response, principal, hooks, lambda row: (str(row["id"]),),
                       cursor=cursor, limit=limit)  # fmt: skip
    return [_webhook_out(row, signature) for row in page]


@router.delete(
    "/webhooks/{webhook_id}",
    status_code=204,
    response_class=Response,
    responses=responses(401, 403, 404),
    summary="Unsubscribe: no further deliveries are sent.",
)
def delete_webhook(
    request: Request, webhook_id: WebhookId, principal: Principal = OVERSIGHT
) -> Response:
    """Errors: 404 `webhook_not_found` (also for another user's webhook)."""
    _findings(request).disable_webhook(principal, webhook_id)
    return Response(status_code=204)
