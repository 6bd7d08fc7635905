"""Findings in the store, a page at a time: keyset pages after ``(last_seen, id)``, set-valued
filters, the site and chemical filters, and a count that stops at a cap."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger.rules import Finding
from ledger.store.engine import make_engine
from ledger.store.findings import FindingFilter, FindingStore
from ledger.store.migrate import upgrade


@pytest.fixture
def store(db_url: str) -> Iterator[FindingStore]:
    upgrade(db_url)
    engine = make_engine(db_url)
    store = FindingStore(engine)
    store.save([
        Finding(rule="dormancy.idle" if n % 3 else "clone.unissued_code",
                key=f"sha256:{n:064x}", severity="low" if n % 2 else "high",
                at=f"2026-10-{1 + n // 4:02d}T08:00:00Z",  # four at each second: ties
                message="m", evidence=(f"sha256:{n:064x}",), org="maker", site=f"site-{n % 2}",
                district="d1", chemical="26.3" if n % 5 == 0 else "1.1", item=f"ITEM-{n}")
        for n in range(20)
    ])  # fmt: skip
    yield store
    engine.dispose()


@pytest.mark.parametrize("limit", [1, 3, 4, 7, 20])
def test_keyset_pages_list_every_group_once_in_order(store: FindingStore, limit: int) -> None:
    everything = store.search(FindingFilter(), limit=100)
    seen, after = [], None
    while True:
        page = store.search(FindingFilter(), limit=limit, after=after)
        seen += page
        if len(page) < limit:
            break
        after = (page[-1].last_seen, page[-1].finding.id)
    assert [f.finding.id for f in seen] == [f.finding.id for f in everything]
    assert len(everything) == 20


def test_set_valued_site_and_chemical_filters(store: FindingStore) -> None:
    assert store.count(FindingFilter(severities=frozenset({"low", "high"}))) == 20
    assert store.count(FindingFilter(severities=frozenset({"low"}))) == 10
    assert store.count(FindingFilter(rules=frozenset({"clone.unissued_code"}))) == 7
    assert store.count(FindingFilter(statuses=frozenset({"open", "resolved"}))) == 20
    assert store.count(FindingFilter(site="site-1")) == 10
    assert store.count(FindingFilter(chemicals=frozenset({"26", "26.3"}))) == 4
    assert store.count(FindingFilter(chemicals=frozenset({"26"}))) == 0


def test_a_capped_count_stops_after_the_cap(store: FindingStore) -> None:
    assert store.count(FindingFilter(), cap=5) == 6  # "more than 5"
    assert store.count(FindingFilter(), cap=50) == 20
