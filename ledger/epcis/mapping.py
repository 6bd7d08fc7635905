"""chemtrace events to EPCIS 2.0 events and back, by the table in :mod:`ledger.epcis.table`.

:func:`to_epcis` writes a validated native body as one EPCIS 2.0 JSON-LD event: standard
fields where EPCIS has them, and everything else (the signer, the chain links, the chemical,
the carrier, …) under the ``chemtrace:`` extension, so nothing is dropped and
:func:`from_epcis` gives back exactly the body. :func:`from_epcis` also reads foreign events
(an ERP's): what they say that chemtrace has no place for is refused with
:class:`EpcisNoCounterpartError` naming the field, sensor data with
:class:`EpcisSensorDataError`, identifiers the registry never issued with
:class:`UnissuedIdentifierError`.

An ``errorDeclaration`` is the ledger's append-only correction: a ``correct`` event that names
the corrected event, never an edit of it (:func:`to_epcis` needs the corrected event's EPCIS
form, which the declaration repeats, so both share one CBV hash ID).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Final, cast

from ledger.canonical import JsonValue
from ledger.epcis.epc_uri import canonical_identifier
from ledger.epcis.errors import (
    EpcisFormatError,
    EpcisNoCounterpartError,
    EpcisSensorDataError,
    UnissuedIdentifierError,
)
from ledger.epcis.hash_id import EPCIS_CONTEXT_PREFIXES, event_hash_id
from ledger.epcis.identifiers import (
    Lookup,
    code_epc,
    contents_class,
    org_uri,
    private_id,
    site_uri,
)
from ledger.epcis.table import (
    BIZ_TRANSACTIONS,
    ERROR_REASONS,
    NAMESPACE,
    PREFIX,
    UNITS,
    UNITS_BACK,
    VARIANT_FIELD,
    Signature,
    signature_of,
    signatures_for,
)
from ledger.epcis.vocabulary import Vocabulary
from ledger.errors import MalformedEventError
from ledger.events import BODY_VERSION, EventBody, body_to_json, may_start_chain, parse_body

Event = dict[str, Any]
"""One EPCIS 2.0 JSON-LD event, as parsed JSON."""

BEIJING_OFFSET: Final = "+08:00"
"""chemtrace signs UTC; the exported ``eventTimeZoneOffset`` is the city's (EPCIS 2.0 §7.4.1
asks for the local offset where the event took place)."""
ENVELOPE: Final = f"{PREFIX}:envelope"
DATA: Final = f"{PREFIX}:data"
EXACT: Final = f"{PREFIX}:exactQuantities"
CORRECTION: Final = f"{PREFIX}:correction"
LOT: Final = "cbvmda:lotNumber"
FILL_LOT: Final = "urn:chemtrace:lot:"
_LOT_IRI: Final = EPCIS_CONTEXT_PREFIXES["cbvmda"] + "lotNumber"
_ENVELOPE_FIELDS: Final = ("v", "org", "device_key", "actor", "co_actor", "catalog_version")
_CAPTURE_METADATA: Final = frozenset({"eventID", "recordTime", "@context"})
"""Recorded by the capture, not part of what happened: the CBV hash excludes them too."""
_UTC: Final = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_OBJECT, _AGGREGATION, _TRANSFORMATION = "ObjectEvent", "AggregationEvent", "TransformationEvent"
_NO_COUNTERPART_TYPES: Final = {
    "AssociationEvent": "chemtrace records no associations of devices, sensors or assets "
    "with items; containment is an AggregationEvent",
    "TransactionEvent": "chemtrace records a trade as a sell or buy ObjectEvent with its "
    "business transaction; a TransactionEvent has no counterpart",
}


@dataclass(frozen=True, slots=True)
class CaptureContext:
    """What the capturing party adds to a foreign event to make it a body it can sign."""

    org: str
    device_key: str
    actor: str
    catalog_version: str
    v: int = BODY_VERSION


# ---------------------------------------------------------------------------------------------
# native -> EPCIS


def _decimal_number(text: str) -> int | float:
    number = Decimal(text)
    return int(number) if number == number.to_integral_value() else float(number)


def _canonical_decimal(text: str) -> bool:
    return _decimal_text(_decimal_number(text)) == text


def _quantity_element(code: str, quantity: Mapping[str, JsonValue], exact: dict[str, str]) -> Event:
    value, unit = str(quantity["value"]), str(quantity["unit"])
    element: Event = {"epcClass": contents_class(code), "quantity": _decimal_number(value)}
    if unit != "piece":
        element["uom"] = UNITS[unit]
    if not _canonical_decimal(value):
        exact[contents_class(code)] = value
    return element


def _party(kind: str, uri: str, field: str = "source") -> Event:
    return {"type": kind, field: uri}


def to_epcis(body: EventBody, *, corrected: Mapping[str, Any] | None = None) -> Event:
    """The EPCIS 2.0 JSON-LD event of a native body (a ``correct`` needs the ``corrected``)."""
    raw = body_to_json(body)
    if raw["type"] == "correct":
        if corrected is None:
            raise ValueError(
                "a correct event is written as an errorDeclaration on the corrected event"
            )
        return _correction_to_epcis(raw, corrected)
    data = dict(cast("dict[str, JsonValue]", raw["data"]))
    native = str(raw["type"])
    variant_field = VARIANT_FIELD.get(native)
    variant = str(data.pop(variant_field)) if variant_field else None
    signature = signature_of(native, variant)
    event: Event = {
        "type": signature.event_type,
        "eventTime": raw["time"],
        "eventTimeZoneOffset": BEIJING_OFFSET,
    }
    links = cast("list[dict[str, JsonValue]]", raw["items"])
    _write_items(event, signature, native, links)
    if signature.action is not None:
        event["action"] = signature.action
    event["bizStep"] = signature.biz_step
    if signature.disposition is not None:
        event["disposition"] = signature.disposition
    geo = cast("dict[str, str] | None", raw.get("geo"))
    if geo is not None:
        event["readPoint"] = {"id": f"geo:{geo['lat']},{geo['lon']}"}
    if raw.get("site") is not None:
        event["bizLocation"] = {"id": site_uri(str(raw["site"]))}
    exact: dict[str, str] = {}
    _write_data(event, native, str(raw["org"]), data, exact)
    envelope: dict[str, JsonValue] = {k: raw[k] for k in _ENVELOPE_FIELDS if k in raw}
    envelope["items"] = [{k: v for k, v in link.items() if v is not None} for link in links]
    event[ENVELOPE] = envelope
    if data:
        event[DATA] = data
    if exact:
        event[EXACT] = [{"epcClass": k, "quantity": v} for k, v in sorted(exact.items())]
    return event


def _write_items(
    event: Event, signature: Signature, native: str, links: list[dict[str, JsonValue]]
) -> None:
    def codes(role: str) -> list[str]:
        return [code_epc(str(link["code"])) for link in links if link["role"] == role]

    if signature.event_type == _AGGREGATION:
        event["parentID"] = codes("parent")[0]
        event["childEPCs"] = codes("child")
    elif native == "transform":
        event["inputEPCList"] = codes("input")
        event["outputEPCList"] = codes("output")
    elif native == "fill":
        event["outputEPCList"] = codes("subject")
    else:
        event["epcList"] = codes("subject")


def _write_data(
    event: Event, native: str, org: str, data: dict[str, JsonValue], exact: dict[str, str]
) -> None:
    if native in ("aggregate", "disaggregate"):
        data.pop("parent")
        data.pop("children")
    if native in ("commission", "fill"):
        event["ilmd"] = {LOT: data.pop("lot")}
    if native == "fill":
        # EPCIS 2.0 §7.4.6: a transformation with outputs only is named by its ID; the fills of
        # one bulk lot are parts of one transformation.
        event["transformationID"] = FILL_LOT + str(event["ilmd"][LOT])
    if native == "transform":
        for side, key in (("inputs", "inputQuantityList"), ("outputs", "outputQuantityList")):
            entries = cast("list[dict[str, Any]]", data.pop(side))
            event[key] = [_quantity_element(e["code"], e["quantity"], exact) for e in entries]
    if native == "fill":
        subject = str(event["outputEPCList"][0]).removeprefix("urn:chemtrace:code:")
        quantity = cast("dict[str, JsonValue]", data.pop("quantity"))
        event["outputQuantityList"] = [_quantity_element(subject, quantity, exact)]
    sources: list[Event] = []
    destinations: list[Event] = []
    if native == "sell":
        sources.append(_party("owning_party", org_uri(org)))
        destinations.append(
            _party("owning_party", org_uri(str(data.pop("counterparty"))), "destination")
        )
    elif native == "buy":
        sources.append(_party("owning_party", org_uri(str(data.pop("counterparty")))))
        destinations.append(_party("owning_party", org_uri(org), "destination"))
    elif native == "ship":
        sources.append(_party("possessing_party", org_uri(org)))
        destinations.append(
            _party("possessing_party", org_uri(str(data.pop("consignee"))), "destination")
        )
        destinations.append(
            _party("location", site_uri(str(data.pop("consignee_site"))), "destination")
        )
    elif native == "return":
        destinations.append(_party("owning_party", org_uri(str(data.pop("to_org"))), "destination"))
    elif native == "dispose":
        destinations.append(
            _party("possessing_party", org_uri(str(data.pop("disposer"))), "destination")
        )
    if native in BIZ_TRANSACTIONS:
        field, kind = BIZ_TRANSACTIONS[native]
        if data.get(field) is not None:
            event["bizTransactionList"] = [
                {"type": kind, "bizTransaction": _document_uri(kind, str(data.pop(field)))}
            ]
    if sources:
        event["sourceList"] = sources
    if destinations:
        event["destinationList"] = destinations


def _document_uri(kind: str, number: str) -> str:
    """A document number as a business-transaction URI (EPCIS 2.0 §7.3.5.3 wants a URI)."""
    return f"urn:chemtrace:{kind}:{number}"


def _correction_to_epcis(raw: dict[str, JsonValue], corrected: Mapping[str, Any]) -> Event:
    event = copy.deepcopy(dict(corrected))
    if "errorDeclaration" in event:
        raise ValueError("the corrected event is itself an error declaration")
    # The declaration repeats the corrected event (EPCIS 2.0 §7.4.1.2), so the correction's own
    # site and position travel with its signer, not in bizLocation/readPoint.
    fields = (*_ENVELOPE_FIELDS, "site", "geo")
    envelope: dict[str, JsonValue] = {k: raw[k] for k in fields if k in raw}
    envelope["items"] = [
        {k: v for k, v in link.items() if v is not None}
        for link in cast("list[dict[str, JsonValue]]", raw["items"])
    ]
    event["errorDeclaration"] = {
        "declarationTime": raw["time"],
        "reason": "incorrect_data",
        CORRECTION: {"envelope": envelope, "data": raw["data"]},
    }
    event.pop("eventID", None)
    event.pop("recordTime", None)
    return event


_SIGNER_FIELDS: Final = frozenset({"envelope", "signature", "log"})


def event_id(
    event: Mapping[str, Any], namespaces: Mapping[str, str] = EPCIS_CONTEXT_PREFIXES
) -> str:
    """The CBV 2.0 hash ID chemtrace gives an event: that of what happened.

    ``chemtrace:envelope`` (the signer, its device, the chain links), ``chemtrace:signature``
    and ``chemtrace:log`` (where the log put it) are left out, as CBV leaves out ``eventID``
    and ``recordTime``: the same occurrence captured twice, by a re-sent document or another
    device, has one ID.
    """
    table = {**namespaces, PREFIX: namespaces.get(PREFIX, NAMESPACE)}

    def signer_field(key: str) -> bool:
        if key.startswith("{" + NAMESPACE + "}"):
            return key[len(NAMESPACE) + 2 :] in _SIGNER_FIELDS
        prefix, sep, local = key.partition(":")
        return bool(sep) and table.get(prefix) == NAMESPACE and local in _SIGNER_FIELDS

    return event_hash_id({k: v for k, v in event.items() if not signer_field(k)}, table)


def epcis_document(events: Sequence[Event], *, created: str) -> Event:
    """An EPCIS 2.0 document holding ``events``, with the ``chemtrace:`` prefix in its context."""
    return {
        "@context": [
            "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
            {PREFIX: NAMESPACE},
        ],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": created,
        "epcisBody": {"eventList": list(events)},
    }


# ---------------------------------------------------------------------------------------------
# EPCIS -> native


def _decimal_text(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise EpcisFormatError(f"not a number: {value!r}", field="quantity")
    try:
        number = Decimal(str(value))
    except InvalidOperation as exc:
        raise EpcisFormatError(f"not a number: {value!r}", field="quantity") from exc
    text = format(number.normalize(), "f")
    return "0" if text in ("0", "-0") else text


def _same_number(exact: object, number: object) -> bool:
    """Whether the exact decimal text is the one the (binary) JSON number was rounded from."""
    try:
        return float(Decimal(str(exact))) == float(Decimal(str(number)))
    except (InvalidOperation, ValueError):
        return False


def utc_time(text: object, field: str) -> str:
    """An RFC 3339 time with any offset as chemtrace's UTC form; ``…Z`` texts stay as written."""
    match = _UTC.match(text) if isinstance(text, str) else None
    if match is None:
        raise EpcisFormatError(f"{field} is not an RFC 3339 time: {text!r}", field=field)
    whole, fraction, zone = match.groups()
    if zone == "Z":
        return str(text)
    sign = 1 if zone[0] == "+" else -1
    offset = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    moment = datetime.fromisoformat(whole).replace(tzinfo=offset).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (fraction or "") + "Z"


