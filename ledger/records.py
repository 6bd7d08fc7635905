"""Registry records: organisations, sites, vehicles, crew, permits, filings and users.

The anomaly rules judge events against these facts, so they are as tamper-evident as
the events: each version of a record is signed by the registry root and logged (leaf
kind ``record``). A change is a new version with the same ``(kind, id)``; the history
is the log, never an overwrite. The current state of a record is its newest version.

Personal data (a driver's name, ID number, phone) never enters a record: only a
salted commitment does (see :mod:`ledger.commitments`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Annotated, Any, Final, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from ledger.canonical import (
    RECORD,
    JsonValue,
    b64decode,
    b64encode,
    canonical_bytes,
    domain_hash,
    signing_input,
)
from ledger.errors import InvalidInputError
from ledger.events import Commitment, DecimalString, DocumentNo, EntityId, Text, UtcTime
from ledger.signing import Signer, verify_signature

RECORD_VERSION: Final = 1
RecordKind: TypeAlias = Literal["org", "site", "vehicle", "crew", "permit", "user"]
OrgType = Literal[
    "producer", "filler", "trader", "warehouse", "carrier", "end_user", "laboratory",
    "disposer", "individual", "regulator", "test_station",
]  # fmt: skip
UserRole = Literal["admin", "enterprise", "regulator", "city_regulator", "inspector", "responder"]
"""``regulator``: its districts; ``city_regulator``: every district; ``responder``: read-only,
where hazardous material is across the city (the emergency view), never custody chains or
personal data."""
District = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
Token = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.:-]{0,39}$")]
Coordinate = Annotated[str, StringConstraints(pattern=r"^-?(0|[1-9][0-9]{0,2})(\.[0-9]{1,9})?$")]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class OrgAttrs(_Strict):
    name: Text
    type: OrgType
    district: District
    credit_code: DocumentNo | None = None
    status: Literal["active", "suspended", "closed"] = "active"


class SiteAttrs(_Strict):
    org: EntityId
    name: Text
    address: Text
    district: District
    lat: Coordinate
    lon: Coordinate
    capacity_t: DecimalString
    major_hazard: bool
    status: Literal["active", "closed"] = "active"


class VehicleAttrs(_Strict):
    org: EntityId
    plate: Annotated[str, StringConstraints(min_length=2, max_length=16)]
    transport_licence: DocumentNo
    un_classes: Annotated[list[Token], Field(min_length=1, max_length=20)]
    valid_until: UtcTime
    status: Literal["active", "suspended", "retired"] = "active"


class CrewAttrs(_Strict):
    org: EntityId
    role: Literal["driver", "escort"]
    person: Commitment
    certificate_no: DocumentNo
    valid_from: UtcTime
    valid_until: UtcTime
    status: Literal["active", "suspended"] = "active"


class PermitAttrs(_Strict):
    kind: Literal[
        "purchase_permit", "police_filing", "precursor_filing", "transport_permit",
        "waste_manifest",
    ]  # fmt: skip
    """``waste_manifest``: a hazardous-waste transfer manifest (转移联单) as filed: ``org`` the
    transferor, ``counterparty`` the receiving disposer, ``number`` the manifest number."""
    number: DocumentNo
    org: EntityId
    counterparty: EntityId | None = None
    chemicals: Annotated[list[Token], Field(min_length=1, max_length=50)]
    quantity: DecimalString | None = None
    valid_from: UtcTime
    valid_until: UtcTime
    status: Literal["active", "used", "revoked"] = "active"


class UserAttrs(_Strict):
    role: UserRole
    org: EntityId | None = None
    districts: Annotated[list[District], Field(max_length=50)] = []
    name: Text
    status: Literal["active", "disabled"] = "active"


ATTRIBUTES: Final[dict[str, type[_Strict]]] = {
    "org": OrgAttrs, "site": SiteAttrs, "vehicle": VehicleAttrs, "crew": CrewAttrs,
    "permit": PermitAttrs, "user": UserAttrs,
}  # fmt: skip
_ID_ADAPTER: Final = TypeAdapter(EntityId)


def check_attributes(kind: str, attrs: Mapping[str, Any]) -> dict[str, JsonValue]:
    """Validate ``attrs`` for ``kind`` strictly; return them with defaults filled in.

    Raises:
        InvalidInputError: unknown kind, or attributes that do not fit it (field named).
    """
    model = ATTRIBUTES.get(kind)
    if model is None:
        raise InvalidInputError("unknown record kind", kind=kind)
    try:
        parsed = model.model_validate(dict(attrs))
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise InvalidInputError(first["msg"], field=field, kind=kind) from None
    dumped: dict[str, JsonValue] = parsed.model_dump(mode="json")
    return dumped


@dataclass(frozen=True, slots=True)
class RegistryRecord:
    """One version of one registry record, signed by the registry root."""

    kind: RecordKind
    record_id: str
    attrs: Mapping[str, JsonValue]
    issuer: str
    signature: bytes = b""

    def payload(self) -> dict[str, JsonValue]:
        """The signed fields, as JSON."""
        return {
            "attrs": dict(self.attrs), "id": self.record_id, "issuer": self.issuer,
            "kind": self.kind, "v": RECORD_VERSION,
        }  # fmt: skip

    def to_json(self) -> dict[str, JsonValue]:
        """The record with its signature, as stored."""
        return {"record": self.payload(), "signature": b64encode(self.signature)}

    def encode(self) -> bytes:
        """The stored bytes (RFC 8785)."""
        return canonical_bytes(self.to_json())

    @property
    def entry_hash(self) -> bytes:
        """The hash the record's log leaf commits to."""
        return domain_hash(RECORD, self.to_json())

    def attr(self, name: str) -> Any:
        """One attribute, or None."""
        return self.attrs.get(name)

    def verify(self, algorithm: str, public_key: bytes) -> None:
        """Raises SignatureInvalidError unless the registry signed this record."""
        verify_signature(
            algorithm, public_key, signing_input(RECORD, self.payload()), self.signature
        )


