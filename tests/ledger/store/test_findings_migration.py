"""0012: findings saved before grouping become occurrences of their groups, with their
transitions and webhook deliveries; and back."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import replace
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from ledger.rules import Finding
from ledger.rules.grouping import SUBJECTS, group_of, subject_of
from ledger.store.engine import make_engine
from ledger.store.findings import FindingFilter, FindingStore
from ledger.store.migrate import MIGRATIONS

SITE_LATE = [
    # (day, status, transitions): three late syncs at one site, reviewed differently
    (1, "resolved", [("open", "resolved", "2026-10-05T09:00:00Z")]),
    (2, "acknowledged", [("open", "acknowledged", "2026-10-04T09:00:00Z")]),
    (3, "open", []),
]


def late(day: int) -> Finding:
    return Finding(rule="device.late_sync", key=f"sha256:{day:064x}", severity="low",
                   at=f"2026-10-0{day}T08:00:00Z", message=f"late {day}",
                   evidence=(f"sha256:{day:064x}",), org="depot-co", site="depot",
                   district="d1", item=f"ITEM-{day}")  # fmt: skip


OVERDUE = Finding(rule="custody.transit_overdue", key="sha256:" + "e" * 64, severity="high",
                  at="2026-10-02T10:00:00Z", message="not received", evidence=("x",),
                  org="maker", site="plant", district="d1", item="ITEM-9")  # fmt: skip


@pytest.fixture
def config(db_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = db_url
    return config


def _row(f: Finding, status: str) -> dict[str, Any]:
    return {"id": f.id, "rule": f.rule, "key": f.key, "severity": f.severity, "status": status,
            "at": f.at, "org": f.org, "site": f.site, "district": f.district,
            "chemical": f.chemical, "item": f.item, "message": f.message,
            "evidence": json.dumps(list(f.evidence)), "log_position": 7,
            "found_at": "2026-10-06T00:00:00Z"}  # fmt: skip


def _seed_0011(engine: sa.Engine) -> None:
    meta = sa.MetaData()
    finding, transition, webhook, delivery = (
        sa.Table(name, meta, autoload_with=engine)
        for name in ("finding", "finding_transition", "webhook", "webhook_delivery")
    )
    with engine.begin() as conn:
        conn.execute(sa.insert(finding), [_row(late(d), s) for d, s, _ in SITE_LATE])
        conn.execute(sa.insert(finding), [_row(OVERDUE, "acknowledged")])
        moves = [{"finding_id": late(d).id, "seq": n, "from_status": a, "to_status": b,
                  "user_id": "reg-d1", "at": at, "comment": f"review of {d}"}
                 for d, _, history in SITE_LATE
                 for n, (a, b, at) in enumerate(history, start=1)]  # fmt: skip
        moves.append({"finding_id": OVERDUE.id, "seq": 1, "from_status": "open",
                      "to_status": "acknowledged", "user_id": "reg-d1",
                      "at": "2026-10-03T00:00:00Z", "comment": "calling the carrier"})  # fmt: skip
        conn.execute(sa.insert(transition), moves)
        conn.execute(sa.insert(webhook), [{
            "id": "wh-" + "1" * 24, "user_id": "reg-d1", "url": "https://h.example/",
            "min_severity": "low", "districts": None, "org": None,
            "created_at": "2026-10-01T00:00:00Z", "disabled_at": None}])  # fmt: skip
        conn.execute(sa.insert(delivery), [
            {"webhook_id": "wh-" + "1" * 24, "finding_id": f.id, "attempts": n,
             "next_attempt_at": "2026-10-01T00:00:00Z",
             "delivered_at": "2026-10-01T00:00:01Z" if n in (1, 3) else None,
             "last_error": None}
            for n, f in enumerate([late(1), late(2), late(3), OVERDUE])
        ])  # fmt: skip


def test_0012_groups_the_findings_saved_before_it_and_keeps_their_history(
    db_url: str, config: Config
) -> None:
    command.upgrade(config, "0011")
    engine = make_engine(db_url)
    _seed_0011(engine)
    command.upgrade(config, "head")
    store = FindingStore(engine)

    gid = group_of(late(1))
    group, history = store.get(gid)
    assert (group.count, group.finding.at, group.last_seen) == (
        3, late(1).at, late(3).at
    )  # fmt: skip
    assert group.finding.key == subject_of(late(1))
    # an occurrence nobody reviewed (late 3) keeps the group open
    assert group.status == "open"
    assert [(t.seq, t.from_status, t.to_status, t.user_id, t.occurrence) for t in history] == [
        (1, "open", "acknowledged", "reg-d1", late(2).id),  # in time order, across findings
        (2, "open", "resolved", "reg-d1", late(1).id),
        (3, "resolved", "open", "migration", None),
    ]  # fmt: skip
    assert [t.comment for t in history[:2]] == ["review of 2", "review of 1"]
    assert sorted(f.id for f in store.all_findings()) == sorted(
        [late(1).id, late(2).id, late(3).id, OVERDUE.id]
    )
    assert {f.id: f for f in store.all_findings()}[late(2).id] == late(2)
    (kept,) = store.deliveries(gid)  # one per hook, the delivered one
    assert kept["delivered_at"] == "2026-10-01T00:00:01Z"

    # a rule that keeps subject = key keeps its id, state, history and deliveries
    single, single_history = store.get(OVERDUE.id)
    assert (single.status, single.count) == ("acknowledged", 1)
    assert [(t.seq, t.comment, t.occurrence) for t in single_history] == [
        (1, "calling the carrier", None)
    ]
    assert len(store.deliveries(OVERDUE.id)) == 1
    assert store.count(FindingFilter()) == 2

    # and new occurrences join the migrated groups
    assert store.save([late(1), late(4)]) == [late(4).id]
    assert store.get(gid)[0].count == 4

    command.downgrade(config, "0011")
    meta = sa.MetaData()
    finding = sa.Table("finding", meta, autoload_with=engine)
    transition = sa.Table("finding_transition", meta, autoload_with=engine)
    with engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(sa.select(finding))}
        moves = conn.execute(sa.select(transition).order_by(transition.c.seq)).all()
    assert set(rows) == {late(1).id, late(2).id, late(3).id, late(4).id, OVERDUE.id}
    assert {rows[late(d).id].status for d in (1, 2, 3, 4)} == {"open"}
    assert rows[OVERDUE.id].status == "acknowledged"
    # each transition goes back to the finding it was made on (or the group's first)
    assert sorted((m.finding_id, m.comment) for m in moves if m.user_id == "reg-d1") == sorted(
        [(late(1).id, "review of 1"), (late(2).id, "review of 2"),
         (OVERDUE.id, "calling the carrier")]
    )  # fmt: skip
    engine.dispose()


def test_0012_downgrades_a_superseded_group_through_a_transition(
    db_url: str, config: Config
) -> None:
    command.upgrade(config, "head")
    engine = make_engine(db_url)
    store = FindingStore(engine)
    store.save([OVERDUE])
    store.save([replace(late(5), supersedes=(OVERDUE.id,))])
    assert store.get(OVERDUE.id)[0].status == "superseded"
    command.downgrade(config, "0011")
    with engine.connect() as conn:
        status = conn.execute(
            sa.text("SELECT status FROM finding WHERE id = :id"), {"id": OVERDUE.id}
        ).scalar_one()
        last = conn.execute(
            sa.text("SELECT from_status, to_status, user_id FROM finding_transition "
                    "WHERE finding_id = :id ORDER BY seq DESC"), {"id": OVERDUE.id}
        ).first()  # fmt: skip
    assert status == "resolved"
    assert tuple(last) == ("superseded", "resolved", "migration")  # type: ignore[arg-type]
    engine.dispose()


def test_the_migration_s_frozen_table_is_the_live_one() -> None:
    """0012 froze the subject table; if this fails, the live table changed: existing
    occurrences keep their 0012 groups unless a new migration regroups them."""
    path = next((MIGRATIONS / "versions").glob("0012_*.py"))
    spec = importlib.util.spec_from_file_location("m0012", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert set(module._SUBJECTS) == set(SUBJECTS)
    samples = [late(1), OVERDUE,
               Finding(rule="storage.major_hazard", key="o|a+b:2:77", severity="high",
                       at="2026-10-01T00:00:00Z", message="m", evidence=(), org="o",
                       site="a", district="d1"),
               Finding(rule="mass.org_balance", key="o|30|123", severity="high",
                       at="2026-10-01T00:00:00Z", message="m", evidence=(), org="o",
                       chemical="30")]  # fmt: skip
    for rule in SUBJECTS:
        samples.append(replace_rule(late(2), rule))
    for f in samples:
        assert module._group_id(f.rule, module._subject(f)) == group_of(f), f.rule


def replace_rule(f: Finding, rule: str) -> Finding:
    return replace(f, rule=rule, chemical="30")