@dataclass(slots=True)
class _Reader:
    """Reads one EPCIS event; remembers which of its properties it used."""

    event: Mapping[str, Any]
    lookup: Lookup
    namespaces: Mapping[str, str]

    def chemtrace_key(self, key: str) -> str | None:
        """The local name of a ``chemtrace:`` extension key, None for any other key."""
        if key.startswith("{" + NAMESPACE + "}"):
            return key[len(NAMESPACE) + 2 :]
        prefix, sep, local = key.partition(":")
        return local if sep and self.namespaces.get(prefix) == NAMESPACE else None

    def extension(self, name: str) -> Any:
        for key, value in self.event.items():
            if self.chemtrace_key(key) == name:
                return value
        return None

    def item(self, epc: object, field: str) -> str:
        return self._resolve(epc, field, "code", self.lookup.item, "item this registry issued")

    def site(self, location: object, field: str) -> str:
        return self._resolve(location, field, "site", self.lookup.site, "registered site")

    def party(self, party: object, field: str) -> str:
        return self._resolve(party, field, "org", self.lookup.party, "registered organisation")

    @staticmethod
    def _resolve(
        uri: object, field: str, kind: str, look_up: Callable[[str], str | None], what: str
    ) -> str:
        """A chemtrace private URN of ``kind`` names itself; a GS1 identifier is looked up."""
        if not isinstance(uri, str):
            raise EpcisFormatError(f"{field} must be a URI", field=field)
        own = private_id(uri, kind)
        found = own if own is not None else look_up(canonical_identifier(uri))
        if found is None:
            raise UnissuedIdentifierError(f"{uri} names no {what}", field=field)
        return found