def _check_id(record_id: str) -> None:
    try:
        _ID_ADAPTER.validate_python(record_id, strict=True)
    except ValidationError:
        raise InvalidInputError(
            "record id is 2-64 lowercase letters, digits, '.', '_' or '-'", field="id"
        ) from None


def issue_record(
    registry: Signer, kind: str, record_id: str, attrs: Mapping[str, Any]
) -> RegistryRecord:
    """Validate and sign one record version.

    Raises:
        InvalidInputError: bad kind, id or attributes.
    """
    _check_id(record_id)
    checked = check_attributes(kind, attrs)
    unsigned = RegistryRecord(kind, record_id, checked, registry.key_id)  # type: ignore[arg-type]
    signature = registry.sign(signing_input(RECORD, unsigned.payload()))
    return replace(unsigned, signature=signature)


def record_from_bytes(data: bytes) -> RegistryRecord:
    """Parse a stored record strictly; it must re-encode to the same bytes.

    Raises:
        InvalidInputError: the bytes are not a well-formed record.
    """
    try:
        raw = json.loads(data)
        body = raw["record"]
        if set(raw) != {"record", "signature"} or set(body) != {
            "attrs", "id", "issuer", "kind", "v"
        }:  # fmt: skip
            raise InvalidInputError("record has missing or unexpected fields")
        if type(body["v"]) is not int or body["v"] != RECORD_VERSION:
            raise InvalidInputError("unknown record version")
        if not all(isinstance(body[name], str) for name in ("id", "issuer", "kind")):
            raise InvalidInputError("record fields have the wrong JSON types")
        _check_id(body["id"])
        attrs = check_attributes(body["kind"], body["attrs"])
        record = RegistryRecord(
            body["kind"], body["id"], attrs, body["issuer"], b64decode(raw["signature"])
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInputError(f"malformed registry record: {exc!r}") from exc
    if record.encode() != data:
        raise InvalidInputError("registry record is not in canonical form")
    return record
