"""Registry records: strict attributes, registry signatures, canonical bytes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import InvalidInputError, SignatureInvalidError
from ledger.records import issue_record, record_from_bytes
from ledger.signing import ED25519, Ed25519Signer

REGISTRY = Ed25519Signer.from_seed(b"\x01" * 32)
SITE = {"org": "acme", "name": "Main plant", "address": "1 Road", "district": "fangshan",
        "lat": "39.7", "lon": "116.0", "capacity_t": "500", "major_hazard": True}  # fmt: skip


def test_a_record_round_trips_and_verifies() -> None:
    record = issue_record(REGISTRY, "site", "acme-plant", SITE)
    assert record.attr("status") == "active"  # defaults are filled in before signing
    parsed = record_from_bytes(record.encode())
    assert parsed == record and parsed.entry_hash == record.entry_hash
    parsed.verify(ED25519, REGISTRY.public_key)


def test_an_altered_record_no_longer_verifies() -> None:
    record = issue_record(REGISTRY, "site", "acme-plant", SITE)
    forged = record_from_bytes(
        record.encode().replace(b'"major_hazard":true', b'"major_hazard":false')
    )
    with pytest.raises(SignatureInvalidError):
        forged.verify(ED25519, REGISTRY.public_key)


@pytest.mark.parametrize(
    ("kind", "attrs", "field"),
    [
        ("site", {**SITE, "major_hazard": 1}, "major_hazard"),  # no bool coercion
        ("site", {**SITE, "lat": 39.7}, "lat"),  # no floats
        ("site", {**SITE, "extra": "x"}, "extra"),
        ("org", {"name": "A", "type": "pirate", "district": "d1"}, "type"),
        ("user", {"role": "root", "name": "x"}, "role"),
        ("crew", {"org": "carrier", "role": "driver", "person": "Li Qiang", "certificate_no": "C1",
                  "valid_from": "2026-01-01T00:00:00Z", "valid_until": "2027-01-01T00:00:00Z"},
         "person"),  # plaintext never enters a record: only a commitment
    ],
)  # fmt: skip
def test_attributes_are_strict_and_the_field_is_named(kind: str, attrs: dict, field: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(InvalidInputError) as caught:
        issue_record(REGISTRY, kind, "some-id", attrs)
    assert caught.value.context["field"] == field


def test_unknown_kinds_and_bad_ids_are_refused() -> None:
    with pytest.raises(InvalidInputError):
        issue_record(REGISTRY, "spaceship", "x1", {})
    with pytest.raises(InvalidInputError):
        issue_record(REGISTRY, "site", "Has Space", SITE)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_parse_into_a_record_by_accident(data: bytes) -> None:
    try:
        record = record_from_bytes(data)
    except InvalidInputError:
        return
    assert record.encode() == data  # anything accepted is exactly canonical


def test_non_canonical_bytes_are_refused() -> None:
    encoded = issue_record(REGISTRY, "site", "acme-plant", SITE).encode()
    with pytest.raises(InvalidInputError):
        record_from_bytes(encoded.replace(b'{"record"', b'{ "record"'))