_STANDARD: Final = frozenset(
    {
        "type",
        "eventTime",
        "eventTimeZoneOffset",
        "epcList",
        "parentID",
        "childEPCs",
        "inputEPCList",
        "outputEPCList",
        "inputQuantityList",
        "outputQuantityList",
        "action",
        "bizStep",
        "disposition",
        "readPoint",
        "bizLocation",
        "bizTransactionList",
        "sourceList",
        "destinationList",
        "ilmd",
        "transformationID",
        "errorDeclaration",
    }
)
_KNOWN_EXTENSIONS: Final = frozenset({"envelope", "data", "exactQuantities"})


def from_epcis(
    event: Mapping[str, Any],
    lookup: Lookup,
    context: CaptureContext | None = None,
    namespaces: Mapping[str, str] = EPCIS_CONTEXT_PREFIXES,
) -> EventBody:
    """The native body an EPCIS 2.0 event describes, strictly validated.

    A chemtrace-exported event carries its signer and chain links (``chemtrace:envelope``);
    a foreign one takes them from ``context`` and ``lookup.head``.

    Raises:
        EpcisSensorDataError: ``sensorElementList`` is present.
        EpcisNoCounterpartError: a property chemtrace has no place for, or a fact it needs
            that the event does not carry (``field`` names which).
        UnissuedIdentifierError: an EPC, location or party the registry does not know.
        EpcisFormatError: the event breaks EPCIS syntax or the native body's format.
    """
    table = {**namespaces, PREFIX: namespaces.get(PREFIX, NAMESPACE)}
    reader = _Reader(event, lookup, table)
    if event.get("sensorElementList"):
        raise EpcisSensorDataError(
            "sensor data cannot be captured: no chemtrace event has signed measurement fields "
            "(temperature, pressure, gas readings)",
            field="sensorElementList",
        )
    event_type = event.get("type")
    if event_type in _NO_COUNTERPART_TYPES:
        raise EpcisNoCounterpartError(_NO_COUNTERPART_TYPES[str(event_type)], field="type")
    if event_type not in (_OBJECT, _AGGREGATION, _TRANSFORMATION):
        raise EpcisFormatError(f"not an EPCIS 2.0 event type: {event_type!r}", field="type")
    _refuse_unknown_properties(reader)
    if "errorDeclaration" in event:
        return _correction_from_epcis(reader, context)
    signature = _signature(reader)
    native = signature.native
    data = _extension_data(reader)
    roles = _read_items(reader, signature)
    derived: dict[str, Any] = {}
    if signature.variant is not None:
        derived[VARIANT_FIELD[native]] = signature.variant
    if native in ("aggregate", "disaggregate"):
        derived["parent"] = next(code for code, role in roles if role == "parent")
        derived["children"] = [code for code, role in roles if role == "child"]
    _read_ilmd(reader, native, derived)
    _read_transformation_id(reader, native, derived)
    _read_quantities(reader, native, roles, derived)
    signers = _read_parties(reader, native, derived)
    _read_transactions(reader, native, derived)
    for key, value in derived.items():
        if key in data and data[key] != value:
            raise EpcisFormatError(
                f"chemtrace:data.{key} contradicts the event's standard fields",
                field=f"chemtrace:data.{key}",
            )
        data[key] = value
    raw: dict[str, Any] = {"type": native, "time": utc_time(event.get("eventTime"), "eventTime")}
    raw.update(_where(reader))
    _sign_with(reader, raw, roles, native, context)
    raw["data"] = data
    for field, org in signers:
        if org != raw["org"]:
            raise EpcisNoCounterpartError(
                f"this party of a {native} is the signer's organisation {raw['org']}, not {org}",
                field=field,
            )
    return _parse(raw)


