"""Conformance in dry run: every official gs1/EPCIS JSON-LD example and every OpenEPCIS JSON test
document is validated against the official JSON Schema and mapped.

Their EPCs are not codes this registry issued, so a :class:`DryRunLookup` stands in for the
registry. Each event maps, or is refused for a reason on the documented short list
(``docs/epcis-mapping.md``): ``no_counterpart`` (chemtrace has no place for what the event
says, or the event lacks a fact chemtrace needs), ``sensor`` (sensor data is refused),
``unissued`` (an identifier the registry never issued). A document the schema rejects is
``invalid``; a query definition (no events) is ``query``. Any other outcome is a defect.

Counts at the time of writing: 119 documents (47 gs1/EPCIS, 72 OpenEPCIS); 22 invalid (all 17
``Invalid/`` documents, and 5 that the official schema at gs1/EPCIS 2b888bef rejects though
OpenEPCIS files them as valid: measurement types and a persistentDisposition form the schema
predates); 3 query definitions; 127 events: 2 map, 70 no counterpart, 55 sensor data.
"""

from __future__ import annotations

import collections
from pathlib import Path

import pytest

from ledger.epcis.hash_id import namespaces_of
from ledger.epcis.identifiers import DryRunLookup
from ledger.epcis.mapping import epcis_document, from_epcis, to_epcis
from ledger.events import body_to_json, parse_body
from tests.conftest import require_shared
from tests.ledger.epcis._conformance import outcomes, validator
from tests.ledger.epcis._vectors import EPCIS_EXAMPLES
from tests.ledger.test_events import ALL_TYPES, body

pytestmark = pytest.mark.conformance

