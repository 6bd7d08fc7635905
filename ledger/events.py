"""Typed, strictly validated event bodies for every lifecycle stage.

An event body is the JSON object a device signs. Each lifecycle stage has its
own model with its own required fields; unknown fields, floats, naive times,
non-NFC strings and coerced types are all rejected. What breaks a *rule* but
really happened (a missing waybill, an unlicensed buyer) is accepted here and
flagged later by the anomaly engine; this module judges shape only.

The body keeps close to EPCIS 2.0: ``type`` maps to a bizStep, ``items`` to the
epcList (or parent/child lists), ``site`` to bizLocation, ``geo`` to readPoint
and quantities to quantityList, so a later EPCIS mapping can be lossless.

This module does not hash or sign; :mod:`ledger.envelope` does.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal, TypeAlias, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    model_validator,
)

from ledger.canonical import JsonValue, require_nfc
from ledger.errors import InvalidInputError, MalformedEventError
from ledger.timefmt import UTC_PATTERN, parse_utc

BODY_VERSION = 2
"""The newest body version. v2 adds ``ship.data.route`` (the waybill's planned route); a
v1 body is still valid, and a v1 body carrying a v2 field is refused, so the bytes a
device signed always say which schema they follow."""

_HASH_PATTERN = r"^sha256:[0-9a-f]{64}$"
_DECIMAL = re.compile(r"^(0|[1-9][0-9]{0,14})(\.[0-9]{1,9})?$")
_SIGNED_DECIMAL = re.compile(r"^-?(0|[1-9][0-9]{0,2})(\.[0-9]{1,9})?$")


def _check_utc(value: str) -> str:
    try:
        parse_utc(value)
    except InvalidInputError as exc:
        raise ValueError(exc.message) from None
    return value


def _check_decimal(value: str) -> str:
    if not _DECIMAL.fullmatch(value):
        raise ValueError("must be a non-negative decimal string like '25' or '0.500'")
    return value


def _check_coordinate(value: str) -> str:
    if not _SIGNED_DECIMAL.fullmatch(value):
        raise ValueError("must be a decimal string like '39.9042'")
    return value


Hash = Annotated[str, StringConstraints(pattern=_HASH_PATTERN)]
Commitment = Annotated[str, StringConstraints(pattern=_HASH_PATTERN)]
"""A salted hash commitment to personal data (see :mod:`ledger.commitments`)."""
UtcTime = Annotated[
    str,
    AfterValidator(_check_utc),
    WithJsonSchema({"type": "string", "pattern": UTC_PATTERN,
                    "description": "RFC 3339 UTC, e.g. 2026-01-31T08:00:00Z"}),
]  # fmt: skip
DecimalString = Annotated[
    str,
    AfterValidator(_check_decimal),
    WithJsonSchema({"type": "string", "pattern": _DECIMAL.pattern,
                    "description": "a non-negative decimal, e.g. '25' or '0.500'"}),
]  # fmt: skip
ItemCode = Annotated[str, StringConstraints(pattern=r"^[0-9A-Z][0-9A-Z-]{3,63}$")]
EntityId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{1,63}$")]
KeyId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=200)]
DocumentNo = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z][0-9A-Za-z/_.-]{0,63}$")]
Unit = Literal["kg", "g", "t", "L", "mL", "m3", "Nm3", "piece"]
Role = Literal["subject", "input", "output", "parent", "child"]

EventType = Literal[
    "commission",
    "transform",
    "aggregate",
    "disaggregate",
    "store_in",
    "store_out",
    "stock_count",
    "sell",
    "buy",
    "ship",
    "waypoint",
    "receive",
    "use",
    "return",
    "fill",
    "inspect",
    "dispose",
    "destroy",
    "report_loss",
    "recover",
    "correct",
]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class Quantity(_Strict):
    value: DecimalString
    unit: Unit


class Geo(_Strict):
    lat: Annotated[str, AfterValidator(_check_coordinate)]
    lon: Annotated[str, AfterValidator(_check_coordinate)]


class ItemLink(_Strict):
    """One item's place in this event and its link to that item's chain."""

    code: ItemCode
    seq: Annotated[int, Field(ge=0, le=2**53 - 1)]
    prev: Hash | None
    role: Role = "subject"

    @model_validator(mode="after")
    def _genesis_has_no_prev(self) -> ItemLink:
        if (self.seq == 0) != (self.prev is None):
            raise ValueError("seq 0 must have prev null, and only seq 0 may")
        return self


class CodeQuantity(_Strict):
    code: ItemCode
    quantity: Quantity


class _Body(_Strict):
    """Fields every event carries: who, where, when, what and the chain links."""

    v: Annotated[int, Field(ge=1, le=BODY_VERSION)]
    time: UtcTime
    org: EntityId
    device_key: KeyId
    actor: Commitment
    co_actor: Commitment | None = None
    site: EntityId | None = None
    geo: Geo | None = None
    items: Annotated[list[ItemLink], Field(min_length=1, max_length=10_000)]
    catalog_version: Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z._-]{1,32}$")]

    allowed_roles: ClassVar[frozenset[str]] = frozenset({"subject"})
    genesis_roles: ClassVar[frozenset[str]] = frozenset()
    max_items: ClassVar[int] = 10_000

    @model_validator(mode="after")
    def _check_items(self) -> _Body:
        codes = [link.code for link in self.items]
        if len(set(codes)) != len(codes):
            raise ValueError("an item may appear only once in an event")
        if len(codes) > self.max_items:
            raise ValueError(f"this event type takes at most {self.max_items} item(s)")
        for link in self.items:
            if link.role not in self.allowed_roles:
                raise ValueError(f"role {link.role!r} is not allowed here")
            if link.seq == 0 and link.role not in self.genesis_roles:
                raise ValueError(f"item {link.code} with role {link.role!r} cannot start a chain")
        return self

    def codes_with_role(self, role: str) -> set[str]:
        """Return the codes of the items that play ``role`` in this event."""
        return {link.code for link in self.items if link.role == role}


class CommissionData(_Strict):
    chemical: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,3}(\.[0-9]{1,3})?$")]
    quantity: Quantity
    lot: DocumentNo
    packaging: Literal[
        "cylinder", "drum", "bag", "ibc", "bottle", "tank", "bulk", "pallet", "box", "other"
    ]
    gs1_key: (
        Annotated[str, StringConstraints(pattern=r"^\(?[0-9]{2,4}\)?[0-9A-Za-z]{1,40}$")] | None
    ) = None


class Commission(_Body):
    type: Literal["commission"]
    data: CommissionData
    genesis_roles = frozenset({"subject"})
    max_items = 1


class TransformData(_Strict):
    kind: Literal["decant", "blend", "repack", "dilute"]
    inputs: Annotated[list[CodeQuantity], Field(min_length=1)]
    outputs: Annotated[list[CodeQuantity], Field(min_length=1)]


class Transform(_Body):
    type: Literal["transform"]
    data: TransformData
    allowed_roles = frozenset({"input", "output"})
    genesis_roles = frozenset({"output"})

    @model_validator(mode="after")
    def _data_matches_items(self) -> Transform:
        _same_codes("inputs", {c.code for c in self.data.inputs}, self.codes_with_role("input"))
        _same_codes("outputs", {c.code for c in self.data.outputs}, self.codes_with_role("output"))
        return self


class AggregationData(_Strict):
    parent: ItemCode
    children: Annotated[list[ItemCode], Field(min_length=1)]


class _AggregationBody(_Body):
    data: AggregationData
    allowed_roles = frozenset({"parent", "child"})

    @model_validator(mode="after")
    def _data_matches_items(self) -> _AggregationBody:
        _same_codes("parent", {self.data.parent}, self.codes_with_role("parent"))
        _same_codes("children", set(self.data.children), self.codes_with_role("child"))
        return self


class Aggregate(_AggregationBody):
    type: Literal["aggregate"]
    genesis_roles = frozenset({"parent"})


class Disaggregate(_AggregationBody):
    type: Literal["disaggregate"]


class StorageData(_Strict):
    location: Text | None = None
    quantity: Quantity | None = None


class StoreIn(_Body):
    type: Literal["store_in"]
    data: StorageData


class StoreOut(_Body):
    type: Literal["store_out"]
    data: StorageData


class StockCountData(_Strict):
    count_id: DocumentNo
    quantity: Quantity


class StockCount(_Body):
    type: Literal["stock_count"]
    data: StockCountData


class TradeData(_Strict):
    counterparty: EntityId
    contract_no: DocumentNo | None = None
    permit_no: DocumentNo | None = None
    police_filing_no: DocumentNo | None = None
    individual_buyer: Commitment | None = None


class Sell(_Body):
    type: Literal["sell"]
    data: TradeData


class Buy(_Body):
    type: Literal["buy"]
    data: TradeData


class PlannedRoute(_Strict):
    """The waybill's route (R-TRN-4 e-waybill "trip: route"): a polyline and its corridor."""

    points: Annotated[list[Geo], Field(min_length=2, max_length=1000)]
    corridor_m: DecimalString | None = None
    """How far (m) either side of the line the vehicle may be; absent: the rules' default."""


class ShipData(_Strict):
    carrier: EntityId
    consignee: EntityId
    consignee_site: EntityId
    vehicle: Text | None = None
    driver: Commitment | None = None
    escort: Commitment | None = None
    waybill_no: DocumentNo | None = None
    expected_arrival: UtcTime | None = None
    route: PlannedRoute | None = None
    """Since body version 2."""


class Ship(_Body):
    type: Literal["ship"]
    data: ShipData

    @model_validator(mode="after")
    def _route_needs_v2(self) -> Ship:
        if self.data.route is not None and self.v < 2:
            raise ValueError("data.route needs body version 2")
        return self


class WaypointData(_Strict):
    ship: Hash


class Waypoint(_Body):
    type: Literal["waypoint"]
    data: WaypointData

    @model_validator(mode="after")
    def _needs_position(self) -> Waypoint:
        if self.geo is None:
            raise ValueError("a waypoint needs geo")
        return self


class ReceiveData(_Strict):
    ship: Hash
    quantity: Quantity | None = None


class Receive(_Body):
    type: Literal["receive"]
    data: ReceiveData


class UseData(_Strict):
    quantity: Quantity
    purpose: Text | None = None


class Use(_Body):
    type: Literal["use"]
    data: UseData


class ReturnData(_Strict):
    to_org: EntityId
    quantity: Quantity | None = None


class Return(_Body):
    type: Literal["return"]
    data: ReturnData


class FillData(_Strict):
    quantity: Quantity
    lot: DocumentNo
    inspection_due: Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$")] | None = None


class Fill(_Body):
    type: Literal["fill"]
    data: FillData


class InspectData(_Strict):
    outcome: Literal["pass", "fail", "observation"]
    inspector: Commitment
    remarks: Text | None = None


class Inspect(_Body):
    type: Literal["inspect"]
    data: InspectData


class DisposeData(_Strict):
    disposer: EntityId
    manifest_no: DocumentNo | None = None
    method: Text
    quantity: Quantity | None = None


class Dispose(_Body):
    type: Literal["dispose"]
    data: DisposeData


class DestroyData(_Strict):
    method: Text
    witness: Commitment | None = None


class Destroy(_Body):
    type: Literal["destroy"]
    data: DestroyData


class ReportLossData(_Strict):
    kind: Literal["loss", "theft"]
    police_report_no: DocumentNo | None = None
    quantity: Quantity | None = None


class ReportLoss(_Body):
    type: Literal["report_loss"]
    data: ReportLossData


class RecoverData(_Strict):
    report: Hash
    quantity: Quantity | None = None


class Recover(_Body):
    type: Literal["recover"]
    data: RecoverData


class CorrectData(_Strict):
    corrects: Hash
    reason: Text
    changes: Annotated[
        dict[Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_.]{0,63}$")], str],
        Field(min_length=1, max_length=32),
    ]


class Correct(_Body):
    type: Literal["correct"]
    data: CorrectData


EventBody: TypeAlias = Annotated[
    Commission
    | Transform
    | Aggregate
    | Disaggregate
    | StoreIn
    | StoreOut
    | StockCount
    | Sell
    | Buy
    | Ship
    | Waypoint
    | Receive
    | Use
    | Return
    | Fill
    | Inspect
    | Dispose
    | Destroy
    | ReportLoss
    | Recover
    | Correct,
    Field(discriminator="type"),
]

_BODY_ADAPTER: TypeAdapter[EventBody] = TypeAdapter(EventBody)
_GENESIS_ROLES: dict[str, frozenset[str]] = {
    body.model_fields["type"].annotation.__args__[0]: body.genesis_roles
    for body in get_args(get_args(EventBody)[0])
}


def may_start_chain(event_type: str, role: str) -> bool:
    """Whether an item playing ``role`` in an event of ``event_type`` may start its chain
    (seq 0): a commission's subject, a transform's outputs, an aggregation's parent."""
    return role in _GENESIS_ROLES.get(event_type, frozenset())


def _same_codes(what: str, in_data: set[str], in_items: set[str]) -> None:
    if in_data != in_items:
        raise ValueError(f"data.{what} must name exactly the items with that role")


def _all_strings_nfc(raw: Mapping[str, Any]) -> bool:
    # Every key and string value appears literally in this text, separated by ASCII
    # delimiters that neither compose nor reorder with what follows, so the whole text is
    # NFC exactly when every string in it is.
    try:
        text = json.dumps(raw, ensure_ascii=False)
    except (TypeError, ValueError):
        return False
    return unicodedata.is_normalized("NFC", text)


def parse_body(raw: Mapping[str, Any]) -> EventBody:
    """Validate a raw JSON event body strictly.

    Raises:
        MalformedEventError: with the JSON path of the first field at fault.
    """
    try:
        if not _all_strings_nfc(raw):
            require_nfc(raw)  # slow path: find the field at fault
    except InvalidInputError as exc:
        raise MalformedEventError(exc.message, **exc.context) from exc
    try:
        return _BODY_ADAPTER.validate_python(raw, strict=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        if first["type"] in {"union_tag_not_found", "union_tag_invalid", "model_attributes_type"}:
            field = "type"
        raise MalformedEventError(
            f"{first['msg']}", field=field or "$", errors=exc.error_count()
        ) from exc


def body_to_json(body: EventBody) -> dict[str, JsonValue]:
    """Dump a validated body back to plain JSON (used by SDKs to build bodies)."""
    dumped: dict[str, JsonValue] = body.model_dump(mode="json", exclude_unset=True)
    return dumped
