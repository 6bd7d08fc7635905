"""The search index (ledger.search): items by lot, waybill, vehicle and device, as typed."""

from __future__ import annotations

from ledger.builder import DeviceSession
from ledger.commitments import disclose
from ledger.envelope import open_envelope
from ledger.search import SearchIndex, term
from ledger.signing import Ed25519Signer


def _device(org: str) -> DeviceSession:
    return DeviceSession(signer=Ed25519Signer.generate(), org=org, heads={},
                         actor=disclose("person", org).commitment,
                         catalog_version="2026-draft.1")  # fmt: skip


def test_terms_ignore_case_width_spaces_and_dashes() -> None:
    assert term("京A·12345") == term("京a 12345") == term("京Ａ-12345") == "京a12345"
    assert term("EW-2026-0001") == term("ew20260001")


def test_items_are_found_by_lot_waybill_vehicle_and_device() -> None:
    producer, other = _device("p-chem"), _device("u-lab")
    events = [
        producer.event("commission", [code], {"chemical": "1", "lot": lot, "packaging": "drum",
                       "quantity": {"value": "1", "unit": "kg"}},
                       time=f"2026-10-01T08:00:0{n}Z", site="site-s")
        for n, (code, lot) in enumerate([("ITEM-A", "L-1"), ("ITEM-B", "L-1"), ("ITEM-C", "L-2")])
    ]  # fmt: skip
    events.append(other.event("commission", ["ITEM-D"], {"chemical": "1", "lot": "L-9",
                              "packaging": "drum", "quantity": {"value": "1", "unit": "kg"}},
                              time="2026-10-01T08:01:00Z", site="site-t"))  # fmt: skip
    events.append(
        producer.event(
            "ship",
            ["ITEM-A", "ITEM-C"],
            {
                "carrier": "c-move",
                "consignee": "u-lab",
                "consignee_site": "site-t",
                "waybill_no": "EW-1",
                "vehicle": "c-van",
            },
            time="2026-10-01T09:00:00Z",
            site="site-s",
        )
    )
    index = SearchIndex()
    index.add_all((s.body, s.key_id) for s in map(open_envelope, events))
    assert index.codes("lot", ["l1"]) == {"ITEM-A", "ITEM-B"}
    assert index.codes("lot", ["L-2", "L-9"]) == {"ITEM-C", "ITEM-D"}
    assert index.codes("waybill", ["ew 1"]) == {"ITEM-A", "ITEM-C"}
    assert index.codes("vehicle", ["C-VAN"]) == {"ITEM-A", "ITEM-C"}
    assert index.codes("device", [producer.signer.key_id]) == {"ITEM-A", "ITEM-B", "ITEM-C"}
    assert index.codes("device", [other.signer.key_id]) == {"ITEM-D"}
    assert index.codes("lot", ["EW-1"]) == frozenset()  # kinds do not mix
