"""Registries the rules need: organisations, sites, vehicles, crew, permits, users,
licences and devices. Every change is a new signed log entry; nothing is overwritten."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, create_model

from api.auth import Caller, Principal, require
from api.problems import ProblemError, responses
from api.routes._common import service_of
from api.routes._lists import (
    PAGE_HEADERS,
    Cursor,
    PageLimit,
    after_pair,
    cut_page,
    headed_page,
    page_headers,
    stored_time,
    time_param,
)
from api.routes._params import KeyId, RecordId, UserId
from api.services.paging import Page
from ledger.canonical import b64decode
from ledger.events import EntityId, UtcTime
from ledger.licences import LICENCE_KINDS
from ledger.records import ATTRIBUTES
from ledger.statements import Receipt

router = APIRouter(prefix="/v1", tags=["registries"])
Admin = Depends(require("admin"))
OVERSIGHT = Depends(require("admin", "regulator"))
PATHS = {
    "org": "orgs",
    "site": "sites",
    "vehicle": "vehicles",
    "crew": "crew",
    "permit": "permits",
    "user": "users",
}


class Written(BaseModel):
    """Where the change landed in the log."""

    id: str
    index: int
    receipt: dict[str, Any]


def _written(record_id: str, receipt: Receipt) -> Written:
    return Written(id=record_id, index=receipt.index, receipt=dict(receipt.to_json()))


OrgFilter = Annotated[
    str | None,
    Query(description="an organisation's id or name; one outside your scope is a 404 "
          "`org_not_found`"),
]  # fmt: skip


class RecordOut(BaseModel):
    id: str
    kind: str
    attrs: dict[str, Any]


class RecordHistory(BaseModel):
    current: RecordOut
    history: list[dict[str, Any]]


class PersonIn(BaseModel):
    """Personal data: kept in an erasable table; only a salted commitment is logged."""

    model_config = ConfigDict(strict=True, extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=100)]
    id_number: Annotated[str, Field(min_length=1, max_length=40)]
    phone: Annotated[str, Field(max_length=40)] = ""


def _input_model(kind: str) -> type[BaseModel]:
    base = ATTRIBUTES[kind]
    fields: dict[str, Any] = {"id": (EntityId, ...)}
    if kind == "crew":  # the details replace the commitment the record will hold
        fields["person"] = (PersonIn, ...)
    return create_model(f"{kind.capitalize()}In", __base__=base, **fields)


def _add_kind(kind: str) -> None:
    path = PATHS[kind]
    model = _input_model(kind)

    def create(request: Request, payload: Any, _: Principal = Admin) -> Written:
        registry = service_of(request).registry
        data = payload.model_dump(mode="json")
        record_id = data.pop("id")
        if kind == "crew":
            receipt = registry.put_crew(record_id, data, data.pop("person"))
        else:
            receipt = registry.put_record(kind, record_id, data)
        return _written(record_id, receipt)

    create.__annotations__["payload"] = model  # a per-kind body schema, resolved at runtime

    def listing(
        request: Request, response: Response, principal: Caller, cursor: Cursor = None,
        limit: PageLimit = None,
    ) -> list[RecordOut]:  # fmt: skip
        records = service_of(request).registry.visible_records(principal, kind)
        page = headed_page(request, response, principal, records, lambda r: (r.record_id,),
                           cursor=cursor, limit=limit)  # fmt: skip
        return [RecordOut(id=rec.record_id, kind=kind, attrs=dict(rec.attrs)) for rec in page]

    def one(request: Request, record_id: RecordId, principal: Caller) -> RecordHistory:
        history = service_of(request).registry.record_history(principal, kind, record_id)
        latest = history[-1][1]
        return RecordHistory(
            current=RecordOut(id=record_id, kind=kind, attrs=dict(latest.attrs)),
            history=[{"index": index, "attrs": dict(rec.attrs)} for index, rec in history],
        )

    router.add_api_route(
        f"/{path}",
        create,
        methods=["POST"],
        status_code=201,
        response_model=Written,
        responses=responses(401, 403, 422),
        summary=f"Log a new version of a {kind} record.",
    )
    router.add_api_route(
        f"/{path}",
        listing,
        methods=["GET"],
        response_model=list[RecordOut],
        responses={200: {"headers": PAGE_HEADERS}, **responses(401, 422)},
        summary=f"The {kind} records in your scope, by id (paged with `limit` and `cursor`).",
    )
    router.add_api_route(
        f"/{path}/{{record_id}}",
        one,
        methods=["GET"],
        response_model=RecordHistory,
        responses=responses(401, 404),
        summary=f"A {kind} record with its full history.",
    )


for _kind in PATHS:
    _add_kind(_kind)


class PersonOut(BaseModel):
    """A crew member's personal data, as given when the record was logged."""

    model_config = ConfigDict(extra="allow")
    name: str
    id_number: str
    phone: str


