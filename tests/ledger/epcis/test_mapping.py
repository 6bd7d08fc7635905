"""Foreign EPCIS events into native bodies: each refusal names its field, and its near miss maps."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ledger.epcis.errors import (
    EpcisFormatError,
    EpcisNoCounterpartError,
    EpcisSensorDataError,
    UnissuedIdentifierError,
)
from ledger.epcis.hash_id import event_hash_id
from ledger.epcis.identifiers import DryRunLookup
from ledger.epcis.mapping import CaptureContext, from_epcis, to_epcis, utc_time
from ledger.events import body_to_json, parse_body
from tests.ledger.test_events import body

CONTEXT = CaptureContext(
    org="acme-chem", device_key="ab" * 16, actor="sha256:" + "c3" * 32, catalog_version="2026.1"
)
NS = {
    "example": "https://ns.example.com/epcis/",
    "chemtrace": "https://ns.chemtrace.example/epcis/",
}
SGTIN = "urn:epc:id:sgtin:6901234.012345.A1"


def _event(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": "2026-03-01T10:00:00+08:00",
        "eventTimeZoneOffset": "+08:00",
        "epcList": [SGTIN],
        "action": "OBSERVE",
        "bizStep": "receiving",
        "disposition": "in_progress",
        "chemtrace:data": {"ship": "sha256:" + "b2" * 32},
    }
    event.update(changes)
    return {k: v for k, v in event.items() if v is not None}


def _map(event: dict[str, Any], lookup: Any = None) -> dict[str, Any]:
    return body_to_json(from_epcis(event, lookup or DryRunLookup(), CONTEXT, NS))


def _refusal(error: type[Exception], event: dict[str, Any], lookup: Any = None) -> Any:
    with pytest.raises(error) as raised:
        from_epcis(event, lookup or DryRunLookup(), CONTEXT, NS)
    return raised.value


def test_a_foreign_receiving_maps_to_receive() -> None:
    native = _map(_event())
    assert native["type"] == "receive"
    assert native["org"] == "acme-chem"
    assert native["items"][0]["seq"] == 1 and native["items"][0]["role"] == "subject"


def test_sensor_data_is_refused_but_an_empty_list_is_no_data() -> None:
    sensed = _event(
        sensorElementList=[{"sensorReport": [{"type": "Temperature", "value": 26, "uom": "CEL"}]}]
    )
    assert _refusal(EpcisSensorDataError, sensed).context["field"] == "sensorElementList"
    assert _map(_event(sensorElementList=[]))["type"] == "receive"


def test_an_association_has_no_counterpart() -> None:
    event = {
        "type": "AssociationEvent",
        "eventTime": "2026-03-01T10:00:00Z",
        "eventTimeZoneOffset": "+08:00",
        "parentID": "urn:epc:id:grai:6901234.00002.1",
        "childEPCs": [SGTIN],
        "action": "ADD",
    }
    assert _refusal(EpcisNoCounterpartError, event).context["field"] == "type"


def test_a_foreign_extension_is_refused_by_name() -> None:
    refused = _refusal(EpcisNoCounterpartError, _event(**{"example:grade": "A"}))
    assert refused.context["field"] == "example:grade"
    assert refused.code == "epcis_no_counterpart"


def test_an_unknown_chemtrace_extension_is_a_typo_not_a_fact() -> None:
    assert (
        _refusal(EpcisFormatError, _event(**{"chemtrace:dat": {}})).context["field"]
        == "chemtrace:dat"
    )


def test_an_identifier_no_registry_issues_is_unissued() -> None:
    refused = _refusal(
        UnissuedIdentifierError, _event(epcList=["urn:uuid:0b8f0b1e-0000-4000-8000-000000000001"])
    )
    assert refused.context["field"] == "epcList[0]"
    assert _map(_event(epcList=["https://id.gs1.org/01/06901234123456/21/A1"]))["type"] == "receive"


class _Registry(DryRunLookup):
    """The registry issued exactly these GS1 keys (canonical Digital Link -> trace code)."""

    def __init__(self, issued: dict[str, str]) -> None:
        self.issued = issued

    def item(self, epc: str) -> str | None:
        return self.issued.get(epc)


def test_a_gs1_key_resolves_through_the_registry_in_either_spelling() -> None:
    registry = _Registry({"https://id.gs1.org/01/06901234123456/21/A1": "CT-7K3MQ-9XA2B-4FHCN"})
    assert _map(_event(), registry)["items"][0]["code"] == "CT-7K3MQ-9XA2B-4FHCN"
    link = _event(epcList=["https://resolver.example.cn/01/06901234123456/21/A1?17=270101"])
    assert _map(link, registry)["items"][0]["code"] == "CT-7K3MQ-9XA2B-4FHCN"
    other = _event(epcList=["urn:epc:id:sgtin:6901234.012345.A2"])
    assert _refusal(UnissuedIdentifierError, other, registry).context["field"] == "epcList[0]"


def test_a_commissioning_without_its_chemical_lacks_a_fact() -> None:
    event = _event(
        action="ADD", bizStep="commissioning", disposition="active", ilmd={"cbvmda:lotNumber": "L1"}
    )
    event.pop("chemtrace:data")
    refused = _refusal(EpcisNoCounterpartError, event)
    assert refused.context["field"] == "chemtrace:data.chemical"
    event["chemtrace:data"] = {
        "chemical": "2.3",
        "quantity": {"value": "25", "unit": "kg"},
        "packaging": "drum",
    }
    native = _map(event)
    assert native["type"] == "commission" and native["data"]["lot"] == "L1"
    assert native["items"][0]["seq"] == 0


def _ship(**changes: Any) -> dict[str, Any]:
    return _event(
        bizStep="shipping",
        disposition="in_transit",
        destinationList=[
            {"type": "possessing_party", "destination": "urn:epc:id:pgln:6901234.00000"},
            {"type": "location", "destination": "urn:epc:id:sgln:6901234.00001.0"},
        ],
        **{"chemtrace:data": {"carrier": "carrier-co"}},
        **changes,
    )


def test_a_waybill_is_a_bill_of_lading_and_a_purchase_order_has_no_place_on_a_shipment() -> None:
    bol = _ship(
        bizTransactionList=[{"type": "bol", "bizTransaction": "urn:chemtrace:bol:WB-2026-1"}]
    )
    assert _map(bol)["data"]["waybill_no"] == "WB-2026-1"
    po = _ship(bizTransactionList=[{"type": "po", "bizTransaction": "http://erp.example.cn/po/1"}])
    assert _refusal(EpcisNoCounterpartError, po).context["field"] == "bizTransactionList[0]"


def test_a_shipment_leaves_from_the_signer_only() -> None:
    own = _ship(sourceList=[{"type": "possessing_party", "source": "urn:chemtrace:org:acme-chem"}])
    assert _map(own)["data"]["consignee"].startswith("org-")
    other = _ship(
        sourceList=[{"type": "possessing_party", "source": "urn:chemtrace:org:someone-else"}]
    )
    assert _refusal(EpcisNoCounterpartError, other).context["field"] == "sourceList[0].source"


def test_a_disposition_the_step_does_not_take_is_refused() -> None:
    assert (
        _refusal(EpcisNoCounterpartError, _event(disposition="in_transit")).context["field"]
        == "disposition"
    )
    assert _map(_event(disposition="urn:epcglobal:cbv:disp:in_progress"))["type"] == "receive"


@pytest.mark.parametrize(
    ("disposition", "outcome"),
    [("conformant", "pass"), ("non_conformant", "fail"), (None, "observation")],
)
def test_an_inspection_outcome_is_its_disposition(disposition: str | None, outcome: str) -> None:
    event = _event(
        bizStep="inspecting",
        disposition=disposition,
        **{"chemtrace:data": {"inspector": "sha256:" + "d4" * 32}},
    )
    assert _map(event)["data"]["outcome"] == outcome


@pytest.mark.parametrize(
    ("written", "utc"),
    [
        (
            "2026-03-01T00:00:00+08:00",
            "2026-02-28T16:00:00Z",
        ),  # Beijing midnight: the UTC day before
        ("2026-03-01T07:59:59.999+08:00", "2026-02-28T23:59:59.999Z"),
        ("2026-03-01T08:00:00+08:00", "2026-03-01T00:00:00Z"),
        ("2026-03-01T08:00:00.123456Z", "2026-03-01T08:00:00.123456Z"),
    ],
)
def test_event_time_becomes_utc(written: str, utc: str) -> None:
    assert utc_time(written, "eventTime") == utc


def test_a_time_without_offset_is_refused() -> None:
    with pytest.raises(EpcisFormatError):
        utc_time("2026-03-01T08:00:00", "eventTime")


def _decant(quantities: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "TransformationEvent",
        "eventTime": "2026-03-01T10:00:00Z",
        "eventTimeZoneOffset": "+08:00",
        "inputEPCList": ["urn:chemtrace:code:DRUM-0001"],
        "outputEPCList": ["urn:chemtrace:code:DRUM-0002"],
        "inputQuantityList": [q for q in quantities if "0001" in q["epcClass"]],
        "outputQuantityList": [q for q in quantities if "0001" not in q["epcClass"]],
        "bizStep": "urn:chemtrace:bizstep:decanting",
    }


@pytest.mark.parametrize(
    ("uom", "unit"), [("KGM", "kg"), ("LTR", "L"), ("MTQ", "m3"), ("GRM", "g"), (None, "piece")]
)
def test_un_cefact_units_map_to_native_units(uom: str | None, unit: str) -> None:
    quantity = {"epcClass": "urn:chemtrace:contents:DRUM-0001", "quantity": 25.5}
    if uom:
        quantity["uom"] = uom
    out = {"epcClass": "urn:chemtrace:contents:DRUM-0002", "quantity": 25.5, "uom": "KGM"}
    native = _map(_decant([quantity, out]))
    assert native["data"]["inputs"] == [
        {"code": "DRUM-0001", "quantity": {"value": "25.5", "unit": unit}}
    ]


def test_a_unit_chemtrace_does_not_weigh_in_is_refused_by_field() -> None:
    quantities = [
        {"epcClass": "urn:chemtrace:contents:DRUM-0001", "quantity": 25, "uom": "LBR"},
        {"epcClass": "urn:chemtrace:contents:DRUM-0002", "quantity": 25, "uom": "KGM"},
    ]
    assert (
        _refusal(EpcisNoCounterpartError, _decant(quantities)).context["field"]
        == "inputQuantityList[0].uom"
    )


def test_every_container_of_a_transform_needs_its_quantity() -> None:
    only_output = [{"epcClass": "urn:chemtrace:contents:DRUM-0002", "quantity": 25, "uom": "KGM"}]
    assert (
        _refusal(EpcisNoCounterpartError, _decant(only_output)).context["field"]
        == "inputQuantityList"
    )
    lgtin = [
        {"epcClass": "urn:epc:class:lgtin:6901234.012345.0001", "quantity": 25, "uom": "KGM"},
        {"epcClass": "urn:chemtrace:contents:DRUM-0002", "quantity": 25, "uom": "KGM"},
    ]
    refused = _refusal(EpcisNoCounterpartError, _decant(lgtin))
    assert refused.context["field"] == "inputQuantityList[0].epcClass"


def test_a_class_level_object_event_has_no_container() -> None:
    counted = _event(
        quantityList=[
            {"epcClass": "urn:epc:class:lgtin:6901234.012345.L1", "quantity": 200, "uom": "KGM"}
        ]
    )
    assert _refusal(EpcisNoCounterpartError, counted).context["field"] == "quantityList"


def test_a_read_point_other_than_the_site_is_refused() -> None:
    here = {"id": "urn:epc:id:sgln:6901234.00001.0"}
    assert _map(_event(readPoint=here, bizLocation=here))["site"].startswith("site-")
    elsewhere = _event(readPoint={"id": "urn:epc:id:sgln:6901234.00002.0"}, bizLocation=here)
    assert _refusal(EpcisNoCounterpartError, elsewhere).context["field"] == "readPoint.id"


def test_a_foreign_event_needs_a_capture_context() -> None:
    with pytest.raises(EpcisNoCounterpartError) as raised:
        from_epcis(_event(), DryRunLookup(), None, NS)
    assert raised.value.context["field"] == "chemtrace:envelope"


def test_a_foreign_error_declaration_is_an_appended_correction_of_the_declared_event() -> None:
    original = _event()
    declared = copy.deepcopy(original)
    declared["errorDeclaration"] = {
        "declarationTime": "2026-03-02T09:00:00+08:00",
        "reason": "incorrect_data",
    }
    seen: dict[str, str] = {}

    class Ledger(DryRunLookup):
        def ledger_event(self, hash_id: str) -> str | None:
            seen["hash_id"] = hash_id
            return "sha256:" + "e5" * 32

    native = _map(declared, Ledger())
    assert native["type"] == "correct"
    assert native["data"]["corrects"] == "sha256:" + "e5" * 32
    assert native["time"] == "2026-03-02T01:00:00Z"
    assert seen["hash_id"] == event_hash_id(original, NS)  # the declared event's own hash ID


def test_a_declaration_of_an_event_never_captured_is_refused() -> None:
    class Empty(DryRunLookup):
        def ledger_event(self, hash_id: str) -> str | None:
            return None

    declared = _event(
        errorDeclaration={"declarationTime": "2026-03-02T01:00:00Z", "reason": "did_not_occur"}
    )
    assert (
        _refusal(UnissuedIdentifierError, declared, Empty()).context["field"] == "errorDeclaration"
    )


def test_a_correct_is_written_only_as_a_declaration_on_the_corrected_event() -> None:
    correct = parse_body(body("correct"))
    with pytest.raises(ValueError, match="errorDeclaration"):
        to_epcis(correct)
    declared = to_epcis(correct, corrected=to_epcis(parse_body(body("ship"))))
    assert (
        declared["bizStep"] == "shipping"
        and declared["errorDeclaration"]["reason"] == "incorrect_data"
    )


def test_a_decant_exports_quantity_lists_in_un_cefact_units() -> None:
    event = to_epcis(parse_body(body("transform")))
    assert event["type"] == "TransformationEvent"
    assert event["inputQuantityList"] == [
        {"epcClass": "urn:chemtrace:contents:DRUM-0001", "quantity": 25, "uom": "KGM"}
    ]
    assert event["bizStep"] == "urn:chemtrace:bizstep:decanting"


def _waypoint(**changes: Any) -> dict[str, Any]:
    return _event(bizStep="transporting", disposition="in_transit", **changes)


def test_a_position_is_a_latitude_and_longitude_only() -> None:
    assert _map(_waypoint(readPoint={"id": "geo:39.9042,116.4074"}))["geo"] == {
        "lat": "39.9042",
        "lon": "116.4074",
    }
    for uri in ("geo:39.9042,116.4074;u=30", "geo:39.9042,116.4074,45"):
        refused = _refusal(EpcisNoCounterpartError, _waypoint(readPoint={"id": uri}))
        assert refused.context["field"] == "readPoint.id"


def test_a_transporting_event_needs_its_position() -> None:
    refused = _refusal(EpcisNoCounterpartError, _waypoint())
    assert refused.context["field"] == "readPoint"
