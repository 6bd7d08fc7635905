"""The anomaly engine on aggregated security-journal rows (one row per client, code, item and
window, with a count): one row is one finding, a row whose count grows later neither
duplicates it nor loses it, and the online engine and a rescan agree. On SQLite and on
PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from api.anomaly import FindingsWorker, new_engine, rescan
from ledger.rules import JournalFact
from ledger.store.engine import make_engine
from ledger.store.findings import FindingStore
from ledger.store.migrate import upgrade
from ledger.store.service import ServiceStore

START = datetime(2026, 11, 1, 10, 0, 5, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def tick(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        url = request.getfixturevalue("postgres_database")
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def _scan(journal: ServiceStore, item: str = "FAKE-1", client: str = "203.0.113.7") -> None:
    journal.journal("unknown_label", f"public page opened for unknown code {item}",
                    aggregate_by="client", client=client, item_code=item)  # fmt: skip


def test_a_growing_row_is_one_finding_online_and_in_a_rescan(database: Engine) -> None:
    clock = Clock()
    journal = ServiceStore(database, clock=clock)
    store = FindingStore(database, clock=clock)
    worker = FindingsWorker(store, new_engine, grace_s=0, clock=clock)
    for _ in range(3):
        _scan(journal)
        clock.tick(seconds=1)
    assert worker.step() == 1
    (row,) = journal.journal_entries()
    assert (row.count, row.at) == (3, "2026-11-01T10:00:05.000000Z")

    for _ in range(5):  # the same row grows after the engine read it
        _scan(journal)
        clock.tick(seconds=1)
    assert worker.step() == 0
    (row,) = journal.journal_entries()
    assert row.count == 8 and row.last_at > row.at

    clock.tick(hours=1)  # the next window: a new row, still the same finding
    _scan(journal)
    clock.tick(seconds=1)
    assert worker.step() == 0
    assert sorted(r.count for r in journal.journal_entries()) == [1, 8]

    online = store.all_findings()
    assert [f.rule for f in online] == ["clone.unissued_code"]
    batch = rescan(FindingStore(database), new_engine(), as_of=clock.now)
    assert {f.id: f for f in batch} == {f.id: f for f in online}


def test_a_restarted_worker_does_not_find_an_aggregated_row_again(database: Engine) -> None:
    clock = Clock()
    journal = ServiceStore(database, clock=clock)
    store = FindingStore(database, clock=clock)
    _scan(journal, "FAKE-2")
    clock.tick(seconds=1)
    assert FindingsWorker(store, new_engine, grace_s=0, clock=clock).step() == 1
    _scan(journal, "FAKE-2")
    clock.tick(seconds=1)
    assert FindingsWorker(store, new_engine, grace_s=0, clock=clock).step() == 0
    assert len(store.all_findings()) == 1


def test_concurrent_repeats_are_counted_once_each(database: Engine) -> None:
    clock = Clock()
    journal = ServiceStore(database, clock=clock)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda _: _scan(journal, "RACE-1"), range(200)))
    (row,) = journal.journal_entries()
    assert row.count == 200


def test_rows_of_other_clients_or_items_stay_apart(database: Engine) -> None:
    clock = Clock()
    journal = ServiceStore(database, clock=clock)
    for client, item in [("a", "X"), ("a", "X"), ("b", "X"), ("a", "Y")]:
        _scan(journal, item, client)
    counts = {(r.client, r.item_code): r.count for r in journal.journal_entries()}
    assert counts == {("a", "X"): 2, ("b", "X"): 1, ("a", "Y"): 1}


def test_rows_aggregate_per_device_and_window_too(database: Engine) -> None:
    clock = Clock()
    journal = ServiceStore(database, clock=clock)
    for _ in range(4):
        journal.journal("bad_signature", "refused", aggregate_by="device_key", window_s=60,
                        device_key="k1", org="acme", item_code="DRUM-1", client=None)  # fmt: skip
    journal.journal("bad_signature", "refused", device_key="k1", org="acme", item_code="DRUM-1")
    rows = journal.journal_entries()
    assert sorted(r.count for r in rows) == [1, 4]
    aggregated = next(r for r in rows if r.count == 4)
    assert aggregated.window_start == "2026-11-01T10:00:00.000000Z"


def test_the_finding_of_a_public_scan_is_in_the_district_the_journal_names() -> None:
    engine = new_engine()
    entry = JournalFact(id="j1", at="2026-11-01T10:00:05Z", code="forged_label",
                        detail="public page opened for forged code CT1", item="CT1",
                        district="d1")  # fmt: skip
    (found,) = engine.journal(entry)
    assert (found.district, found.org) == ("d1", None)
