"""CBV 2.0 event hash IDs (``ni:///sha-256;…?ver=CBV2.0``), CBV 2.0 §8.9.

An event's hash ID is the SHA-256 of its *pre-hash string*: the event's properties in
the canonical property order (§8.9.3), each value normalised (§8.9.2: timestamps in UTC
to the millisecond, EPCs and other GS1 keys as canonical Digital Link URIs, CBV values as
their web URIs, numbers without insignificant zeros), list members sorted, and user
extensions, written ``{namespace}localName``, sorted and appended last. ``eventID``,
``recordTime``, ``errorDeclaration`` and ``certificationInfo`` are left out, so that an
event keeps its hash ID when it is recorded, declared in error or certified (§8.9.1).

The ground truth is the reference implementation's expected hashes
(RalphTro/epcis-event-hash-generator); where its released 2023 tree and its newer tree
differ, this module follows the newer one, which matches the standard's order (``sourceList``
before ``destinationList``, GS1 Web Vocabulary under ``https://ref.gs1.org/voc/``, extensions
inside standard fields in a trailing block named after their parent field).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Final

from ledger.epcis.epc_uri import canonical_identifier
from ledger.epcis.errors import EpcisFormatError
from ledger.epcis.vocabulary import Vocabulary, expand_gs1_term

HASH_PREFIX: Final = "ni:///sha-256;"
HASH_SUFFIX: Final = "?ver=CBV2.0"
EPCIS_CONTEXT_PREFIXES: Final = {
    "epcis": "https://ref.gs1.org/epcis/",
    "cbv": "https://ref.gs1.org/cbv/",
    "cbvmda": "urn:epcglobal:cbv:mda:",
    "gs1": "https://gs1.org/voc/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "dcterms": "http://purl.org/dc/terms/",
}
"""The prefixes the EPCIS 2.0 JSON-LD context (``epcis-context.jsonld``) itself defines."""

_EXCLUDED: Final = frozenset(
    {
        "type",
        "eventID",
        "recordTime",
        "errorDeclaration",
        "certificationInfo",
        "@context",
        "@type",
        "rdfs:comment",
        "comment",
    }
)
_TIMESTAMP: Final = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?(Z|[+-]\d{2}:\d{2})$"
)

Json = object
"""A value of a parsed JSON document."""
Normaliser = Callable[[Json], str]


def _timestamp(value: Json) -> str:
    """§8.9.2: UTC, milliseconds (rounded half up), ``Z``."""
    from datetime import datetime, timedelta, timezone

    text = _text(value)
    match = _TIMESTAMP.match(text)
    if match is None:
        raise EpcisFormatError(f"not an RFC 3339 timestamp: {text!r}", field="timestamp")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    millis = int(Decimal(f"0.{fraction or '0'}").scaleb(3).quantize(Decimal(1), ROUND_HALF_UP))
    offset = timedelta(0)
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        offset = sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    moment = datetime(
        int(year),
        int(month),
        int(day),
        int(hour),
        int(minute),
        int(second),
        tzinfo=timezone(offset),
    ) + timedelta(milliseconds=millis)
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _number(value: Json) -> str:
    """§8.9.2: no leading or trailing zeros, no exponent, no ``+``."""
    if isinstance(value, bool):
        raise EpcisFormatError(f"not a number: {value!r}", field="number")
    try:
        number = Decimal(str(value))
    except InvalidOperation as exc:
        raise EpcisFormatError(f"not a number: {value!r}", field="number") from exc
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _text(value: Json) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise EpcisFormatError(f"expected a simple value, found {type(value).__name__}", field="value")


def _identifier(value: Json) -> str:
    return canonical_identifier(_text(value))


def _vocabulary(vocabulary: Vocabulary) -> Normaliser:
    return lambda value: vocabulary.expand(_text(value))


def _gs1_term(value: Json) -> str:
    return expand_gs1_term(_text(value))


@dataclass(frozen=True, slots=True)
class _Field:
    """One property in the canonical order: a scalar, a list of scalars, or a structure."""

    name: str
    normalise: Normaliser | None = None
    children: tuple[_Field, ...] = ()
    repeated: bool = False
    element: str = ""
    """The name written before each member of a list of structures (``quantityElement``)."""
    keyword: bool = True
    """Whether the list's own name is written (the CBV 2.0 tree omits ``sensorElementList``)."""