def _refuse_unknown_properties(reader: _Reader) -> None:
    for key, value in reader.event.items():
        if key in _STANDARD or key in _CAPTURE_METADATA:
            continue
        local = reader.chemtrace_key(key)
        if local in _KNOWN_EXTENSIONS:
            continue
        if local is not None:
            raise EpcisFormatError(f"unknown chemtrace extension {key!r}", field=key)
        if key in ("quantityList", "childQuantityList"):
            if value:
                raise EpcisNoCounterpartError(
                    "chemtrace tracks identified containers: a class-level quantity names no "
                    "container it could be recorded against",
                    field=key,
                )
            continue
        if key == "sensorElementList" and not value:
            continue
        reason = {
            "persistentDisposition": "chemtrace keeps an item's state in its chain, not as a "
            "persistent disposition",
            "certificationInfo": "chemtrace attributes events to signatures, not certificates",
        }.get(key, "the extension has no chemtrace counterpart")
        raise EpcisNoCounterpartError(reason, field=key)


def _signature(reader: _Reader) -> Signature:
    event = reader.event
    step = event.get("bizStep")
    if not isinstance(step, str):
        raise EpcisNoCounterpartError(
            "an event without a bizStep names no chemtrace event", field="bizStep"
        )
    uri = Vocabulary.BIZ_STEP.expand(step)
    action = event.get("action")
    candidates = signatures_for(
        str(event["type"]), action if isinstance(action, str) else None, uri
    )
    if not candidates:
        what = f"{event['type']} {action or ''} {step}".replace("  ", " ")
        raise EpcisNoCounterpartError(f"no chemtrace event is a {what}", field="bizStep")
    disposition = event.get("disposition")
    given = Vocabulary.DISPOSITION.expand(disposition) if isinstance(disposition, str) else None
    for candidate in candidates:
        expected = candidate.disposition
        if (Vocabulary.DISPOSITION.expand(expected) if expected else None) == given:
            return candidate
    raise EpcisNoCounterpartError(
        f"a {candidates[0].native} event has no disposition {disposition!r}", field="disposition"
    )


