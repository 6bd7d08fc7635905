"""Erasing personal data: plaintext and salt go, commitments, chains and proofs stay.

Events carry only salted commitments (actor, driver, escort, inspector); the store
keeps the disclosures in ``personal_data`` until they are erased by commitment or by
retention time. Runs on SQLite and PostgreSQL through the ``ledger`` fixture.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from ledger.append import Accepted
from ledger.builder import DeviceSession
from ledger.canonical import format_hash
from ledger.commitments import Disclosure, disclose, opens
from ledger.envelope import event_hash_of, open_envelope
from ledger.store.repository import SqlLedgerStore
from tests.harness import Harness

FAR = "2099-01-01T00:00:00Z"


@dataclass
class People:
    actor: Disclosure
    driver: Disclosure
    escort: Disclosure
    inspector: Disclosure

    def all(self) -> list[Disclosure]:
        return [self.actor, self.driver, self.escort, self.inspector]


RETENTION = {
    "actor": FAR,
    "driver": "2027-01-01T00:00:00Z",
    "escort": "2027-06-30T00:00:00Z",
    "inspector": "2031-01-01T00:00:00Z",
}


def _seed(ledger: Harness) -> tuple[People, list[str]]:
    """A cylinder and a drum shipped with a driver and escort, inspected, received."""
    tag = secrets.token_hex(6)
    people = People(
        actor=disclose("person", f"Officer Chen Jing {tag}"),
        driver=disclose("person", f"Driver Zhang Wei {tag}"),
        escort=disclose("person", f"Escort Wang Fang {tag}"),
        inspector=disclose("phone", f"+86 139 {tag}"),
    )
    shipper: DeviceSession = ledger.device("org-a")
    shipper.actor = people.actor.commitment
    receiver = ledger.device("org-b")
    codes = ["CYL-0001", "DRUM-0001"]
    envelopes = [ledger.commission(shipper, code) for code in codes]
    ship = shipper.event(
        "ship",
        codes,
        {
            "carrier": "org-a",
            "consignee": "org-b",
            "consignee_site": "site-b",
            "vehicle": "京A·D1234",
            "driver": people.driver.commitment,
            "escort": people.escort.commitment,
        },
        time=ledger.time(),
        site="site-a",
    )
    envelopes.append(ship)
    ship_ref = format_hash(event_hash_of(open_envelope(ship).canonical))
    envelopes.append(receiver.event("receive", codes, {"ship": ship_ref}, time=ledger.time()))
    envelopes.append(
        receiver.event(
            "inspect",
            [codes[0]],
            {"outcome": "pass", "inspector": people.inspector.commitment},
            time=ledger.time(),
        )
    )
    envelopes += [ledger.use(receiver, code) for code in codes]
    outcomes = ledger.submit(envelopes)
    assert all(isinstance(o, Accepted) and not o.duplicate for o in outcomes), outcomes
    assert ledger.checkpoint() is not None
    for role, person in vars(people).items():
        ledger.store.record_disclosure(person, retain_until=RETENTION[role])
    return people, codes


def _personal_rows(store: SqlLedgerStore) -> dict[str, dict[str, object]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT commitment, kind, value, salt, retain_until, erased_at FROM personal_data")
        ).mappings()
        return {row["commitment"]: dict(row) for row in rows}


def _assert_chains_verify(store: SqlLedgerStore, codes: list[str]) -> None:
    """Each item's events, in order, link by hash and carry valid device signatures."""
    keys = {cert.key_id: cert.public_key for cert in store.certificates() if cert.role == "device"}
    for code in codes:
        chain = store.item_envelopes(code)
        assert [seq for seq, _, _ in chain] == list(range(len(chain)))
        previous = None
        for seq, _, envelope in chain:
            event = open_envelope(json.loads(envelope))
            assert event.canonical == envelope
            (link,) = [link for link in event.body.items if link.code == code]
            assert (link.seq, link.prev) == (seq, previous)
            event.verify(keys[event.key_id])
            previous = format_hash(event.event_hash)
        head = store.item_head(code)
        assert head is not None
        assert format_hash(head.head_hash) == previous


def _all_envelopes(store: SqlLedgerStore) -> bytes:
    with store.engine.connect() as conn:
        return b"".join(bytes(e) for (e,) in conn.execute(text("SELECT envelope FROM event")))


def test_disclosures_open_their_commitments_and_are_idempotent(ledger: Harness) -> None:
    people, _ = _seed(ledger)
    for person in people.all():
        found = ledger.store.disclosure(person.commitment)
        assert found == person
        assert opens(person.commitment, found)
    assert not opens(people.driver.commitment, people.escort)
    assert ledger.store.disclosure(disclose("person", "nobody").commitment) is None
    # Recording again neither duplicates nor changes the retention.
    ledger.store.record_disclosure(people.driver, retain_until=FAR)
    rows = _personal_rows(ledger.store)
    assert len(rows) == 4
    assert rows[people.driver.commitment]["retain_until"] == RETENTION["driver"]
    # Only commitments are signed: no plaintext name appears in any stored envelope.
    envelopes = _all_envelopes(ledger.store)
    for person in people.all():
        assert person.value.encode() not in envelopes
    assert people.driver.commitment.encode() in envelopes
    assert people.actor.commitment.encode() in envelopes


