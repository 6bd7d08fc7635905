"""Grouped findings in the store (issue 13, defect class 10): a ``finding`` row is a group
of occurrences; the workflow and webhooks act on the group, and saving is idempotent."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine as Engine_

from ledger.rules import Engine, Finding, Severity
from ledger.rules.world import when
from ledger.store.engine import make_engine
from ledger.store.findings import FindingFilter, FindingStore, StoredFinding
from ledger.store.migrate import upgrade
from tests.ledger.rules.scenario import CATALOGS
from tests.ledger.rules.test_engine import Step, _flow
from tests.ledger.rules.test_sync import _shipment, _until

LATE = "device.late_sync"


@pytest.fixture
def store(db_url: str) -> Iterator[FindingStore]:
    upgrade(db_url)
    engine = make_engine(db_url)
    yield FindingStore(engine)
    engine.dispose()


def late(n: int, *, site: str = "depot", severity: Severity = "low", org: str = "depot-co",
         district: str = "d1", item: str | None = None) -> Finding:  # fmt: skip
    """The ``n``-th late sync of a handheld at ``site`` (one event each)."""
    return Finding(rule=LATE, key=f"sha256:{n:064x}", severity=severity,
                   at=f"2026-10-{n:02d}T08:00:00Z", message=f"event {n} synced late",
                   evidence=(f"sha256:{n:064x}",), org=org, site=site, district=district,
                   item=item or f"ITEM-{n}")  # fmt: skip


def overdue(n: int) -> Finding:
    return Finding(rule="custody.transit_overdue", key=f"sha256:{n:064x}", severity="high",
                   at=f"2026-10-{n:02d}T08:00:00Z", message="not received in time",
                   evidence=(f"sha256:{n:064x}",), org="maker", site="plant", district="d1",
                   item=f"ITEM-{n}")  # fmt: skip


def only(store: FindingStore, rule: str = LATE, **where: Any) -> StoredFinding:
    (found,) = store.search(FindingFilter(rule=rule, **where))
    return found


# -- one group, however it is saved ----------------------------------------------------------


def test_one_site_s_late_syncs_are_one_finding_however_they_are_saved(
    store: FindingStore,
) -> None:
    store.save([late(2)])
    store.save([late(3), late(1)])
    store.save([late(4, site="lab")])  # another site: another finding
    assert store.count(FindingFilter(rule=LATE)) == 2
    (group,) = [f for f in store.search(FindingFilter(rule=LATE)) if f.finding.site == "depot"]
    assert (group.count, group.finding.at, group.last_seen) == (
        3, "2026-10-01T08:00:00Z", "2026-10-03T08:00:00Z"
    )  # fmt: skip
    assert group.finding.message == "event 1 synced late"  # the first occurrence's
    page, total = store.occurrences(group.finding.id)
    assert total == 3 and [o.finding.id for o in page] == [late(n).id for n in (3, 2, 1)]


def test_an_occurrence_earlier_than_the_first_becomes_the_group_s_face(
    store: FindingStore,
) -> None:
    store.save([late(5)])
    store.save([late(2)])
    store.save([late(7)])
    group = only(store)
    assert (group.finding.at, group.last_seen, group.finding.item) == (
        late(2).at, late(7).at, "ITEM-2"
    )  # fmt: skip


def test_saving_an_occurrence_again_never_counts_it_twice(store: FindingStore) -> None:
    assert store.save([late(1), late(2)]) == sorted([late(1).id, late(2).id])
    # a replayed stream message, an overlapping rescan, a restarted worker
    assert store.save([late(2), late(1), late(2)]) == []
    assert only(store).count == 2
    assert len(store.all_findings()) == 2


def test_the_worst_occurrence_sets_the_group_s_severity(store: FindingStore) -> None:
    store.save([late(1)])
    store.save([late(2, severity="high")])
    store.save([late(3, severity="medium")])
    assert only(store).finding.severity == "high"


# -- the workflow ------------------------------------------------------------------------------


def _close(store: FindingStore, status: str = "resolved") -> str:
    fid = only(store).finding.id
    store.transition(fid, status, user_id="reg-d1", comment="handheld fixed")
    return fid


@pytest.mark.parametrize("closed", ["resolved", "false_positive"])
def test_a_closed_finding_reopens_on_a_new_occurrence_through_a_transition(
    store: FindingStore, closed: str
) -> None:
    store.save([late(1)])
    fid = _close(store, closed)
    store.save([late(2)])
    group, history = store.get(fid)
    assert group.status == "open" and group.count == 2 and group.openings == 2
    assert [(t.seq, t.from_status, t.to_status, t.user_id) for t in history] == [
        (1, "open", closed, "reg-d1"), (2, closed, "open", "engine")
    ]  # fmt: skip
    assert history[1].occurrence == late(2).id and late(2).id in history[1].comment
    assert history[0].comment == "handheld fixed"  # history is never edited


def test_a_replayed_occurrence_does_not_reopen_a_closed_finding(store: FindingStore) -> None:
    store.save([late(1)])
    fid = _close(store)
    store.save([late(1)])
    group, history = store.get(fid)
    assert group.status == "resolved" and len(history) == 1 and group.count == 1


def test_a_reviewer_cannot_reopen_or_supersede(store: FindingStore) -> None:
    from ledger.errors import TransitionRefusedError

    store.save([late(1)])
    fid = only(store).finding.id
    with pytest.raises(TransitionRefusedError):
        store.transition(fid, "superseded", user_id="reg-d1", comment="x")
    _close(store)
    with pytest.raises(TransitionRefusedError):
        store.transition(fid, "open", user_id="reg-d1", comment="x")


def test_a_finding_every_occurrence_of_which_is_explained_is_superseded(
    store: FindingStore,
) -> None:
    store.save([overdue(1)])
    (raised,) = store.search(FindingFilter(rule="custody.transit_overdue"))
    store.save([replace(late(5), supersedes=(overdue(1).id,))])
    group, history = store.get(raised.finding.id)
    assert group.status == "superseded"
    assert [(t.from_status, t.to_status, t.user_id, t.occurrence) for t in history] == [
        ("open", "superseded", "engine", late(5).id)
    ]
    (kept,) = [f for f in store.all_findings() if f.id == overdue(1).id]  # never deleted
    assert kept == overdue(1)


def test_a_group_with_an_unexplained_occurrence_stays_open(store: FindingStore) -> None:
    store.save([late(1), late(2)])
    store.save([replace(overdue(9), supersedes=(late(1).id,))])
    assert only(store).status == "open"
    store.save([replace(overdue(8), supersedes=(late(2).id,))])
    assert only(store).status == "superseded"


def test_a_reviewer_s_decision_stands_when_its_occurrences_are_explained(
    store: FindingStore,
) -> None:
    store.save([late(1)])
    fid = _close(store)
    store.save([replace(overdue(9), supersedes=(late(1).id,))])
    assert store.get(fid)[0].status == "resolved"


def test_a_superseded_group_reopens_on_a_new_occurrence(store: FindingStore) -> None:
    store.save([late(1)])
    store.save([replace(overdue(9), supersedes=(late(1).id,))])
    store.save([late(2)])
    assert only(store).status == "open"


def test_supersedes_survives_the_store(store: FindingStore) -> None:
    made = replace(late(5), supersedes=(overdue(1).id,))
    store.save([made])
    assert store.all_findings() == [made]


# -- filters and scope -------------------------------------------------------------------------


def test_a_filter_on_what_occurrences_differ_in_matches_any_occurrence(
    store: FindingStore,
) -> None:
    store.save([late(1, item="FIRST"), late(2, item="SECOND")])
    assert only(store, item="SECOND").count == 2
    assert store.search(FindingFilter(rule=LATE, item="THIRD")) == []
    # the group was last seen on the 2nd and first seen on the 1st
    assert store.count(FindingFilter(since="2026-10-02T00:00:00Z")) == 1
    assert store.count(FindingFilter(since="2026-10-02T08:00:01Z")) == 0
    assert store.count(FindingFilter(until="2026-10-01T08:00:00Z")) == 1
    assert store.count(FindingFilter(until="2026-10-01T07:59:59Z")) == 0


def test_an_enterprise_sees_only_its_own_groups_and_occurrences(store: FindingStore) -> None:
    store.save([late(1), late(2), late(3, org="other-co")])
    mine = FindingFilter(own_org="depot-co")
    (group,) = store.search(mine)
    assert group.count == 2
    page, total = store.occurrences(group.finding.id, scope=FindingFilter(own_org="other-co"))
    assert (page, total) == ([], 0)
    page, total = store.occurrences(group.finding.id, scope=mine, limit=1)
    assert total == 2 and len(page) == 1


# -- webhooks ----------------------------------------------------------------------------------


def _hook(store: FindingStore, min_severity: str = "low") -> str:
    store.add_webhook("wh-" + "1" * 24, "reg-d1", "https://hooks.example/x", min_severity,
                      districts=frozenset({"d1"}), org=None)  # fmt: skip
    return "wh-" + "1" * 24


def _deliver_all(store: FindingStore) -> None:
    for row in store.due_deliveries():
        store.delivery_done(row["webhook_id"], row["finding_id"], error=None, retry_at=None)


def test_a_webhook_hears_of_a_group_once_not_of_each_occurrence(store: FindingStore) -> None:
    _hook(store)
    store.save([late(1)])
    store.save([late(2)])
    store.save([late(3), late(4)])
    fid = only(store).finding.id
    assert len(store.deliveries(fid)) == 1
    assert len(store.due_deliveries()) == 1


def test_a_webhook_hears_again_when_a_group_reopens(store: FindingStore) -> None:
    hook = _hook(store)
    store.save([late(1)])
    _deliver_all(store)
    store.save([late(2)])  # counted, not announced
    assert store.due_deliveries() == []
    fid = _close(store)
    store.save([late(3)])
    (due,) = store.due_deliveries()
    assert (due["webhook_id"], due["finding_id"], due["attempts"]) == (hook, fid, 0)


def test_a_webhook_hears_of_a_group_whose_severity_rises_to_its_threshold(
    store: FindingStore,
) -> None:
    _hook(store, "high")
    store.save([late(1, severity="medium")])
    assert store.due_deliveries() == []
    store.save([late(2, severity="medium")])
    assert store.due_deliveries() == []
    store.save([late(3, severity="high")])
    assert len(store.due_deliveries()) == 1
    _deliver_all(store)
    store.save([late(4, severity="critical")])  # the hook heard of this group already
    assert store.due_deliveries() == []


def test_a_group_superseded_in_the_save_that_made_it_is_not_announced(
    store: FindingStore,
) -> None:
    _hook(store)
    store.save([overdue(1), replace(late(5), supersedes=(overdue(1).id,))])
    (raised,) = store.search(FindingFilter(rule="custody.transit_overdue"))
    assert raised.status == "superseded"
    assert store.deliveries(raised.finding.id) == []


# -- online == rescan, grouped -----------------------------------------------------------------


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(Step, min_size=1, max_size=30), data=st.data())
def test_saving_as_the_worker_does_groups_as_a_rescan_does(
    steps: list[tuple[str, int, int, bool]], data: st.DataObject
) -> None:
    """The online worker saves small batches as deadlines fire and late syncs supersede
    them; a rescan saves everything at once. Both end with the same groups and states."""
    from ledger.rules.grouping import group_findings

    city = _flow(steps)
    facts = city.facts
    end = when(facts[-1].log_time).timestamp() + 400 * 86400
    batch = Engine(city.config, CATALOGS)
    everything = batch.feed_all(facts) + batch.advance(end)
    online = Engine(city.config, CATALOGS)
    rounds: list[list[Finding]] = []
    for fact in facts:
        found = online.feed(fact) + online.advance(when(fact.log_time).timestamp())
        if data.draw(st.booleans(), label="replayed") and rounds:
            found = rounds[-1] + found  # a restarted worker saves a batch again
        rounds.append(found)
    rounds.append(online.advance(end))
    with tempfile.TemporaryDirectory() as home:
        worker, rescan = (FindingStore(_migrated(f"sqlite:///{home}/{n}.db")) for n in "ab")
        for found in rounds:
            worker.save(found)
        rescan.save(everything)
        assert worker.all_groups() == rescan.all_groups() == group_findings(everything)
        states = [{s.finding.id: s.status for s in store.search(FindingFilter(), limit=10**4)}
                  for store in (worker, rescan)]  # fmt: skip
        assert states[0] == states[1]
        for store in (worker, rescan):
            store.engine.dispose()


def _migrated(url: str) -> Engine_:
    upgrade(url)
    return make_engine(url)


def test_a_deadline_superseded_online_is_superseded_in_a_rescan(tmp_path: Path) -> None:
    city, shipped, due = _shipment("DRUM-1")
    synced = due + timedelta(days=2)
    _until(city, synced)
    raised = city.found[:]  # the worker saves the breach when its timer fires
    city.receive(["DRUM-1"], shipped, at=due - timedelta(minutes=1), log_at=synced)
    _until(city, synced + timedelta(days=3))
    replay = Engine(city.config, CATALOGS)
    everything = replay.feed_all(city.facts) + replay.advance(city.clock)
    worker = FindingStore(_migrated(f"sqlite:///{tmp_path}/worker.db"))
    rescan = FindingStore(_migrated(f"sqlite:///{tmp_path}/rescan.db"))
    worker.save(raised)
    worker.save(city.found[len(raised) :])
    rescan.save(everything)
    for store in (worker, rescan):
        (breach,) = store.search(FindingFilter(rule="custody.transit_overdue"))
        assert breach.status == "superseded"
    assert worker.all_groups() == rescan.all_groups()