def _extension_data(reader: _Reader) -> dict[str, Any]:
    data = reader.extension("data")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise EpcisFormatError("chemtrace:data must be an object", field="chemtrace:data")
    return copy.deepcopy(data)


def _read_items(reader: _Reader, signature: Signature) -> list[tuple[str, str]]:
    event = reader.event
    roles: list[tuple[str, str]] = []

    def take(key: str, role: str) -> None:
        value = event.get(key)
        if value is None:
            return
        members = [value] if key == "parentID" else value
        if not isinstance(members, list):
            raise EpcisFormatError(f"{key} must be a list", field=key)
        roles.extend((reader.item(epc, f"{key}[{i}]"), role) for i, epc in enumerate(members))

    if signature.event_type == _AGGREGATION:
        if "parentID" not in event:
            raise EpcisNoCounterpartError(
                "chemtrace aggregates into an identified parent", field="parentID"
            )
        take("parentID", "parent")
        take("childEPCs", "child")
        if "epcList" in event:
            raise EpcisFormatError("an AggregationEvent has no epcList", field="epcList")
    elif signature.native == "transform":
        take("inputEPCList", "input")
        take("outputEPCList", "output")
    elif signature.native == "fill":
        if event.get("inputEPCList"):
            raise EpcisNoCounterpartError(
                "a fill records the filled container only", field="inputEPCList"
            )
        take("outputEPCList", "subject")
    else:
        for key in ("parentID", "childEPCs", "inputEPCList", "outputEPCList"):
            if key in event:
                raise EpcisFormatError(f"an ObjectEvent has no {key}", field=key)
        take("epcList", "subject")
    if not roles:
        raise EpcisNoCounterpartError("the event names no item", field="epcList")
    return roles