EXPECTED: dict[str, list[str]] = {
    "gs1-EPCIS/JSON/AssociationEvent/AssociationEvent-a.jsonld": ["no_counterpart:type"],
    "gs1-EPCIS/JSON/AssociationEvent/AssociationEvent-b.jsonld": ["no_counterpart:type"],
    "gs1-EPCIS/JSON/AssociationEvent/AssociationEvent-c.jsonld": ["no_counterpart:type"],
    "gs1-EPCIS/JSON/AssociationEvent/AssociationEvent-d.jsonld": ["no_counterpart:type"],
    "gs1-EPCIS/JSON/AssociationEvent/AssociationEvent-e.jsonld": ["no_counterpart:type"],
    "gs1-EPCIS/JSON/AssociationEvent/AssociationEvent-f.jsonld": ["sensor:sensorElementList"],
    "gs1-EPCIS/JSON/AssociationEvent/AssociationEvent-g.jsonld": ["no_counterpart:type"],
    "gs1-EPCIS/JSON/AssociationEvent/AssociationEvent-h.jsonld": ["no_counterpart:type"],
    "gs1-EPCIS/JSON/EPCISQueryDocument.jsonld": [
        "no_counterpart:bizTransactionList[0]",
        "no_counterpart:example:myField",
    ],
    "gs1-EPCIS/JSON/Example-TransactionEvents-2020_07_03y.jsonld": [
        "no_counterpart:type",
        "no_counterpart:type",
    ],
    "gs1-EPCIS/JSON/Example-Type-sourceOrDestination,measurement,bizTransaction.jsonld": [
        "sensor:sensorElementList"
    ],
    "gs1-EPCIS/JSON/Example_9.6.1-ObjectEvent-with-pseudo-SBDH-headers.jsonld": [
        "no_counterpart:bizTransactionList[0]",
        "no_counterpart:example:myField",
    ],
    "gs1-EPCIS/JSON/Example_9.6.1-ObjectEvent.jsonld": [
        "no_counterpart:bizTransactionList[0]",
        "no_counterpart:example:myField",
    ],
    "gs1-EPCIS/JSON/Example_9.6.1-with-comment.jsonld": [
        "no_counterpart:rdfs:comment",
        "no_counterpart:example:myField",
    ],
    "gs1-EPCIS/JSON/Example_9.6.2-ObjectEvent.jsonld": ["no_counterpart:quantityList"],
    "gs1-EPCIS/JSON/Example_9.6.3-AggregationEvent.jsonld": ["no_counterpart:childQuantityList"],
    "gs1-EPCIS/JSON/Example_9.6.4-TransformationEvent.jsonld": ["no_counterpart:example:myField"],
    "gs1-EPCIS/JSON/PersistentDisposition-example.jsonld": [
        "no_counterpart:persistentDisposition",
        "no_counterpart:persistentDisposition",
    ],
    "gs1-EPCIS/JSON/WithDigitalLinkID/Example_9.6.1-ObjectEventWithDigitalLink.jsonld": [
        "no_counterpart:bizTransactionList[0]",
        "no_counterpart:example:myField",
    ],
    "gs1-EPCIS/JSON/WithDigitalLinkID/Example_9.6.2-ObjectEventWithDigitalLink.jsonld": [
        "no_counterpart:quantityList"
    ],
    "gs1-EPCIS/JSON/WithDigitalLinkID/Example_9.6.3-AggregationEventWithDigitalLink.jsonld": [
        "no_counterpart:childQuantityList"
    ],
    "gs1-EPCIS/JSON/WithDigitalLinkID/Example_9.6.4-TransformationEventWithDigitalLink.jsonld": [
        "no_counterpart:example:myField"
    ],
    "gs1-EPCIS/JSON/WithErrorDeclaration/ErrorDeclarationAndCorrectiveEvent.jsonld": [
        "no_counterpart:errorDeclaration.example:vendorExtension",
        "no_counterpart:bizStep",
    ],
    "gs1-EPCIS/JSON/WithErrorDeclaration/Example_9.6.1-ObjectEvent-with-error-declaration.jsonld": [
        "maps",
        "no_counterpart:example:myField",
    ],
    "gs1-EPCIS/JSON/WithFullCombinationOfFields/aggregation_event_all_possible_fields.jsonld": [
        "sensor:sensorElementList"
    ],
    "gs1-EPCIS/JSON/WithFullCombinationOfFields/association_event_all_possible_fields.jsonld": [
        "sensor:sensorElementList"
    ],
    "gs1-EPCIS/JSON/WithFullCombinationOfFields/object_event_all_possible_fields.jsonld": [
        "sensor:sensorElementList"
    ],
    "gs1-EPCIS/JSON/WithFullCombinationOfFields/transaction_event_all_possible_fields.jsonld": [
        "sensor:sensorElementList"
    ],
    "gs1-EPCIS/JSON/WithFullCombinationOfFields/transformation_event_all_possible_fields.jsonld": [
        "sensor:sensorElementList"
    ],
    "gs1-EPCIS/JSON/WithSensorData/SensorDataExample1.jsonld": ["sensor:sensorElementList"],
    "gs1-EPCIS/JSON/WithSensorData/SensorDataExample10.jsonld": ["sensor:sensorElementList"],
    "gs1-EPCIS/JSON/WithSensorData/SensorDataExample11.jsonld": ["sensor:sensorElementList"],
    "gs1-EPCIS/JSON/WithSensorData/SensorDataExample12.jsonld": ["sensor:sensorElementList"],
    "gs1-EPCIS/JSON/WithSensorData/SensorDataExample13.jsonld": ["sensor:sensorElementList"],
    "gs1-EPCIS/JSON/WithSensorData/SensorDataExample14.jsonld": ["sensor:sensorElementList"],
    "gs1-EPCIS/JSON/WithSensorData/SensorDataExample15.jsonld": ["sensor:sensorElementList"],
    "gs1-EPCIS/JSON/WithSensorData/SensorDataExample16.jsonld": ["no_counterpart:bizStep"],
    "gs1-EPCIS/JSON/WithSensorData/SensorDataExample17.jsonld": ["sensor:sensorElementList"],
    "gs1-EPCIS/JSON/WithSensorData/SensorDataExample1b.jsonld": ["sensor:sensorElementList"],
    "gs1-EPCIS/JSON/WithSensorData/SensorDataExample2.jsonld": ["sensor:sensorElementList"],
    "gs1-EPCIS/JSON/WithSensorData/SensorDataExample3.jsonld": ["sensor:sensorElementList"],
    "gs1-EPCIS/JSON/WithSensorData/SensorDataExample4.jsonld": ["sensor:sensorElementList"],
    "gs1-EPCIS/JSON/WithSensorData/SensorDataExample5.jsonld": ["sensor:sensorElementList"],
    "gs1-EPCIS/JSON/WithSensorData/SensorDataExample6.jsonld": ["sensor:sensorElementList"],
    "gs1-EPCIS/JSON/WithSensorData/SensorDataExample7.jsonld": ["sensor:sensorElementList"],
    "gs1-EPCIS/JSON/WithSensorData/SensorDataExample8.jsonld": ["sensor:sensorElementList"],
    "gs1-EPCIS/JSON/WithSensorData/SensorDataExample9.jsonld": ["sensor:sensorElementList"],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Documents/AggregationEvent.json": [
        "no_counterpart:childQuantityList"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Documents/AggregationEvent_all_possible_fields.json": [
        "sensor:sensorElementList"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Documents/AggregationEvent_with_digitalLink.json": [
        "no_counterpart:childQuantityList"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Documents/AggregationEvent_with_persistentDisposition.json": [
        "invalid"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Documents/AggregationEvent_with_sensorData.json": [
        "sensor:sensorElementList"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Documents/AggregationEvent_with_userExtensions.json": [
        "no_counterpart:childQuantityList"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Documents/AssociationEvent.json": [
        "no_counterpart:type",
        "sensor:sensorElementList",
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Documents/AssociationEvent_2.json": [
        "sensor:sensorElementList"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Documents/AssociationEvent_all_possible_fields.json": [
        "sensor:sensorElementList"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Documents/AssociationEvent_with_sensorData.json": [
        "sensor:sensorElementList"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Documents/AssociationEvent_with_userExtensions.json": [
        "no_counterpart:type"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Documents/Combination_of_different_event.json": [
        "sensor:sensorElementList",
        "no_counterpart:disposition",
        "no_counterpart:type",
        "no_counterpart:persistentDisposition",
        "no_counterpart:type",
        "sensor:sensorElementList",
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Documents/CurieString_document.json": [
        "sensor:sensorElementList"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Documents/JumbledFieldsOrder.json": [
        "sensor:sensorElementList"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Documents/Namespaces_at_different_level.json": [
        "sensor:sensorElementList",
        "sensor:sensorElementList",
        "sensor:sensorElementList",
        "sensor:sensorElementList",
        "sensor:sensorElementList",
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Documents/ObjectEvent.json": [
        "no_counterpart:bizTransactionList[0]",
        "no_counterpart:example:myField",
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Documents/ObjectEvent_all_possible_fields.json": [
        "sensor:sensorElementList"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Documents/ObjectEvent_with_comment.json": [
        "no_counterpart:rdfs:comment",
        "no_counterpart:example:myField",
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Documents/ObjectEvent_with_custom_bizStep_uri.json": [
        "no_counterpart:bizStep"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Documents/ObjectEvent_with_digitalLink.json": [
        "no_counterpart:quantityList"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Documents/ObjectEvent_with_error_declaration.json": [
        "maps",
        "no_counterpart:example:myField",
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Documents/ObjectEvent_with_persistentDisposition.json": [
        "no_counterpart:persistentDisposition",
        "no_counterpart:persistentDisposition",
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Documents/ObjectEvent_with_sensorData.json": [
        "sensor:sensorElementList"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Documents/ObjectEvent_with_userExtensions.json": [
        "no_counterpart:example:userElement",
        "no_counterpart:quantityList",
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Documents/SensorData_and_extension.json": [
        "sensor:sensorElementList"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Documents/SensorData_with_combined_events.json": [
        "invalid"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Documents/TransactionEvent.json": [
        "no_counterpart:type",
        "no_counterpart:type",
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Documents/TransactionEvent_all_possible_fields.json": [
        "sensor:sensorElementList"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Documents/TransactionEvent_with_sensorData.json": [
        "sensor:sensorElementList"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Documents/TransactionEvent_with_userExtensions.json": [
        "invalid"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Documents/TransformationEvent.json": [
        "no_counterpart:example:myField"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Documents/TransformationEvent_all_possible_fields.json": [
        "sensor:sensorElementList"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Documents/TransformationEvent_with_digitalLink.json": [
        "no_counterpart:example:myField"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Documents/TransformationEvent_with_error_declaration.json": [
        "no_counterpart:errorDeclaration.example:vendorExtension",
        "no_counterpart:bizStep",
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Documents/TransformationEvent_with_sensorData.json": [
        "sensor:sensorElementList"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Documents/TransformationEvent_with_userExtensions.json": [
        "sensor:sensorElementList"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Documents/epcisDocWithAllGS1Keys.json": [
        "no_counterpart:quantityList"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Documents/epcisDocWithSensorComponent.json": [
        "sensor:sensorElementList"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Events/AggregationEvent.json": [
        "no_counterpart:bizStep"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Events/AssociationEvent.json": [
        "sensor:sensorElementList"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Events/ObjectEvent.json": [
        "no_counterpart:example:myField"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Events/TransactionEvent.json": [
        "no_counterpart:type"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Events/TransformationEvent.json": [
        "no_counterpart:errorDeclaration.example:vendorExtension"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Invalid/Combination_of_events_with_missing_mandatory_fields.json": [
        "invalid"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Invalid/Combination_of_multiple_invalid_fields.json": [
        "invalid"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Invalid/Combination_of_non_standard_bizStep_and_disposition.json": [
        "invalid"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Invalid/EPCISDocument_without_context.json": [
        "invalid"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Invalid/ObjectEvent_with_ilmd_field_without_namespace.json": [
        "invalid"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Invalid/ObjectEvent_with_invalid_action.json": [
        "invalid"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Invalid/ObjectEvent_with_invalid_certificationInfo.json": [
        "invalid"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Invalid/ObjectEvent_with_invalid_eventTime_format.json": [
        "invalid"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Invalid/ObjectEvent_with_non_standard_bizStep.json": [
        "invalid"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Invalid/ObjectEvent_with_non_standard_bizStep_in_second_event.json": [
        "invalid"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Invalid/ObjectEvent_with_non_standard_disposition.json": [
        "invalid"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Invalid/ObjectEvent_with_quantity_as_text.json": [
        "invalid"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Invalid/ObjectEvent_with_unknown_field_in_quantityList.json": [
        "invalid"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Invalid/ObjectEvent_without_action_and_eventTime.json": [
        "invalid"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Capture/Invalid/ObjectEvent_without_identifier_list.json": [
        "invalid"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Query/Combination_of_different_event.json": [
        "sensor:sensorElementList",
        "no_counterpart:disposition",
        "no_counterpart:type",
        "no_counterpart:persistentDisposition",
        "no_counterpart:type",
        "sensor:sensorElementList",
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Query/CurieString_document.json": [
        "sensor:sensorElementList"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Query/Invalid/QueryDocument_with_invalid_action.json": [
        "invalid"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Query/Invalid/QueryDocument_with_invalid_eventType.json": [
        "invalid"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Query/JumbledFieldsOrder.json": [
        "sensor:sensorElementList"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Query/ObjectEventWithAllPossibleFields.json": [
        "sensor:sensorElementList"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Query/Queries/Invalid/Query_with_invalid_values.json": [
        "query"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Query/Queries/Invalid/Query_with_unknown_parameter.json": [
        "query"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Query/Queries/SimpleEventQuery.json": ["query"],
    "openepcis-test-resources/2.0/EPCIS/JSON/Query/QueryDocumentWithMultipleEvents.json": [
        "no_counterpart:bizTransactionList[0]",
        "no_counterpart:example:myField",
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Query/SensorData_with_combined_events.json": [
        "invalid"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Query/TransactionEvent_with_userExtensions.json": [
        "invalid"
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Query/TransformationEvent_with_error_declaration.json": [
        "no_counterpart:errorDeclaration.example:vendorExtension",
        "no_counterpart:bizStep",
    ],
    "openepcis-test-resources/2.0/EPCIS/JSON/Query/queryDocument.json": [
        "sensor:sensorElementList"
    ],
}