_QUANTITY: Final = (
    _Field("epcClass", _identifier),
    _Field("quantity", _number),
    _Field("uom", _text),
)
_SENSOR_METADATA: Final = tuple(
    _Field(name, normalise)
    for name, normalise in (
        ("time", _timestamp),
        ("startTime", _timestamp),
        ("endTime", _timestamp),
        ("deviceID", _identifier),
        ("deviceMetadata", _identifier),
        ("rawData", _identifier),
        ("dataProcessingMethod", _identifier),
        ("bizRules", _identifier),
    )
)
_SENSOR_REPORT: Final = tuple(
    _Field(name, normalise)
    for name, normalise in (
        ("type", _gs1_term),
        ("exception", _gs1_term),
        ("deviceID", _identifier),
        ("deviceMetadata", _identifier),
        ("rawData", _identifier),
        ("dataProcessingMethod", _identifier),
        ("time", _timestamp),
        ("microorganism", _identifier),
        ("chemicalSubstance", _identifier),
        ("value", _number),
        ("component", _vocabulary(Vocabulary.COMPONENT)),
        ("stringValue", _text),
        ("booleanValue", _text),
        ("hexBinaryValue", _text),
        ("uriValue", _identifier),
        ("minValue", _number),
        ("maxValue", _number),
        ("meanValue", _number),
        ("sDev", _number),
        ("percRank", _number),
        ("percValue", _number),
        ("uom", _text),
        ("coordinateReferenceSystem", _text),
    )
)


def _epcs(name: str) -> _Field:
    return _Field(name, _identifier, repeated=True, element="epc")


def _quantities(name: str) -> _Field:
    return _Field(name, children=_QUANTITY, repeated=True, element="quantityElement")


def _typed_pairs(name: str, value_name: str, vocabulary: Vocabulary) -> _Field:
    return _Field(
        name,
        children=(_Field("type", _vocabulary(vocabulary)), _Field(value_name, _identifier)),
        repeated=True,
    )


CANONICAL_ORDER: Final = (
    _Field("eventTime", _timestamp),
    _Field("eventTimeZoneOffset", _text),
    _Field("parentID", _identifier),
    _epcs("epcList"),
    _epcs("inputEPCList"),
    _epcs("childEPCs"),
    _quantities("quantityList"),
    _quantities("childQuantityList"),
    _quantities("inputQuantityList"),
    _epcs("outputEPCList"),
    _quantities("outputQuantityList"),
    _Field("action", _text),
    _Field("transformationID", _identifier),
    _Field("bizStep", _vocabulary(Vocabulary.BIZ_STEP)),
    _Field("disposition", _vocabulary(Vocabulary.DISPOSITION)),
    _Field(
        "persistentDisposition",
        children=(
            _Field(
                "set",
                _vocabulary(Vocabulary.DISPOSITION),
                repeated=True,
                element="set",
                keyword=False,
            ),
            _Field(
                "unset",
                _vocabulary(Vocabulary.DISPOSITION),
                repeated=True,
                element="unset",
                keyword=False,
            ),
        ),
    ),
    _Field("readPoint", children=(_Field("id", _identifier),)),
    _Field("bizLocation", children=(_Field("id", _identifier),)),
    _typed_pairs("bizTransactionList", "bizTransaction", Vocabulary.BIZ_TRANSACTION_TYPE),
    _typed_pairs("sourceList", "source", Vocabulary.SOURCE_DESTINATION_TYPE),
    _typed_pairs("destinationList", "destination", Vocabulary.SOURCE_DESTINATION_TYPE),
    _Field(
        "sensorElementList",
        children=(
            _Field("sensorMetadata", children=_SENSOR_METADATA),
            _Field(
                "sensorReport",
                children=_SENSOR_REPORT,
                repeated=True,
                element="sensorReport",
                keyword=False,
            ),
        ),
        repeated=True,
        element="sensorElement",
        keyword=False,
    ),
    _Field("ilmd"),
)
"""CBV 2.0 §8.9.3, with each structure's children in their canonical order."""