def _read_transformation_id(reader: _Reader, native: str, derived: dict[str, Any]) -> None:
    ident = reader.event.get("transformationID")
    if ident is None:
        return
    if native != "fill" or not isinstance(ident, str) or not ident.startswith(FILL_LOT):
        raise EpcisNoCounterpartError(
            "only a fill has a transformation ID: the lot it was filled from",
            field="transformationID",
        )
    if derived.setdefault("lot", ident[len(FILL_LOT) :]) != ident[len(FILL_LOT) :]:
        raise EpcisFormatError(
            "transformationID names another lot than ilmd", field="transformationID"
        )


def _read_ilmd(reader: _Reader, native: str, derived: dict[str, Any]) -> None:
    ilmd = reader.event.get("ilmd")
    if ilmd is None:
        return
    if native not in ("commission", "fill") or not isinstance(ilmd, dict):
        raise EpcisNoCounterpartError(
            "only a commissioning or a fill carries master data", field="ilmd"
        )
    for key, value in ilmd.items():
        prefix, _, local = key.partition(":")
        expanded = reader.namespaces.get(prefix, prefix + ":") + local if ":" in key else key
        if expanded == _LOT_IRI or key == LOT:
            derived["lot"] = value
        else:
            raise EpcisNoCounterpartError(
                "chemtrace keeps only the lot number of the master data", field=f"ilmd.{key}"
            )


def _read_quantities(
    reader: _Reader, native: str, roles: list[tuple[str, str]], derived: dict[str, Any]
) -> None:
    event = reader.event
    exact = {
        str(e.get("epcClass")): e.get("quantity")
        for e in reader.extension("exactQuantities") or []
        if isinstance(e, dict)
    }
    sides = {
        "transform": (
            ("inputQuantityList", "input", "inputs"),
            ("outputQuantityList", "output", "outputs"),
        ),
        "fill": (("outputQuantityList", "subject", None),),
    }.get(native, ())
    for key in ("inputQuantityList", "outputQuantityList"):
        if event.get(key) and key not in {s[0] for s in sides}:
            raise EpcisNoCounterpartError(f"a {native} has no {key}", field=key)
    for key, role, target in sides:
        codes = [code for code, r in roles if r == role]
        entries = event.get(key) or []
        found: dict[str, dict[str, str]] = {}
        for i, entry in enumerate(entries):
            field = f"{key}[{i}]"
            if not isinstance(entry, dict):
                raise EpcisFormatError(f"{field} must be an object", field=field)
            epc_class = entry.get("epcClass")
            code = private_id(epc_class, "contents") if isinstance(epc_class, str) else None
            if code is None or code not in codes:
                raise EpcisNoCounterpartError(
                    "chemtrace records the quantity held in each identified container: this "
                    "epcClass names no container of the event",
                    field=f"{field}.epcClass",
                )
            uom = entry.get("uom")
            unit = UNITS_BACK.get(uom) if isinstance(uom, str) else "piece"
            if unit is None:
                raise EpcisNoCounterpartError(
                    f"no chemtrace unit is UN/CEFACT {uom!r}", field=f"{field}.uom"
                )
            if "quantity" not in entry:
                raise EpcisNoCounterpartError(
                    "a container's quantity is required", field=f"{field}.quantity"
                )
            value = exact.get(str(epc_class))
            if value is None or not _same_number(value, entry["quantity"]):
                value = _decimal_text(entry["quantity"])
            found[code] = {"value": str(value), "unit": unit}
        missing = [c for c in codes if c not in found]
        if missing:
            raise EpcisNoCounterpartError(
                f"every {role} container needs its quantity; {missing[0]} has none", field=key
            )
        if target is None:
            derived["quantity"] = found[codes[0]]
        else:
            derived[target] = [{"code": c, "quantity": found[c]} for c in codes]


_PARTIES: Final = {
    # native -> ((list, type, data field or "org"), ...)
    "sell": (
        ("sourceList", "owning_party", "org"),
        ("destinationList", "owning_party", "counterparty"),
    ),
    "buy": (
        ("sourceList", "owning_party", "counterparty"),
        ("destinationList", "owning_party", "org"),
    ),
    "ship": (
        ("sourceList", "possessing_party", "org"),
        ("destinationList", "possessing_party", "consignee"),
        ("destinationList", "location", "consignee_site"),
    ),
    "return": (("destinationList", "owning_party", "to_org"),),
    "dispose": (("destinationList", "possessing_party", "disposer"),),
}


