"""EPCIS 1.2 and 2.0 XML documents read into the EPCIS 2.0 JSON-LD event shape.

The event hash is defined on the event's content, whatever its syntax (CBV 2.0 §8.9), so
the XML binding (EPCIS 2.0 §9.3, the 1.2 schema's ``extension`` wrappers) is read into the
same dictionaries the JSON-LD binding gives: standard elements by their local name, user
extensions keyed ``{namespace}localName``, sensor attributes as properties, the 1.x
``extension``/``baseExtension`` wrappers flattened into their parent.

A document with a DTD is refused: entity declarations are the XML bomb and external-entity
vectors, and no EPCIS document needs one.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Final

from ledger.epcis.errors import EpcisFormatError

EVENT_TYPES: Final = frozenset(
    {
        "ObjectEvent",
        "AggregationEvent",
        "TransactionEvent",
        "TransformationEvent",
        "AssociationEvent",
    }
)
_WRAPPERS: Final = frozenset({"extension", "baseExtension"})
_EPC_LISTS: Final = frozenset({"epcList", "childEPCs", "inputEPCList", "outputEPCList"})
_QUANTITY_LISTS: Final = frozenset(
    {"quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList"}
)
_TYPED_LISTS: Final = {
    "bizTransactionList": "bizTransaction",
    "sourceList": "source",
    "destinationList": "destination",
}
_REPEATED_IN_EXTENSIONS: Final = frozenset({"set", "unset", "correctiveEventID"})

_METADATA_ATTRIBUTES: Final = frozenset(
    {
        "time",
        "startTime",
        "endTime",
        "deviceID",
        "deviceMetadata",
        "rawData",
        "dataProcessingMethod",
        "bizRules",
    }
)
_REPORT_ATTRIBUTES: Final = frozenset(
    {
        "type",
        "exception",
        "deviceID",
        "deviceMetadata",
        "rawData",
        "dataProcessingMethod",
        "time",
        "microorganism",
        "chemicalSubstance",
        "value",
        "component",
        "stringValue",
        "booleanValue",
        "hexBinaryValue",
        "uriValue",
        "minValue",
        "maxValue",
        "meanValue",
        "sDev",
        "percRank",
        "percValue",
        "uom",
        "coordinateReferenceSystem",
    }
)

JsonObject = dict[str, object]


def _local(tag: str) -> tuple[str | None, str]:
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return None, tag


def _text(element: ET.Element) -> str:
    return (element.text or "").strip()


def _extension_key(tag: str) -> str:
    namespace, local = _local(tag)
    return local if namespace is None else "{" + namespace + "}" + local


def _extension_value(element: ET.Element) -> object:
    children = list(element)
    attributes = _qualified_attributes(element)
    if not children and not attributes:
        return _text(element)
    if attributes and not children and _text(element):
        # JSON-LD has no form for text and attributes on one element; dropping either would
        # change the event silently.
        raise EpcisFormatError(
            f"{_extension_key(element.tag)} has both attributes and text",
            field=_extension_key(element.tag),
        )
    out: JsonObject = dict(attributes)
    for child in children:
        _add(out, _extension_key(child.tag), _extension_value(child))
    return out


def _add(target: JsonObject, key: str, value: object) -> None:
    if key in target:
        existing = target[key]
        target[key] = [*existing, value] if isinstance(existing, list) else [existing, value]
    else:
        target[key] = value


def _qualified_attributes(element: ET.Element) -> JsonObject:
    return {_extension_key(k): v for k, v in element.attrib.items() if k.startswith("{")}


def _attributes(element: ET.Element, known: frozenset[str] = frozenset({"type"})) -> JsonObject:
    """The schema's attributes of ``element`` and its namespaced extension attributes.

    An unqualified attribute the schema does not define (``bizRules`` on a sensorReport)
    is not part of the event: the schema admits only ``##other`` extension attributes,
    and the hash reference ignores such attributes too.
    """
    out: JsonObject = {k: v for k, v in element.attrib.items() if k in known}
    out.update(_qualified_attributes(element))
    return out


def _structure(element: ET.Element) -> JsonObject:
    """A standard structure (readPoint, errorDeclaration, ...): standard children by name."""
    out: JsonObject = _attributes(element)
    for child in element:
        namespace, local = _local(child.tag)
        if namespace is None and local in _WRAPPERS:
            for key, value in _structure(child).items():
                _add(out, key, value)
        elif namespace is None and local in _REPEATED_IN_EXTENSIONS:
            _add(out, local, [_text(child)])
        elif namespace is None and list(child):
            out[local] = _structure(child)
        elif namespace is None:
            out[local] = _text(child)
        else:
            _add(out, _extension_key(child.tag), _extension_value(child))
    return _merge_lists(out)


def _merge_lists(out: JsonObject) -> JsonObject:
    for key in _REPEATED_IN_EXTENSIONS:
        value = out.get(key)
        if isinstance(value, list):
            flat: list[object] = []
            for member in value:
                flat.extend(member if isinstance(member, list) else [member])
            out[key] = flat
    return out


def _event(element: ET.Element, event_type: str) -> JsonObject:
    out: JsonObject = {"type": event_type}
    for child in _flattened(element):
        namespace, local = _local(child.tag)
        if namespace is not None:
            _add(out, _extension_key(child.tag), _extension_value(child))
        elif local in _EPC_LISTS:
            out[local] = [_text(epc) for epc in child]
        elif local in _QUANTITY_LISTS:
            out[local] = [_structure(q) for q in child]
        elif local in _TYPED_LISTS:
            out[local] = [
                {
                    **({"type": m.attrib["type"]} if "type" in m.attrib else {}),
                    _TYPED_LISTS[local]: _text(m),
                }
                for m in child
            ]
        elif local == "sensorElementList":
            out[local] = [_sensor_element(s) for s in child]
        elif local == "parentID" or (not list(child) and local != "ilmd"):
            out[local] = _text(child)
        else:
            out[local] = _structure(child)
    return out


def _flattened(element: ET.Element) -> list[ET.Element]:
    children: list[ET.Element] = []
    for child in element:
        namespace, local = _local(child.tag)
        if namespace is None and local in _WRAPPERS:
            children.extend(_flattened(child))
        else:
            children.append(child)
    return children


def _sensor_element(element: ET.Element) -> JsonObject:
    out: JsonObject = {}
    reports: list[object] = []
    for child in _flattened(element):
        namespace, local = _local(child.tag)
        if namespace is None and local == "sensorMetadata":
            out["sensorMetadata"] = _attributes(child, _METADATA_ATTRIBUTES)
        elif namespace is None and local == "sensorReport":
            reports.append(_attributes(child, _REPORT_ATTRIBUTES))
        else:
            _add(out, _extension_key(child.tag), _extension_value(child))
    if reports:
        out["sensorReport"] = reports
    return out


def _events(container: ET.Element) -> list[JsonObject]:
    found: list[JsonObject] = []
    for child in container:
        namespace, local = _local(child.tag)
        if namespace is None and local in EVENT_TYPES:
            found.append(_event(child, local))
        elif namespace is None and local == "extension":
            found.extend(_events(child))
    return found


def read_xml_events(text: str) -> list[JsonObject]:
    """The events of an EPCIS XML document or query document, in document order."""
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise EpcisFormatError("an EPCIS XML document may not carry a DTD", field="document")
    try:
        # No DTD means no entity but the five predefined ones: nothing for defusedxml to defuse.
        root = ET.fromstring(text)  # noqa: S314
    except ET.ParseError as exc:
        raise EpcisFormatError(f"not well-formed XML: {exc}", field="document") from exc
    for node in root.iter():
        if _local(node.tag) == (None, "EventList"):
            return _events(node)
    raise EpcisFormatError("no EventList in the XML document", field="EventList")