def _documents() -> list[Path]:
    if not EPCIS_EXAMPLES.is_dir():
        return []
    gs1 = (EPCIS_EXAMPLES / "gs1-EPCIS" / "JSON").rglob("*.jsonld")
    openepcis = (EPCIS_EXAMPLES / "openepcis-test-resources" / "2.0" / "EPCIS" / "JSON").rglob(
        "*.json"
    )
    return sorted([*gs1, *openepcis])


DOCUMENTS = _documents()


def test_every_document_is_in_the_table() -> None:
    require_shared("conformance/gs1/epcis-examples")
    assert {str(p.relative_to(EPCIS_EXAMPLES)) for p in DOCUMENTS} == set(EXPECTED)


def test_the_counts() -> None:
    require_shared("conformance/gs1/epcis-examples")
    events = collections.Counter(o.split(":")[0] for found in EXPECTED.values() for o in found)
    assert len(EXPECTED) == 119
    assert events == {"maps": 2, "no_counterpart": 70, "sensor": 55, "invalid": 22, "query": 3}
    invalid_folder = [k for k in EXPECTED if "/Invalid/" in k and "/Queries/" not in k]
    assert all(EXPECTED[k] == ["invalid"] for k in invalid_folder) and len(invalid_folder) == 17


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(p.relative_to(EPCIS_EXAMPLES)))
def test_each_document_maps_or_is_refused_for_a_documented_reason(path: Path) -> None:
    assert outcomes(path) == EXPECTED[str(path.relative_to(EPCIS_EXAMPLES))]


