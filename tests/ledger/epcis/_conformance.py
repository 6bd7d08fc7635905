"""Dry-run conformance: validate an EPCIS JSON document with the official schema, then map it."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from ledger.epcis.errors import EpcisError
from ledger.epcis.hash_id import document_events, namespaces_of
from ledger.epcis.identifiers import DryRunLookup
from ledger.epcis.mapping import CaptureContext, from_epcis
from tests.ledger.epcis._vectors import SCHEMA

DRY_RUN = CaptureContext(
    org="dry-run", device_key="0" * 32, actor="sha256:" + "0" * 64, catalog_version="2026.1"
)
REASONS = {
    "epcis_no_counterpart": "no_counterpart",
    "epcis_sensor_data": "sensor",
    "epcis_unissued_identifier": "unissued",
}
"""The documented rejections (docs/epcis-mapping.md, "What is refused"); anything else is a defect."""


@cache
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA.read_text())
    return jsonschema.Draft7Validator(
        schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )


def as_document(data: dict[str, Any]) -> dict[str, Any]:
    """A single captured event (``POST /events``) wrapped as the document the schema describes."""
    if "epcisBody" in data:
        return data
    return {
        "@context": data.get("@context", []),
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2020-01-01T00:00:00Z",
        "epcisBody": {"eventList": [data]},
    }


def outcomes(path: Path) -> list[str]:
    """``["invalid"]``, ``["query"]``, or one ``maps`` / ``<reason>:<field>`` per event."""
    data = json.loads(path.read_text())
    if "epcisBody" not in data and "type" not in data:
        return ["query"]  # a query definition (query-schema.json), no events to map
    document = as_document(data)
    if not validator().is_valid(document):
        return ["invalid"]
    namespaces = namespaces_of(document.get("@context", []))
    found = []
    for event in document_events(document):
        try:
            from_epcis(event, DryRunLookup(), DRY_RUN, namespaces)
        except EpcisError as exc:
            reason = REASONS.get(exc.code, f"DEFECT {exc.code}")
            found.append(f"{reason}:{exc.context.get('field')}")
        else:
            found.append("maps")
    return found