class PersonalReadOut(BaseModel):
    """One read of personal data: who, when, whose (a commitment), through which record, why."""

    model_config = ConfigDict(extra="allow")
    id: str
    at: str
    user_id: str
    commitment: str
    record_kind: str
    record_id: str
    reason: str | None


class RevokedOut(BaseModel):
    revoked: int = Field(description="how many live tokens were revoked (0 for no such user)")


@router.get(
    "/crew/{record_id}/person",
    response_model=PersonOut,
    responses=responses(401, 403, 404),
    summary="The crew member's personal data (regulators and admins; unless erased).",
)
def crew_person(
    request: Request,
    record_id: RecordId,
    principal: Principal = OVERSIGHT,
    reason: Annotated[
        str | None,
        Query(min_length=1, max_length=200, description="why (kept in the personal-data audit)"),
    ] = None,
) -> dict[str, str]:
    return service_of(request).registry.crew_person(principal, record_id, reason)


@router.get(
    "/audit/personal-reads",
    response_model=list[PersonalReadOut],
    responses={200: {"headers": PAGE_HEADERS}, **responses(401, 403, 422)},
    summary="Who read whose personal data, when and why (admins).",
)
def personal_reads(
    request: Request,
    response: Response,
    principal: Principal = Admin,
    user_id: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[str | None, time_param("read on or after")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Cursor = None,
) -> list[dict[str, Any]]:
    """Newest first; pages with `cursor` (see the `Link` and `X-Total-Count` headers)."""
    rows, total = service_of(request).registry.personal_reads(
        user_id=user_id, since=stored_time(since, "since"), limit=limit + 1,
        after=after_pair(request, principal, cursor),
    )  # fmt: skip
    rows, following = cut_page(request, principal, rows, limit, lambda r: [r["at"], r["id"]])
    page_headers(request, response, Page(rows, total, "exact", None), following)
    return rows


class TokenOut(BaseModel):
    user_id: str
    token: str


@router.post(
    "/users/{user_id}/tokens",
    response_model=TokenOut,
    status_code=201,
    responses=responses(401, 403, 404),
    summary="Issue a new API token (shown once).",
)
def issue_token(request: Request, user_id: UserId, _: Principal = Admin) -> TokenOut:
    return TokenOut(user_id=user_id, token=service_of(request).access.issue_token(user_id))


@router.delete(
    "/users/{user_id}/tokens",
    response_model=RevokedOut,
    responses=responses(401, 403),
    summary="Revoke every token of a user.",
)
def revoke_tokens(request: Request, user_id: UserId, _: Principal = Admin) -> dict[str, int]:
    return {"revoked": service_of(request).access.revoke_tokens(user_id)}


# -- licences ---------------------------------------------------------------------------------


_TOKENS: dict[str, Any] = {
    "items": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9_.:-]{0,39}$"},
    "description": "lowercase tokens, e.g. class:2.3",
}


_KINDS: dict[str, Any] = {"enum": sorted(LICENCE_KINDS)}
_STATUSES: dict[str, Any] = {"enum": ["active", "suspended", "revoked"]}


class LicenceIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    licence_no: Annotated[str, Field(pattern=r"^[0-9A-Za-z][0-9A-Za-z/_.()-]{0,63}$")]
    org: EntityId
    kind: str = Field(description="one of " + ", ".join(sorted(LICENCE_KINDS)),
                      json_schema_extra=_KINDS)  # fmt: skip
    activities: list[str] = Field(json_schema_extra=_TOKENS)
    chemicals: list[str] = Field(json_schema_extra=_TOKENS)
    valid_from: UtcTime
    valid_until: UtcTime = Field(description="after valid_from (an empty window is a 422)")
    status: str = Field("active", json_schema_extra=_STATUSES)


@router.post(
    "/licences",
    response_model=Written,
    status_code=201,
    responses=responses(401, 403, 422),
    summary="Log a licence (or a new version of one).",
)
def put_licence(request: Request, payload: LicenceIn, _: Principal = Admin) -> Written:
    fields = payload.model_dump()
    fields["activities"], fields["chemicals"] = tuple(payload.activities), tuple(payload.chemicals)
    licence, receipt = service_of(request).registry.put_licence(fields)
    return _written(licence.licence_no, receipt)


