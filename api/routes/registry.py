"""Registries the rules need: organisations, sites, vehicles, crew, permits, users,
licences and devices. Every change is a new signed log entry; nothing is overwritten."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, create_model

from api.auth import Caller, Principal, require
from api.problems import ProblemError, responses
from api.routes._common import service_of
from ledger.canonical import b64decode
from ledger.events import EntityId, UtcTime
from ledger.licences import LICENCE_KINDS
from ledger.records import ATTRIBUTES

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
    return create_model(f"{kind.capitalize()}In", __base__=base, **fields)  # type: ignore[call-overload]


def _add_kind(kind: str) -> None:
    path = PATHS[kind]
    model = _input_model(kind)

    def create(request: Request, payload: Any, _: Principal = Admin) -> Written:
        service = service_of(request)
        data = payload.model_dump(mode="json")
        record_id = data.pop("id")
        if kind == "crew":
            receipt = service.put_crew(record_id, data, data.pop("person"))
        else:
            receipt = service.put_record(kind, record_id, data)
        return Written(id=record_id, index=receipt.index, receipt=dict(receipt.to_json()))

    create.__annotations__["payload"] = model  # a per-kind body schema, resolved at runtime

    def listing(request: Request, principal: Caller) -> list[RecordOut]:
        service = service_of(request)
        scope = service.scope(principal)
        return [
            RecordOut(id=rid, kind=kind, attrs=dict(rec.attrs))
            for rid, rec in sorted(service.records(kind).items())
            if scope.sees_record(kind, rec)
        ]

    def one(request: Request, record_id: str, principal: Caller) -> RecordHistory:
        service = service_of(request)
        history = service.deployment.store.record_history(kind, record_id)
        if not history or not service.scope(principal).sees_record(kind, history[-1][1]):
            raise ProblemError(
                404, f"{kind}_not_found", f"no {kind} {record_id!r} within your scope"
            )
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
        responses=responses(401),
        summary=f"The {kind} records in your scope.",
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


@router.get(
    "/crew/{record_id}/person",
    responses=responses(401, 403, 404),
    summary="The crew member's personal data (regulators and admins; unless erased).",
)
def crew_person(
    request: Request,
    record_id: str,
    principal: Principal = OVERSIGHT,
) -> dict[str, str]:
    service = service_of(request)
    record = service.visible_record(principal, "crew", record_id)
    person = service.person(str(record.attr("person")))
    if person is None:
        raise ProblemError(404, "erased", "this person's data was erased or never kept")
    return person


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
def issue_token(request: Request, user_id: str, _: Principal = Admin) -> TokenOut:
    return TokenOut(user_id=user_id, token=service_of(request).issue_token(user_id))


@router.delete(
    "/users/{user_id}/tokens",
    responses=responses(401, 403),
    summary="Revoke every token of a user.",
)
def revoke_tokens(request: Request, user_id: str, _: Principal = Admin) -> dict[str, int]:
    return {"revoked": service_of(request).revoke_tokens(user_id)}


# -- licences ---------------------------------------------------------------------------------


class LicenceIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    licence_no: Annotated[str, Field(pattern=r"^[0-9A-Za-z][0-9A-Za-z/_.()-]{0,63}$")]
    org: EntityId
    kind: str = Field(description="one of " + ", ".join(sorted(LICENCE_KINDS)))
    activities: list[str]
    chemicals: list[str]
    valid_from: UtcTime
    valid_until: UtcTime
    status: str = "active"


@router.post(
    "/licences",
    response_model=Written,
    status_code=201,
    responses=responses(401, 403, 422),
    summary="Log a licence (or a new version of one).",
)
def put_licence(request: Request, payload: LicenceIn, _: Principal = Admin) -> Written:
    service = service_of(request)
    fields = payload.model_dump()
    fields["activities"], fields["chemicals"] = tuple(payload.activities), tuple(payload.chemicals)
    licence, receipt = service.put_licence(fields)
    return Written(id=licence.licence_no, index=receipt.index, receipt=dict(receipt.to_json()))


@router.get(
    "/licences", responses=responses(401), summary="Licences in your scope (newest versions)."
)
def list_licences(
    request: Request, principal: Caller, org: str | None = None
) -> list[dict[str, Any]]:
    service = service_of(request)
    scope = service.scope(principal)
    return [
        dict(licence.payload())
        for licence in service.deployment.store.licences(org)
        if scope.sees_org(licence.org)
    ]


# -- devices ----------------------------------------------------------------------------------


class DeviceIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    org: EntityId
    public_key: str = Field(description="the device's Ed25519 public key, base64 (32 bytes)")
    valid_from: UtcTime
    valid_until: UtcTime


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
    service_of(request).require_manages(principal, payload.org)
    try:
        public_key = b64decode(payload.public_key)
    except Exception:
        raise ProblemError(
            422, "invalid_request", "public_key is not base64", field="public_key"
        ) from None
    if len(public_key) != 32:
        raise ProblemError(422, "invalid_request", "an Ed25519 key is 32 bytes", field="public_key")
    key_id, receipt = service_of(request).certify_device(
        payload.org, public_key, payload.valid_from, payload.valid_until
    )
    return DeviceOut(key_id=key_id, index=receipt.index, receipt=dict(receipt.to_json()))


@router.get("/devices", responses=responses(401), summary="Device certificates in your scope.")
def list_devices(
    request: Request, principal: Caller, org: Annotated[str | None, Query()] = None
) -> list[dict[str, Any]]:
    service = service_of(request)
    scope = service.scope(principal)
    return [
        {"key_id": cert.key_id, **cert.payload()}
        for cert in service.deployment.store.certificates()
        if cert.role == "device"
        and org in (None, cert.org)
        and (cert.org == principal.org or scope.sees_org(cert.org))
    ]


@router.post(
    "/devices/{key_id}:revoke",
    response_model=Written,
    status_code=201,
    responses=responses(401, 403, 404, 422),
    summary="Revoke a device key from a time on.",
)
def revoke_device(request: Request, key_id: str, payload: RevokeIn, principal: Caller) -> Written:
    service = service_of(request)
    receipt = service.revoke_device(principal, key_id, payload.effective_from, payload.reason)
    return Written(id=key_id, index=receipt.index, receipt=dict(receipt.to_json()))
