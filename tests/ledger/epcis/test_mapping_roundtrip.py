"""Property: native → EPCIS → native is the identity, on every event type."""

from __future__ import annotations

import typing

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.epcis.hash_id import event_hash_id, namespaces_of
from ledger.epcis.identifiers import DryRunLookup
from ledger.epcis.mapping import epcis_document, from_epcis, to_epcis
from ledger.epcis.table import NAMESPACE, PREFIX
from ledger.events import EventType, body_to_json, parse_body
from tests.ledger.epcis.strategies import bodies

ALL_TYPES: list[EventType] = sorted(typing.get_args(EventType))
NAMESPACES = namespaces_of([{PREFIX: NAMESPACE}])
_SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("event_type", [t for t in ALL_TYPES if t != "correct"])
def test_native_to_epcis_to_native_is_the_identity(event_type: EventType) -> None:
    @_SETTINGS
    @given(bodies(event_type))
    def check(raw: dict[str, object]) -> None:
        body = parse_body(raw)
        event = to_epcis(body)
        back = from_epcis(event, DryRunLookup(), namespaces=NAMESPACES)
        assert body_to_json(back) == body_to_json(body)
        event_hash_id(event, NAMESPACES)  # every exported event has a CBV hash ID

    check()


@_SETTINGS
@given(
    st.sampled_from([t for t in ALL_TYPES if t != "correct"]).flatmap(bodies),
    bodies("correct"),
)
def test_a_correction_round_trips_and_keeps_the_corrected_hash_id(
    original_raw: dict[str, object], correct_raw: dict[str, object]
) -> None:
    original = to_epcis(parse_body(original_raw))
    correct = parse_body(correct_raw)
    declared = to_epcis(correct, corrected=original)
    assert "errorDeclaration" in declared and "errorDeclaration" not in original
    assert event_hash_id(declared, NAMESPACES) == event_hash_id(original, NAMESPACES)
    back = from_epcis(declared, DryRunLookup(), namespaces=NAMESPACES)
    assert body_to_json(back) == body_to_json(correct)


def test_the_table_covers_every_event_type() -> None:
    assert len(ALL_TYPES) == 21


def test_a_document_has_the_chemtrace_prefix() -> None:
    document = epcis_document([], created="2026-01-31T08:00:00Z")
    assert {PREFIX: NAMESPACE} in document["@context"]