def test_erasure_by_commitment_and_by_retention(ledger: Harness) -> None:
    people, codes = _seed(ledger)
    store = ledger.store
    before = ledger.audit()
    assert before.intact, before.faults
    envelopes_before = _all_envelopes(store)

    # by commitment
    assert store.erase_disclosures(commitments=[people.driver.commitment]) == 1
    assert store.disclosure(people.driver.commitment) is None
    assert store.disclosure(people.escort.commitment) == people.escort
    assert store.erase_disclosures(commitments=[people.driver.commitment]) == 0  # already gone
    # both conditions must hold: the actor is still within retention
    assert (
        store.erase_disclosures(
            commitments=[people.actor.commitment], expired_at="2030-01-01T00:00:00Z"
        )
        == 0
    )
    assert store.disclosure(people.actor.commitment) == people.actor

    # by retention time: only the escort's (2027-06-30) has passed by 2027-12-31
    assert store.erase_disclosures(expired_at="2027-12-31T00:00:00Z") == 1
    assert store.disclosure(people.escort.commitment) is None
    assert store.disclosure(people.inspector.commitment) == people.inspector
    assert store.disclosure(people.actor.commitment) == people.actor
    # retention ends are inclusive
    assert store.erase_disclosures(expired_at=RETENTION["inspector"]) == 1
    assert store.disclosure(people.inspector.commitment) is None

    # raw SQL: plaintext and salt are NULL, the row remains as a tombstone
    rows = _personal_rows(store)
    assert len(rows) == 4
    for person in (people.driver, people.escort, people.inspector):
        row = rows[person.commitment]
        assert row["value"] is None and row["salt"] is None, row
        assert row["erased_at"] is not None
        assert row["kind"] == person.kind
    assert rows[people.actor.commitment]["value"] == people.actor.value
    assert rows[people.actor.commitment]["erased_at"] is None
    with store.engine.connect() as conn:
        leaked = conn.execute(
            text("SELECT count(*) FROM personal_data WHERE value = :a OR value = :b"),
            {"a": people.driver.value, "b": people.escort.value},
        ).scalar_one()
    assert leaked == 0

    # the signed record is untouched, and everything still verifies
    assert _all_envelopes(store) == envelopes_before
    after = ledger.audit()
    assert after.intact, after.faults
    assert (after.entries, after.root_hash) == (before.entries, before.root_hash)
    _assert_chains_verify(store, codes)
    assert ledger.checkpoint() is None  # erasure appended nothing to the log


def _sqlite_files(ledger: Harness) -> list[Path]:
    path = Path(str(make_url(ledger.url).database))
    return [p for p in (path, path.with_name(path.name + "-wal")) if p.exists()]


def _erase_people(ledger: Harness) -> People:
    if make_url(ledger.url).get_backend_name() != "sqlite":
        pytest.skip("greps the bytes of a SQLite database file")
    people, _ = _seed(ledger)
    # A long-running store: the disclosures reached the main file before the erasure.
    main = _sqlite_files(ledger)[0]
    with closing(sqlite3.connect(main)) as conn:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    assert busy == 0
    assert any(people.driver.value.encode() in p.read_bytes() for p in _sqlite_files(ledger))
    erased = [people.driver, people.escort]
    assert ledger.store.erase_disclosures(commitments=[p.commitment for p in erased]) == 2
    return people


def test_erased_names_are_gone_from_the_closed_sqlite_file(ledger: Harness) -> None:
    people = _erase_people(ledger)
    ledger.store.engine.dispose()  # the last connection folds the WAL into the file
    files = _sqlite_files(ledger)
    assert [p.name for p in files] == ["ledger.db"]
    raw = files[0].read_bytes()
    for person in (people.driver, people.escort):
        assert person.value.encode() not in raw
        assert person.salt not in raw
    assert people.actor.value.encode() in raw  # the test can see what is still there
    reopened = ledger.reopen()
    try:
        assert reopened.store.disclosure(people.actor.commitment) == people.actor
        assert reopened.store.disclosure(people.driver.commitment) is None
    finally:
        reopened.store.engine.dispose()


def test_erased_names_are_gone_from_disk_while_the_store_runs(ledger: Harness) -> None:
    people = _erase_people(ledger)
    left = [
        (path.name, what)
        for path in _sqlite_files(ledger)
        for person in (people.driver, people.escort)
        for what, needle in (("name", person.value.encode()), ("salt", person.salt))
        if needle in path.read_bytes()
    ]
    assert left == [], f"erased personal data still on disk: {left}"