@pytest.mark.parametrize("event_type", ALL_TYPES)
def test_an_exported_event_validates_against_the_official_schema(event_type: str) -> None:
    require_shared("conformance/gs1/epcis-examples")
    native = parse_body(body(event_type))
    corrected = to_epcis(parse_body(body("ship"))) if event_type == "correct" else None
    document = epcis_document(
        [to_epcis(native, corrected=corrected)], created="2026-01-31T08:00:00Z"
    )
    errors = [e.message for e in validator().iter_errors(document)]
    assert errors == []
    namespaces = namespaces_of(document["@context"])
    back = from_epcis(document["epcisBody"]["eventList"][0], DryRunLookup(), namespaces=namespaces)
    assert body_to_json(back) == body_to_json(native)


def test_the_schema_check_is_not_vacuous() -> None:
    require_shared("conformance/gs1/epcis-examples")
    document = epcis_document([to_epcis(parse_body(body("ship")))], created="2026-01-31T08:00:00Z")
    document["epcisBody"]["eventList"][0]["action"] = "CREATE"
    assert not validator().is_valid(document)
    document["epcisBody"]["eventList"][0]["action"] = "OBSERVE"
    document["epcisBody"]["eventList"][0]["eventTime"] = "31-01-2026"
    assert not validator().is_valid(document)  # date-time formats are checked