def _read_parties(reader: _Reader, native: str, derived: dict[str, Any]) -> list[tuple[str, str]]:
    """Fill the parties' data fields; return the (field, org) entries that must be the signer's."""
    expected = _PARTIES.get(native, ())
    signers: list[tuple[str, str]] = []
    for key, field in (("sourceList", "source"), ("destinationList", "destination")):
        entries = reader.event.get(key) or []
        for i, entry in enumerate(entries):
            where = f"{key}[{i}]"
            kind = entry.get("type") if isinstance(entry, dict) else None
            short = (
                Vocabulary.SOURCE_DESTINATION_TYPE.short(kind) if isinstance(kind, str) else None
            )
            target = next((t for k, s, t in expected if k == key and s == short), None)
            if target is None:
                raise EpcisNoCounterpartError(
                    f"a {native} event has no {kind} in its {key}", field=where
                )
            value = entry.get(field)
            if target == "org":
                signers.append((f"{where}.{field}", reader.party(value, f"{where}.{field}")))
            elif target == "consignee_site":
                derived[target] = reader.site(value, f"{where}.{field}")
            else:
                derived[target] = reader.party(value, f"{where}.{field}")
    return signers


def _read_transactions(reader: _Reader, native: str, derived: dict[str, Any]) -> None:
    entries = reader.event.get("bizTransactionList") or []
    field, kind = BIZ_TRANSACTIONS.get(native, ("", ""))
    for i, entry in enumerate(entries):
        where = f"bizTransactionList[{i}]"
        given = entry.get("type") if isinstance(entry, dict) else None
        short = Vocabulary.BIZ_TRANSACTION_TYPE.short(given) if isinstance(given, str) else None
        if not field or short != kind or field in derived:
            raise EpcisNoCounterpartError(
                f"a {native} event keeps no {given or 'untyped'} business transaction", field=where
            )
        number = str(entry.get("bizTransaction", ""))
        derived[field] = number.removeprefix(f"urn:chemtrace:{kind}:")


def _where(reader: _Reader) -> dict[str, Any]:
    out: dict[str, Any] = {}
    location = reader.event.get("bizLocation")
    if isinstance(location, dict):
        extra = set(location) - {"id"}
        if extra:
            raise EpcisNoCounterpartError(
                "a site has no sub-locations", field=f"bizLocation.{sorted(extra)[0]}"
            )
        out["site"] = reader.site(location.get("id"), "bizLocation.id")
    point = reader.event.get("readPoint")
    if isinstance(point, dict):
        extra = set(point) - {"id"}
        if extra:
            raise EpcisNoCounterpartError(
                "a read point is a site or a position", field=f"readPoint.{sorted(extra)[0]}"
            )
        ident = point.get("id")
        if isinstance(ident, str) and ident.startswith("geo:"):
            position, _, parameters = ident[4:].partition(";")
            lat, _, lon = position.partition(",")
            if parameters or "," in lon:
                raise EpcisNoCounterpartError(
                    "chemtrace keeps a latitude and longitude only (no altitude, CRS or "
                    "uncertainty)",
                    field="readPoint.id",
                )
            out["geo"] = {"lat": lat, "lon": lon}
        else:
            site = reader.site(ident, "readPoint.id")
            if out.setdefault("site", site) != site:
                raise EpcisNoCounterpartError(
                    "chemtrace records one site: the read point and the business location differ",
                    field="readPoint.id",
                )
    return out


