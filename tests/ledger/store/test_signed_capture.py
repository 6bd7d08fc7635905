"""A signed capture through the store and the auditor: the entry, its derived events, and
the re-derivation from the disclosed document (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import update

from ledger.append import Accepted, Rejected
from ledger.builder import DeviceSession
from ledger.commitments import disclose
from ledger.envelope import open_envelope
from ledger.epcis.mapping import epcis_document, to_epcis
from ledger.errors import SignatureInvalidError
from ledger.events import body_to_json, parse_body
from ledger.http_signature import Request, SignatureReplayedError, check_request, sign_request
from ledger.signed_capture import (
    DOCUMENT_KIND,
    DerivationError,
    FactLookup,
    RecordingLookup,
    SignedCapture,
    capture_context,
    derive,
    derived_envelope,
    new_capture,
    verify_derivation,
)
from ledger.store import schema as t
from ledger.store.audit import SqlAuditSource
from ledger.store.repository import SqlLedgerStore
from ledger.verify import audit
from tests.harness import Harness

URL = "https://ledger.example/epcis/capture/signed?actor={actor}&catalog={catalog}"


@dataclass
class StoreLookup:
    store: SqlLedgerStore

    def item(self, epc: str) -> str | None:
        return None

    def site(self, location: str) -> str | None:
        return None

    def party(self, party: str) -> str | None:
        return None

    def head(self, code: str, *, may_start: bool) -> tuple[int, str | None] | None:
        head = self.store.item_head(code)
        if head is None:
            return (0, None) if may_start else None
        return head.seq + 1, "sha256:" + head.head_hash.hex()

    def ledger_event(self, hash_id: str) -> str | None:
        return None


def erp_document(ledger: Harness, device: DeviceSession, codes: list[str]) -> dict[str, Any]:
    events = []
    for code in codes:
        for envelope in (ledger.commission(device, code), ledger.use(device, code)):
            event = to_epcis(parse_body(envelope["body"]))  # type: ignore[arg-type]
            event.pop("chemtrace:envelope")
            events.append(event)
    return epcis_document(events, created="2026-10-01T08:00:00Z")


def capture(
    ledger: Harness, device: DeviceSession, document: dict[str, Any], nonce: str = "nonce-0001"
) -> tuple[SignedCapture, list[Any], bytes]:
    body = json.dumps(document).encode()
    url = URL.format(actor=device.actor.replace(":", "%3A"), catalog=device.catalog_version)
    now = datetime.now(UTC)
    headers = sign_request(device.signer, "POST", url, body, nonce=nonce, created=now)
    verified = check_request(
        Request("POST", url, tuple(headers.items()), body), lambda _: device.signer.public_key, now
    )
    context = capture_context(url, device.org, device.signer.key_id)
    recording = RecordingLookup(StoreLookup(ledger.store))
    derive(document, recording, context, b"\0" * 32)
    stored = disclose(DOCUMENT_KIND, body.decode())
    entry = new_capture(verified, device.org, stored, recording)
    events = derive(document, FactLookup(entry.facts), context, entry.entry_hash)
    ledger.store.append_signed_capture(entry, stored, retain_until="2030-01-01T00:00:00Z",
                                       log_signer=ledger.log)  # fmt: skip
    hashes = [e.event_hash for e in events]
    ledger.ingestor.vouch(entry.entry_hash, hashes)
    try:
        outcomes = ledger.ingestor.submit(events, atomic=True)
    finally:
        ledger.ingestor.release(hashes)
    return entry, outcomes, body


def test_derived_events_chain_cite_the_entry_and_re_derive_in_the_audit(ledger: Harness) -> None:
    device = ledger.device("org-a")
    document = erp_document(ledger, device, ["ITEM-0001", "ITEM-0002"])
    entry, outcomes, body = capture(ledger, device, document)
    assert all(isinstance(o, Accepted) for o in outcomes), outcomes
    assert entry.facts["head"] == {"ITEM-0001": [0, None], "ITEM-0002": [0, None]}
    chain = [open_envelope(json.loads(e)) for _, _, e in ledger.store.item_envelopes("ITEM-0001")]
    assert [(e.body.type, e.body.items[0].seq) for e in chain] == [("commission", 0), ("use", 1)]
    assert all(e.signature == entry.entry_hash and e.key_id == device.signer.key_id for e in chain)
    report = ledger.audit()
    assert report.intact, [f.to_json() for f in report.faults]
    assert (report.signed_captures, report.rederived) == (1, 1)
    logged = [o.receipt.entry_hash for o in outcomes]
    assert verify_derivation(entry, body, None, logged) == logged  # the auditor's own run
    with pytest.raises(SignatureInvalidError):  # another document: its digest is not signed
        verify_derivation(entry, body + b" ", None, logged)
    with pytest.raises(DerivationError):
        verify_derivation(entry, body, None, logged[:-1])


def test_an_altered_document_is_an_audit_fault_and_an_erased_one_is_not(ledger: Harness) -> None:
    device = ledger.device("org-a")
    entry, _, body = capture(ledger, device, erp_document(ledger, device, ["ITEM-0001"]))
    pd = t.personal_data
    with ledger.store.engine.begin() as conn:
        conn.execute(update(pd).where(pd.c.commitment == entry.document)
                     .values(value=body.decode().replace("ITEM-0001", "ITEM-0009")))  # fmt: skip
    assert "capture_bad_signature" in {f.code for f in ledger.audit().faults}
    ledger.store.erase_disclosures(commitments=[entry.document])
    report = ledger.audit()
    assert report.intact, [f.to_json() for f in report.faults]
    assert (report.signed_captures, report.rederived) == (1, 0)
    handed = audit(SqlAuditSource(ledger.store.engine), ledger.trusted(), documents=[body])
    assert handed.intact and handed.rederived == 1  # the document disclosed to the auditor
    other = audit(SqlAuditSource(ledger.store.engine), ledger.trusted(), documents=[body + b" "])
    assert {f.code for f in other.faults} == {"document_unmatched"}


def test_a_derived_event_enters_only_with_its_signed_capture(ledger: Harness) -> None:
    device = ledger.device("org-a")
    document = erp_document(ledger, device, ["ITEM-0001"])
    body = body_to_json(derive(document, StoreLookup(ledger.store),
                               capture_context(URL.format(actor=device.actor, catalog="c"),
                                               "org-a", device.signer.key_id),
                               b"\1" * 32)[0].body)  # fmt: skip
    (outcome,) = ledger.submit([derived_envelope(body, b"\1" * 32)])
    assert isinstance(outcome, Rejected)
    assert isinstance(outcome.error, SignatureInvalidError)
    assert ledger.store.item_head("ITEM-0001") is None


def test_a_forged_derived_event_in_the_database_is_an_audit_fault(ledger: Harness) -> None:
    device = ledger.device("org-a")
    document = erp_document(ledger, device, ["ITEM-0001"])
    url = URL.format(actor=device.actor, catalog=device.catalog_version)
    (event,) = derive(document, StoreLookup(ledger.store),
                      capture_context(url, "org-a", device.signer.key_id), b"\2" * 32)[:1]  # fmt: skip
    ledger.store.append_events(
        [event], trust=ledger.ingestor._trust_for({event.key_id}), log_signer=ledger.log
    )  # an insider, past the ingest checks
    assert "event_capture_missing" in {f.code for f in ledger.audit().faults}


def test_a_nonce_is_accepted_once_per_key(ledger: Harness) -> None:
    device = ledger.device("org-a")
    capture(ledger, device, erp_document(ledger, device, ["ITEM-0001"]), nonce="nonce-same")
    with pytest.raises(SignatureReplayedError):
        capture(ledger, device, erp_document(ledger, device, ["ITEM-0002"]), nonce="nonce-same")
    other = ledger.device("org-a")  # another key may use the same nonce
    _, outcomes, _ = capture(ledger, other, erp_document(ledger, other, ["ITEM-0003"]),
                                 nonce="nonce-same")  # fmt: skip
    assert all(isinstance(o, Accepted) for o in outcomes)
