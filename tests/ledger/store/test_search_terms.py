"""The maintained search terms answer exactly as a :class:`ledger.search.SearchIndex` built
from the log's events, now and at any time, however they were caught up (a little at a
time, by two projectors, rebuilt); ``verify`` names a tampered row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from ledger.append import Accepted
from ledger.builder import DeviceSession
from ledger.canonical import JsonValue
from ledger.search import KINDS, SearchIndex
from ledger.store import schema as t
from ledger.store.search_terms import SearchTerms
from ledger.store.service import ServiceStore
from tests.harness import Harness

BASE = datetime(2026, 10, 1, tzinfo=UTC)
LOTS = ("L-1", "l.1", "L2")
WAYBILLS = ("WB-0001", "wb0001", "WB-0002")
VEHICLES = ("京A·12345", "京a 12345", "沪B-9")
ORGS = ("org-a", "org-b")


def signed_time(minute: int, style: int) -> str:
    """A signed time in one of three spellings, so that text order is not instant order."""
    whole = f"{BASE + timedelta(minutes=minute):%Y-%m-%dT%H:%M:%S}"
    return (f"{whole}Z", f"{whole}.5Z", f"{whole}.000000Z")[style]


Op = tuple[int, int, int, int, int, int]
"""(item, org, value, minute, time style, 0 to commission / 1 to ship / 2 to use)."""

ops = st.lists(
    st.tuples(st.integers(0, 5), st.integers(0, 1), st.integers(0, 2), st.integers(-30, 90),
              st.integers(0, 2), st.integers(0, 2)),
    min_size=1, max_size=30,
)  # fmt: skip


def envelope(device: DeviceSession, op: Op, prefix: str) -> dict[str, JsonValue]:
    item, _org, value, minute, style, kind = op
    code, time = f"{prefix}-{item}", signed_time(minute, style)
    if kind == 0:
        data: dict[str, JsonValue] = {"chemical": "1", "quantity": {"value": "5", "unit": "kg"},
                                      "lot": LOTS[value], "packaging": "drum"}  # fmt: skip
        return device.event("commission", [code], data, time=time, site="site-a")
    if kind == 1:
        data = {"carrier": "org-b", "consignee": "org-a", "consignee_site": "site-b",
                "waybill_no": WAYBILLS[value], "vehicle": VEHICLES[value]}  # fmt: skip
        return device.event("ship", [code], data, time=time, site="site-a")
    return device.event("use", [code], {"quantity": {"value": "1", "unit": "kg"}}, time=time,
                        site="site-a")  # fmt: skip


def play(ledger: Harness, plan: list[Op], prefix: str, terms: SearchTerms | None) -> int:
    """Submit the plan one event at a time (a refused one is skipped), catching ``terms``
    up after every third; the number accepted."""
    devices = {org: ledger.device(org) for org in ORGS}
    accepted = 0
    for number, op in enumerate(plan):
        heads = dict(ledger.heads)
        outcome = ledger.submit([envelope(devices[ORGS[op[1]]], op, prefix)])[0]
        if isinstance(outcome, Accepted):
            accepted += 1
        else:
            ledger.heads.clear()
            ledger.heads.update(heads)
        if terms is not None and number % 3 == 2:
            terms.catch_up()
    return accepted


def index_of(ledger: Harness, at: str | None) -> SearchIndex:
    """The independent answer: the pure index over the log's events signed at or before
    ``at``."""
    index = SearchIndex()
    for logged in ServiceStore(ledger.store.engine).all_events(until_time=at):
        index.add(logged.event.body, logged.event.key_id)
    return index


def device_ids(ledger: Harness) -> list[str]:
    return sorted({e.event.key_id for e in ServiceStore(ledger.store.engine).all_events()})


def assert_same(ledger: Harness, terms: SearchTerms, times: list[str | None]) -> None:
    values = {"lot": LOTS, "waybill": WAYBILLS, "vehicle": VEHICLES, "device": device_ids(ledger)}
    for at in times:
        index = index_of(ledger, at)
        for kind in KINDS:
            for value in (*values[kind], "absent"):
                assert terms.codes(kind, [value], at=at) == index.codes(kind, [value]), (
                    kind, value, at)  # fmt: skip
            assert terms.codes(kind, values[kind], at=at) == index.codes(kind, values[kind])


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(plan=ops, probes=st.lists(st.tuples(st.integers(-40, 100), st.integers(0, 2)), max_size=4))
def test_the_terms_answer_as_the_index_over_the_log(
    ledger: Harness, plan: list[Op], probes: list[tuple[int, int]]
) -> None:
    prefix = f"SRCH{len(ledger.heads)}"
    terms = SearchTerms(ledger.store.engine)
    play(ledger, plan, prefix, terms)
    assert_same(ledger, terms, [None, *(signed_time(m, s) for m, s in probes)])
    assert terms.verify() is None


def test_folded_spellings_find_the_same_items_now_and_only_after_their_time(
    ledger: Harness,
) -> None:
    device = ledger.device("org-a")
    events = [
        envelope(device, (0, 0, 0, 0, 0, 0), "FOLD"),  # lot L-1 at minute 0
        envelope(device, (1, 0, 1, 10, 0, 0), "FOLD"),  # lot "l.1" (the same, folded) at 10
        envelope(device, (0, 0, 0, 20, 0, 1), "FOLD"),  # waybill WB-0001, 京A·12345 at 20
    ]
    assert all(isinstance(o, Accepted) for o in ledger.submit(events))
    terms = SearchTerms(ledger.store.engine)
    assert terms.codes("lot", ["L1"]) == {"FOLD-0", "FOLD-1"}
    assert terms.codes("lot", ["l-1"], at=signed_time(5, 0)) == {"FOLD-0"}
    assert terms.codes("vehicle", ["京A12345"]) == {"FOLD-0"}
    assert terms.codes("waybill", ["wb 0001"], at=signed_time(19, 0)) == frozenset()
    assert terms.codes("waybill", []) == frozenset()


def test_rebuild_and_a_second_projector_give_the_same_rows(ledger: Harness) -> None:
    plan: list[Op] = [(n % 4, n % 2, n % 3, (n * 17) % 60, n % 3, n % 3) for n in range(24)]
    play(ledger, plan, "REBL", None)
    first, second = SearchTerms(ledger.store.engine), SearchTerms(ledger.store.engine)
    assert first.catch_up() > 0
    assert second.catch_up() == 0  # the cursor is shared: nothing is applied twice
    with ledger.store.engine.connect() as conn:
        before = sorted(conn.execute(select(t.search_term)).tuples())
    assert first.rebuild() == len(list(ServiceStore(ledger.store.engine).all_events()))
    with ledger.store.engine.connect() as conn:
        assert sorted(conn.execute(select(t.search_term)).tuples()) == before
    assert_same(ledger, second, [None, signed_time(30, 0)])


def test_verify_names_a_tampered_row(ledger: Harness) -> None:
    device = ledger.device("org-a")
    ledger.submit([envelope(device, (0, 0, 0, 0, 0, 0), "VRFY"),
                   envelope(device, (0, 0, 0, 30, 0, 1), "VRFY")])  # fmt: skip
    terms = SearchTerms(ledger.store.engine)
    assert terms.verify() is None
    with ledger.store.engine.begin() as conn:
        conn.execute(update(t.search_term).where(t.search_term.c.kind == "waybill")
                     .values(first_time=signed_time(60, 0)))  # fmt: skip
    found = terms.verify()
    assert found is not None and "item VRFY-0 under waybill" in found


@pytest.mark.parametrize("kind", KINDS)
def test_an_empty_ledger_finds_nothing(ledger: Harness, kind: str) -> None:
    assert SearchTerms(ledger.store.engine).codes(kind, ["x"]) == frozenset()  # type: ignore[arg-type]