def _sign_with(
    reader: _Reader,
    raw: dict[str, Any],
    roles: list[tuple[str, str]],
    native: str,
    context: CaptureContext | None,
) -> None:
    envelope = reader.extension("envelope")
    if isinstance(envelope, dict):
        for key in _ENVELOPE_FIELDS:
            if key in envelope:
                raw[key] = envelope[key]
        links = envelope.get("items")
        if not isinstance(links, list):
            raise EpcisFormatError(
                "chemtrace:envelope.items must be a list", field="chemtrace:envelope.items"
            )
        raw["items"] = [
            {**link, "prev": link.get("prev")} for link in links if isinstance(link, dict)
        ]
        in_event = sorted(roles)
        in_links = sorted(
            (str(link.get("code")), str(link.get("role", "subject"))) for link in raw["items"]
        )
        if in_event != in_links:
            raise EpcisFormatError(
                "chemtrace:envelope.items names other items than the event",
                field="chemtrace:envelope.items",
            )
        return
    if envelope is not None:
        raise EpcisFormatError("chemtrace:envelope must be an object", field="chemtrace:envelope")
    if context is None:
        raise EpcisNoCounterpartError(
            "a foreign event needs a capture context (signer, device, catalog) to become a body",
            field="chemtrace:envelope",
        )
    raw.update(
        v=context.v,
        org=context.org,
        device_key=context.device_key,
        actor=context.actor,
        catalog_version=context.catalog_version,
    )
    items = []
    for code, role in roles:
        head = reader.lookup.head(code, may_start=may_start_chain(native, role))
        if head is None:
            raise UnissuedIdentifierError(f"{code} has no chain to append to", field="epcList")
        seq, prev = head
        items.append({"code": code, "seq": seq, "prev": prev, "role": role})
    raw["items"] = items


def _correction_from_epcis(reader: _Reader, context: CaptureContext | None) -> EventBody:
    declaration = reader.event["errorDeclaration"]
    if not isinstance(declaration, dict):
        raise EpcisFormatError("errorDeclaration must be an object", field="errorDeclaration")
    correction = None
    for key, value in declaration.items():
        local = reader.chemtrace_key(key)
        if local == "correction":
            correction = value
        elif key not in ("declarationTime", "reason", "correctiveEventIDs"):
            raise EpcisNoCounterpartError(
                "the declaration's extension has no counterpart", field=f"errorDeclaration.{key}"
            )
    if isinstance(correction, dict):
        envelope = dict(correction.get("envelope") or {})
        raw: dict[str, Any] = {
            k: envelope[k] for k in (*_ENVELOPE_FIELDS, "site", "geo") if k in envelope
        }
        raw["items"] = [{**link, "prev": link.get("prev")} for link in envelope.get("items", [])]
        raw.update(
            type="correct", time=declaration.get("declarationTime"), data=correction.get("data")
        )
        return _parse(raw)
    reason = declaration.get("reason")
    short = Vocabulary.ERROR_REASON.short(reason) if isinstance(reason, str) else None
    if reason is not None and short not in ERROR_REASONS:
        raise EpcisNoCounterpartError(
            f"no CBV error reason {reason!r}", field="errorDeclaration.reason"
        )
    declared = {k: v for k, v in reader.event.items() if k != "errorDeclaration"}
    corrects = reader.lookup.ledger_event(event_hash_id(declared, reader.namespaces))
    if corrects is None:
        raise UnissuedIdentifierError(
            "no captured event has the declared event's hash ID", field="errorDeclaration"
        )
    changes = {"epcis.reason": short or "unspecified"}
    ids = declaration.get("correctiveEventIDs") or []
    if ids:
        changes["epcis.corrective_event_ids"] = " ".join(str(i) for i in ids)
    subjects: list[tuple[str, str]] = []
    for key in ("epcList", "childEPCs", "inputEPCList", "outputEPCList"):
        subjects.extend(
            (reader.item(epc, f"{key}[{i}]"), "subject")
            for i, epc in enumerate(reader.event.get(key) or [])
        )
    if "parentID" in reader.event:
        subjects.append((reader.item(reader.event["parentID"], "parentID"), "subject"))
    unique = list(dict.fromkeys(subjects))
    raw = {
        "type": "correct",
        "time": utc_time(declaration.get("declarationTime"), "errorDeclaration.declarationTime"),
        "data": {
            "corrects": corrects,
            "reason": f"EPCIS error declaration: {short or 'unspecified'}",
            "changes": changes,
        },
    }
    _sign_with(reader, raw, unique, "correct", context)
    return _parse(raw)


def _parse(raw: dict[str, Any]) -> EventBody:
    try:
        return parse_body(raw)
    except MalformedEventError as exc:
        field = str(exc.context.get("field", "$"))
        path = field.split(".", 1)[1] if "." in field else field
        if "a waypoint needs geo" in exc.message:
            raise EpcisNoCounterpartError(
                "a transporting event needs its position as a geo: read point", field="readPoint"
            ) from exc
        if exc.message == "Field required" and path.startswith("data."):
            raise EpcisNoCounterpartError(
                f"the event does not say {path[5:]!r}, which a {raw.get('type')} needs "
                f"(carry it as chemtrace:{path})",
                field=f"chemtrace:{path}",
            ) from exc
        raise EpcisFormatError(f"the mapped body is malformed: {exc.message}", field=path) from exc
