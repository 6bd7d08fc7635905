"""Item and site bundles built by the SQL builder verify cleanly, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, update

from ledger.append import Accepted
from ledger.builder import DeviceSession
from ledger.bundle import BundleReport, VerifierState, verify_bundle
from ledger.canonical import JsonValue
from ledger.errors import InvalidInputError, StorageError
from ledger.note import NoteVerifier
from ledger.signing import ED25519
from ledger.store import bundles
from ledger.store import schema as t
from ledger.store.bundles import BundleUnavailableError, items_at_site
from tests.harness import ORIGIN, Harness

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


def build_item_bundle(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """The builder's output after a round trip through JSON text, as a file would hold it."""
    document: dict[str, Any] = json.loads(json.dumps(bundles.build_item_bundle(*args, **kwargs)))
    return document


def build_site_bundle(*args: Any, **kwargs: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(json.dumps(bundles.build_site_bundle(*args, **kwargs)))
    return document


def verify(
    ledger: Harness, bundle: dict[str, Any], state: VerifierState | None = None
) -> BundleReport:
    return verify_bundle(
        bundle,
        root_algorithm=ED25519,
        root_public_key=ledger.root.public_key,
        log_verifier=NoteVerifier.for_key(ORIGIN, ledger.log.public_key),
        state=state,
        now=NOW,
    )


def assert_clean(report: BundleReport) -> None:
    assert report.verified, [fault.message for fault in report.faults]
    assert set(report.warning_codes()) <= {"label_not_present"}, report.warnings


def submit(ledger: Harness, envelopes: list[dict[str, JsonValue]]) -> None:
    outcomes = ledger.submit(envelopes)
    assert all(isinstance(outcome, Accepted) for outcome in outcomes), outcomes


def size_of(bundle: dict[str, Any]) -> int:
    return int(bundle["checkpoint"].split("\n")[1])


def event(
    ledger: Harness,
    device: DeviceSession,
    kind: str,
    items: list[str | tuple[str, str]],
    data: dict[str, JsonValue],
    site: str = "site-a",
) -> dict[str, JsonValue]:
    return device.event(kind, items, data, time=ledger.time(), site=site)


def decant(
    ledger: Harness, device: DeviceSession, drum: str, bottles: list[str]
) -> dict[str, JsonValue]:
    return event(
        ledger,
        device,
        "transform",
        [(drum, "input"), *[(bottle, "output") for bottle in bottles]],
        {
            "kind": "decant",
            "inputs": [{"code": drum, "quantity": {"value": "15", "unit": "kg"}}],
            "outputs": [
                {"code": bottle, "quantity": {"value": "5", "unit": "kg"}} for bottle in bottles
            ],
        },
    )


def ship(ledger: Harness, device: DeviceSession, code: str) -> dict[str, JsonValue]:
    data: dict[str, JsonValue] = {
        "carrier": "org-a",
        "consignee": "org-b",
        "consignee_site": "site-b",
    }
    return event(ledger, device, "ship", [code], data)


def test_an_item_bundle_verifies_and_the_ledger_stays_intact(ledger: Harness) -> None:
    device = ledger.device("org-a")
    submit(ledger, [ledger.commission(device, "ITEM-A"), ledger.use(device, "ITEM-A")])
    ledger.checkpoint()
    bundle = build_item_bundle(ledger.store, "ITEM-A", log_signer=ledger.log, now=NOW)
    report = verify(ledger, bundle)
    assert_clean(report)
    assert report.warning_codes() == ["label_not_present"]
    assert bundle["created_at"] == "2026-11-21T09:00:00Z"
    assert [len(item["chain"]) for item in bundle["items"]] == [2]
    assert ledger.audit().intact


def test_a_decant_puts_the_transform_event_in_every_bottles_bundle(ledger: Harness) -> None:
    device = ledger.device("org-a")
    bottles = ["BTL-1", "BTL-2", "BTL-3"]
    submit(ledger, [ledger.commission(device, "DRUM-1")])
    submit(ledger, [decant(ledger, device, "DRUM-1", bottles)])
    submit(
        ledger,
        [
            ship(ledger, device, "BTL-3"),  # left site-a
            event(ledger, device, "dispose", ["BTL-2"], {"disposer": "org-w", "method": "burnt"}),
            ledger.use(device, "BTL-1"),
        ],
    )
    ledger.checkpoint()

    site = build_site_bundle(ledger.store, "site-a", log_signer=ledger.log)
    assert_clean(verify(ledger, site))
    assert [item["code"] for item in site["items"]] == ["BTL-1", "DRUM-1"]
    transform = site["items"][0]["chain"][0]
    assert site["items"][1]["chain"][1] == transform  # the drum's seq 1 is the same event
    assert [entry["index"] for entry in site["events"]].count(transform) == 1
    assert len(site["certificates"]) == 2  # one org, one device: deduplicated

    for bottle in bottles:
        bundle = build_item_bundle(ledger.store, bottle, log_signer=ledger.log)
        assert_clean(verify(ledger, bundle))
        assert bundle["items"][0]["chain"][0] == transform
    drum = build_item_bundle(ledger.store, "DRUM-1", log_signer=ledger.log)
    assert_clean(verify(ledger, drum))
    assert drum["items"][0]["chain"][1] == transform
    assert ledger.audit().intact


def test_an_item_whose_head_predates_the_checkpoint_gets_a_statement_there(
    ledger: Harness,
) -> None:
    device = ledger.device("org-a")
    submit(ledger, [ledger.commission(device, "OLD-1"), ledger.use(device, "OLD-1")])
    ledger.checkpoint()
    submit(ledger, [ledger.commission(device, "NEW-1"), ledger.use(device, "NEW-1")])
    ledger.checkpoint()
    size = ledger.store.log_size()
    statements = t.item_head_statement
    query = select(statements.c.checkpoint_size).where(statements.c.item_code == "OLD-1")
    with ledger.store.engine.connect() as conn:
        before = sorted(conn.execute(query).scalars())
    assert size not in before  # the checkpoint signer wrote none for an unchanged item

    bundle = build_item_bundle(ledger.store, "OLD-1", log_signer=ledger.log)
    head = bundle["items"][0]["head"]
    assert (head["checkpoint_size"], head["seq"]) == (size, 1)
    assert_clean(verify(ledger, bundle))
    with ledger.store.engine.connect() as conn:
        after = sorted(conn.execute(query).scalars())
    assert after == [*before, size]  # stored, so verify-log audits it too
    assert ledger.audit().intact

    again = build_item_bundle(ledger.store, "OLD-1", log_signer=ledger.log)
    assert again["items"][0]["head"] == head


def test_site_membership_is_judged_as_of_the_checkpoint(ledger: Harness) -> None:
    device = ledger.device("org-a")
    submit(ledger, [ledger.commission(device, code) for code in ("CYL-1", "CYL-2", "CYL-3")])
    submit(ledger, [ledger.use(device, "CYL-2")])
    submit(
        ledger, [event(ledger, device, "store_in", ["CYL-3"], {"location": "bay"}, site="site-b")]
    )
    ledger.checkpoint()
    first = ledger.store.log_size()
    submit(ledger, [ship(ledger, device, "CYL-1")])  # after the checkpoint: not yet provable
    assert items_at_site(ledger.store, "site-a", first) == ["CYL-1", "CYL-2"]
    assert items_at_site(ledger.store, "site-b", first) == ["CYL-3"]
    bundle = build_site_bundle(ledger.store, "site-a", log_signer=ledger.log)
    assert [item["code"] for item in bundle["items"]] == ["CYL-1", "CYL-2"]
    assert_clean(verify(ledger, bundle))

    ledger.checkpoint()
    later = build_site_bundle(ledger.store, "site-a", log_signer=ledger.log, since_size=first)
    assert [item["code"] for item in later["items"]] == ["CYL-2"]
    state = verify(ledger, bundle).state
    report = verify(ledger, later, state)
    assert_clean(report)
    assert report.state_advanced
    empty = build_site_bundle(ledger.store, "nowhere", log_signer=ledger.log)
    assert empty["items"] == [] and empty["events"] == []
    assert_clean(verify(ledger, empty))


def test_since_size_adds_a_consistency_proof_that_advances_the_state(ledger: Harness) -> None:
    device = ledger.device("org-a")
    submit(ledger, [ledger.commission(device, "ITEM-S")])
    ledger.checkpoint()
    old = build_item_bundle(ledger.store, "ITEM-S", log_signer=ledger.log)
    submit(ledger, [ledger.use(device, "ITEM-S") for _ in range(5)])
    ledger.checkpoint()
    new = build_item_bundle(ledger.store, "ITEM-S", log_signer=ledger.log, since_size=size_of(old))
    assert new["consistency"]["from_size"] == size_of(old)
    first = verify(ledger, old)
    second = verify(ledger, new, first.state)
    assert_clean(second)
    assert second.state_advanced
    same = build_item_bundle(ledger.store, "ITEM-S", log_signer=ledger.log, since_size=size_of(new))
    assert same["consistency"] == {"from_size": size_of(new), "proof": []}
    assert_clean(verify(ledger, same, second.state))


def test_a_bundle_needs_a_checkpoint_and_a_known_item(ledger: Harness) -> None:
    device = ledger.device("org-a")
    submit(ledger, [ledger.commission(device, "ITEM-U")])
    with pytest.raises(BundleUnavailableError, match="no checkpoint"):
        build_item_bundle(ledger.store, "ITEM-U", log_signer=ledger.log)
    ledger.checkpoint()
    with pytest.raises(BundleUnavailableError, match="no event covered"):
        build_item_bundle(ledger.store, "NOPE-1", log_signer=ledger.log)
    size = ledger.store.log_size()
    with pytest.raises(BundleUnavailableError, match="fewer than --since"):
        build_item_bundle(ledger.store, "ITEM-U", log_signer=ledger.log, since_size=size + 1)
    with pytest.raises(InvalidInputError):
        build_item_bundle(ledger.store, "ITEM-U", log_signer=ledger.log, since_size=0)


def test_the_builder_refuses_what_the_log_never_signed(ledger: Harness) -> None:
    device = ledger.device("org-a")
    submit(ledger, [ledger.commission(device, "ITEM-T"), ledger.use(device, "ITEM-T")])
    ledger.checkpoint()
    submit(ledger, [ledger.commission(device, "ITEM-V")])
    ledger.checkpoint()
    statements = t.item_head_statement
    with ledger.store.engine.begin() as conn:  # an insider rewinds the signed head
        conn.execute(update(statements).where(statements.c.item_code == "ITEM-T").values(seq=0))
    with pytest.raises(StorageError, match="disagrees with the log's item-head statements"):
        build_item_bundle(ledger.store, "ITEM-T", log_signer=ledger.log)


def test_the_builder_refuses_a_checkpoint_signed_by_another_key(ledger: Harness) -> None:
    from ledger.signing import Ed25519Signer

    device = ledger.device("org-a")
    submit(ledger, [ledger.commission(device, "ITEM-K")])
    ledger.checkpoint()
    with pytest.raises(StorageError, match="not signed by this log's key"):
        build_item_bundle(ledger.store, "ITEM-K", log_signer=Ed25519Signer.generate())