@dataclass(slots=True)
class _Writer:
    """Writes one event's pre-hash; collects the user extensions met on the way."""

    namespaces: Mapping[str, str]

    def extension_key(self, key: str, *, nested: bool) -> str:
        """``prefix:local`` as ``{namespace}local`` (§8.9.2, user extensions).

        Inside an extension's content an unqualified name (an XML child element in no
        namespace) is written as it is; at the top it is no property at all.
        """
        if key.startswith("{") or "://" in key:
            return key
        prefix, sep, local = key.partition(":")
        if not sep and nested:
            return key
        if not sep or prefix not in self.namespaces:
            raise EpcisFormatError(
                f"{key!r} is neither an EPCIS property nor a namespaced extension",
                field=key,
            )
        return "{" + self.namespaces[prefix] + "}" + local

    def extension(self, key: str, value: Json, *, nested: bool = False) -> list[str]:
        name = self.extension_key(key, nested=nested)
        if value is None:
            return []  # JSON-LD drops a null value: it states nothing
        if isinstance(value, list):
            return [part for member in value for part in self.extension(key, member, nested=nested)]
        if isinstance(value, dict):
            if "@value" in value:
                return [f"{name}={_identifier(value['@value'])}"]
            inner = sorted(
                part
                for k, v in value.items()
                if not k.startswith("@")
                for part in self.extension(k, v, nested=True)
            )
            return [name + "".join(inner)]
        return [f"{name}={_identifier(value)}"]

    def structure(
        self, fields: Sequence[_Field], body: Mapping[str, Json], path: str
    ) -> tuple[str, list[str]]:
        """``body``'s standard fields in order, and the extension blocks to append at the end.

        The blocks come in the canonical order of the fields that hold them, each named by
        its field (``readPoint{ns}x=…``), and ``body``'s own extensions, sorted, last.
        """
        known = {f.name for f in fields}
        out: list[str] = []
        trailing: list[str] = []
        for spec in fields:
            if spec.name in body and body[spec.name] not in (None, "", [], {}):
                text, nested = self.field(spec, body[spec.name], path)
                out.append(text)
                trailing.extend(nested)
        own = self.extensions({k: v for k, v in body.items() if k not in known})
        if own:
            trailing.append(path + own)
        return "".join(out), trailing

    def extensions(self, body: Mapping[str, Json]) -> str:
        return "".join(
            sorted(part for key, value in body.items() for part in self.extension(key, value))
        )

    def field(self, spec: _Field, value: Json, path: str) -> tuple[str, list[str]]:
        if spec.repeated:
            members = value if isinstance(value, list) else [value]
            rendered = sorted(self.member(spec, member) for member in members)
            head = spec.name if spec.keyword else ""
            blocks = [spec.element + "".join(extra) for _, extra in rendered if extra]
            return head + "".join(text for text, _ in rendered), blocks
        if spec.children:
            if not isinstance(value, dict):
                raise EpcisFormatError(f"{spec.name} must be an object", field=spec.name)
            text, nested = self.structure(spec.children, value, path + spec.name)
            return spec.name + text, nested
        if spec.normalise is None:
            # ilmd holds nothing but extensions; they stay at its place in the order.
            if not isinstance(value, dict):
                raise EpcisFormatError(f"{spec.name} must be an object", field=spec.name)
            return spec.name + self.extensions(value), []
        return f"{spec.name}={spec.normalise(value)}", []

    def member(self, spec: _Field, value: Json) -> tuple[str, list[str]]:
        if not spec.children:
            assert spec.normalise is not None
            return f"{spec.element}={spec.normalise(value)}", []
        if not isinstance(value, dict):
            raise EpcisFormatError(f"each member of {spec.name} must be an object", field=spec.name)
        text, nested = self.structure(spec.children, value, "")
        return spec.element + text, nested


def namespaces_of(context: Json) -> dict[str, str]:
    """The prefix → namespace table of a JSON-LD ``@context`` (the EPCIS context's own first)."""
    table = dict(EPCIS_CONTEXT_PREFIXES)
    entries = context if isinstance(context, list) else [context]
    for entry in entries:
        if isinstance(entry, dict):
            table.update({k: v for k, v in entry.items() if isinstance(v, str)})
    return table


def pre_hash(
    event: Mapping[str, Json], namespaces: Mapping[str, str] = EPCIS_CONTEXT_PREFIXES
) -> str:
    """The canonical pre-hash string of one EPCIS 2.0 JSON-LD event (CBV 2.0 §8.9)."""
    event_type = event.get("type")
    if not isinstance(event_type, str):
        raise EpcisFormatError("an EPCIS event needs a type", field="type")
    body = {k: v for k, v in event.items() if k not in _EXCLUDED}
    if "sensorElementList" in body:
        elements = body["sensorElementList"]
        if not isinstance(elements, list):
            raise EpcisFormatError("sensorElementList must be a list", field="sensorElementList")
    text, trailing = _Writer(namespaces).structure(CANONICAL_ORDER, body, "")
    return f"eventType={event_type}{text}" + "".join(trailing)


def event_hash_id(
    event: Mapping[str, Json], namespaces: Mapping[str, str] = EPCIS_CONTEXT_PREFIXES
) -> str:
    """The CBV 2.0 hash ID ``ni:///sha-256;<hex>?ver=CBV2.0`` of one event."""
    digest = hashlib.sha256(pre_hash(event, namespaces).encode("utf-8")).hexdigest()
    return f"{HASH_PREFIX}{digest}{HASH_SUFFIX}"


def document_events(document: Mapping[str, Json]) -> list[Mapping[str, Json]]:
    """The events of an EPCIS 2.0 document or query document, in document order."""
    body = document.get("epcisBody")
    if not isinstance(body, dict):
        raise EpcisFormatError("an EPCIS document needs an epcisBody", field="epcisBody")
    if "eventList" in body:
        events = body["eventList"]
    else:
        results = body.get("queryResults")
        inner = results.get("resultsBody") if isinstance(results, dict) else None
        events = inner.get("eventList") if isinstance(inner, dict) else None
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise EpcisFormatError("epcisBody has no list of events", field="eventList")
    return list(events)


def document_hash_ids(document: Mapping[str, Json]) -> list[str]:
    """The hash ID of every event of ``document``, resolving its own ``@context`` prefixes."""
    table = namespaces_of(document.get("@context", []))
    return [event_hash_id(event, table) for event in document_events(document)]
