"""External identifiers map to trace codes, one code per id, on both databases."""

from __future__ import annotations

import pytest

from ledger.external_ids import ExternalIdError, PatternRule
from ledger.store.external_ids import SqlExternalIds
from tests.harness import Harness


def test_link_lookup_and_reverse_lookup(ledger: Harness) -> None:
    ids = SqlExternalIds(ledger.store.engine)
    ids.link("city-uid", "BJ-110105-000123", "CT-7K3MQ-9XA2B-4FHCN")
    ids.link("city-uid", "BJ-110105-000123", "CT-7K3MQ-9XA2B-4FHCN")  # idempotent
    ids.link("erp", "SAP:4711", "CT-7K3MQ-9XA2B-4FHCN")
    assert ids.code_for("city-uid", " BJ-110105-000123 ") == "CT-7K3MQ-9XA2B-4FHCN"
    assert ids.ids_for("CT-7K3MQ-9XA2B-4FHCN") == {
        "city-uid": "BJ-110105-000123",
        "erp": "SAP:4711",
    }
    assert ids.code_for("city-uid", "BJ-unknown") is None


def test_an_id_names_one_code_and_schemes_are_pluggable(ledger: Harness) -> None:
    ids = SqlExternalIds(ledger.store.engine, {"city-uid": PatternRule(r"^[0-9]{18}$")})
    ids.link("city-uid", "110105202611210001", "CT-00000-00000-00001")
    with pytest.raises(ExternalIdError, match="another code"):
        ids.link("city-uid", "110105202611210001", "CT-00000-00000-00002")
    with pytest.raises(ExternalIdError, match="does not match"):
        ids.link("city-uid", "BJ-1", "CT-00000-00000-00002")
    with pytest.raises(ExternalIdError, match="unknown external id scheme"):
        ids.link("erp", "SAP:1", "CT-00000-00000-00002")