class LicenceOut(BaseModel):
    """The newest version of a licence, as the registry signed it."""

    model_config = ConfigDict(extra="allow")
    licence_no: str
    org: str
    kind: str
    activities: list[str]
    chemicals: list[str]
    valid_from: str
    valid_until: str
    status: str
    issuer: str
    v: int


@router.get(
    "/licences",
    response_model=list[LicenceOut],
    responses={200: {"headers": PAGE_HEADERS}, **responses(401, 404, 422)},
    summary="Licences in your scope (newest versions), by number (paged with `limit`, `cursor`).",
)
def list_licences(
    request: Request, response: Response, principal: Caller, org: OrgFilter = None,
    cursor: Cursor = None, limit: PageLimit = None,
) -> list[dict[str, Any]]:  # fmt: skip
    service = service_of(request)
    licences = service.registry.licences(principal, service.filters.org(principal, org))
    page = headed_page(request, response, principal, licences, lambda lic: (lic.licence_no,),
                       cursor=cursor, limit=limit)  # fmt: skip
    return [dict(licence.payload()) for licence in page]


# -- devices ----------------------------------------------------------------------------------


class DeviceIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    org: EntityId
    public_key: str = Field(
        description="the device's Ed25519 public key, base64 (32 bytes)",
        json_schema_extra={"pattern": r"^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$"},
    )
    valid_from: UtcTime
    valid_until: UtcTime = Field(description="after valid_from (an empty window is a 422)")


class DeviceOut(BaseModel):
    key_id: str
    index: int
    receipt: dict[str, Any]


class RevokeIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    effective_from: UtcTime
    reason: Annotated[str, Field(min_length=1, max_length=200)]


@router.post(
    "/devices",
    response_model=DeviceOut,
    status_code=201,
    responses=responses(401, 403, 422),
    summary="Enrol a device: its public key is certified by the organisation's key.",
)
def enrol_device(request: Request, payload: DeviceIn, principal: Caller) -> DeviceOut:
    registry = service_of(request).registry
    registry.require_manages(principal, payload.org)
    try:
        public_key = b64decode(payload.public_key)
    except Exception:
        raise ProblemError(
            422, "invalid_request", "public_key is not base64", field="public_key"
        ) from None
    if len(public_key) != 32:
        raise ProblemError(422, "invalid_request", "an Ed25519 key is 32 bytes", field="public_key")
    key_id, receipt = registry.certify_device(
        payload.org, public_key, payload.valid_from, payload.valid_until
    )
    return DeviceOut(key_id=key_id, index=receipt.index, receipt=dict(receipt.to_json()))


class KeyOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    alg: str
    key_id: str
    public_key: str


class DeviceCertificateOut(BaseModel):
    """A device's certificate: its key, certified by its organisation's key for a window."""

    model_config = ConfigDict(extra="allow")
    key_id: str
    issuer: str
    org: str
    role: str
    subject: KeyOut
    v: int
    valid_from: str
    valid_until: str


@router.get(
    "/devices",
    response_model=list[DeviceCertificateOut],
    responses={200: {"headers": PAGE_HEADERS}, **responses(401, 404, 422)},
    summary="Device certificates in your scope, by key id (paged with `limit`, `cursor`).",
)
def list_devices(
    request: Request, response: Response, principal: Caller, org: OrgFilter = None,
    cursor: Cursor = None, limit: PageLimit = None,
) -> list[dict[str, Any]]:  # fmt: skip
    service = service_of(request)
    certificates = service.registry.devices(principal, service.filters.org(principal, org))
    page = headed_page(request, response, principal, certificates, lambda c: (c.key_id,),
                       cursor=cursor, limit=limit)  # fmt: skip
    return [{"key_id": cert.key_id, **cert.payload()} for cert in page]


@router.post(
    "/devices/{key_id}:revoke",
    response_model=Written,
    status_code=201,
    responses=responses(401, 403, 404, 422),
    summary="Revoke a device key from a time on.",
)
def revoke_device(request: Request, key_id: KeyId, payload: RevokeIn, principal: Caller) -> Written:
    registry = service_of(request).registry
    receipt = registry.revoke_device(principal, key_id, payload.effective_from, payload.reason)
    return _written(key_id, receipt)
