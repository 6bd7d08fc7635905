"""grouped findings: a finding row is a group of occurrences (rule, subject)

Each finding row before this revision becomes one occurrence of its group; the group's id
is SHA-256(rule, subject), which for a rule that keeps subject = key is the old id itself,
so those rows, their transitions and their webhook deliveries stay where they are.

Where several old findings collapse into one group, their transitions move to the group in
time order (then by old id and seq), each naming its old finding in ``occurrence``, and the
group takes the least advanced of their states (open, then acknowledged, then resolved,
then false_positive): an occurrence nobody has reviewed keeps its group open. When that
state is not where the moved history ends, one transition by ``migration`` says so. Their
webhook deliveries merge into one per hook, a delivered one kept first.

The subject table is FROZEN here (``_SUBJECTS``, a copy of ``ledger.rules.grouping`` as
of this revision): a later change to the live table must not change what this migration
did. Rows saved afterwards are grouped by the live table; a later change to it that moves
existing occurrences needs its own migration.

Downgrade turns every occurrence back into a finding row with its group's state (a
``superseded`` group, a state unknown before this revision, becomes ``resolved`` through a
``migration`` transition), the group's transitions going to the occurrence they name or
else to the group's first occurrence; what superseded which is lost.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 12:30:00
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_SEVERITIES = ("low", "medium", "high", "critical")
_ORDER = ("open", "acknowledged", "resolved", "false_positive")
_MIGRATION = "migration"


def _fields(*names: str) -> Callable[[Any], tuple[str, ...]]:
    return lambda row: tuple(str(getattr(row, name) or "") for name in names)


_SUBJECTS: dict[str, Callable[[Any], tuple[str, ...]]] = {
    # "site|groups|chemicals" keys group per (site, groups); a row written before the key
    # named the groups ("site|chemicals") cannot be regrouped without the catalog: its pair
    # stays its own group
    "storage.incompatible": lambda row: (
        (row.key.rsplit("|", 1)[0],) if row.key.count("|") >= 2 else (row.key,)
    ),
    "storage.major_hazard": lambda row: (row.key.rsplit(":", 2)[0],),
    "storage.cylinder_overdue": _fields("item"),
    "storage.cylinder_failed_fill": _fields("item"),
    "storage.two_person": _fields("site", "chemical"),
    "mass.org_balance": lambda row: tuple(row.key.split("|")[:2]),
    "mass.stock_shortfall": _fields("site", "chemical"),
    "mass.transform_imbalance": _fields("site", "chemical"),
    "mass.receive_shortfall": _fields("site", "chemical"),
    "licence.missing": _fields("chemical"),
    "lifecycle.quantity_growth": _fields("item"),
    "clone.impossible_travel": _fields("item"),
    "dormancy.idle": _fields("item"),
    "device.late_sync": _fields("site"),
    "custody.unshipped_move": _fields("item"),
    "quantity.unit_unknown": _fields("item"),
}


def _subject(row: Any) -> str:
    derive = _SUBJECTS.get(row.rule)
    if derive is None:
        return str(row.key)
    return "|".join((row.org or "", row.district or "", *derive(row)))


def _group_id(rule: str, subject: str) -> str:
    return "f-" + hashlib.sha256(f"{rule}\x00{subject}".encode()).hexdigest()[:32]


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _tables() -> tuple[sa.Table, sa.Table, sa.Table, sa.Table]:
    meta = sa.MetaData()
    bind = op.get_bind()
    return tuple(  # type: ignore[return-value]
        sa.Table(name, meta, autoload_with=bind)
        for name in ("finding", "finding_transition", "webhook_delivery", "finding_occurrence")
    )


def upgrade() -> None:
    op.create_table(
        "finding_occurrence",
        sa.Column("id", sa.String(length=34), nullable=False),
        sa.Column("group_id", sa.String(length=34), nullable=False),
        sa.Column("rule", sa.String(length=48), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.Column("org", sa.String(length=64), nullable=True),
        sa.Column("site", sa.String(length=64), nullable=True),
        sa.Column("district", sa.String(length=32), nullable=True),
        sa.Column("chemical", sa.String(length=8), nullable=True),
        sa.Column("item", sa.String(length=64), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("supersedes", sa.Text(), nullable=True),
        sa.Column("superseded_by", sa.String(length=34), nullable=True),
        sa.Column("log_position", sa.BigInteger(), nullable=False),
        sa.Column("found_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["finding.id"], name=op.f("fk_finding_occurrence_group_id_finding")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finding_occurrence")),
    )
    op.create_index(
        op.f("ix_finding_occurrence_group_id"), "finding_occurrence", ["group_id"], unique=False
    )
    op.create_index(
        op.f("ix_finding_occurrence_item"), "finding_occurrence", ["item"], unique=False
    )
    # plain ADD COLUMN with a default, not a batch rebuild: on SQLite a rebuild of
    # ``finding`` would drop a table that transitions and deliveries reference
    op.add_column(
        "finding",
        sa.Column("last_seen", sa.String(length=32), nullable=False, server_default=""),
    )
    op.add_column(
        "finding", sa.Column("occurrences", sa.Integer(), nullable=False, server_default="1")
    )
    op.create_index(op.f("ix_finding_last_seen"), "finding", ["last_seen"], unique=False)
    op.add_column(
        "finding_transition", sa.Column("occurrence", sa.String(length=34), nullable=True)
    )
    _group_existing()


def _group_existing() -> None:
    conn = op.get_bind()
    finding, transition, delivery, occurrence = _tables()
    rows = conn.execute(sa.select(finding)).all()
    members: dict[str, list[Any]] = {}
    for row in rows:
        members.setdefault(_group_id(row.rule, _subject(row)), []).append(row)
    old_ids = {row.id for row in rows}
    now = _now()
    for gid, found in sorted(members.items()):
        found.sort(key=lambda r: (_instant(r.at), r.id))
        first = found[0]
        values = {
            "rule": first.rule,
            "key": _subject(first)[:300],
            "severity": max((r.severity for r in found), key=_SEVERITIES.index),
            "status": min((r.status for r in found), key=_ORDER.index),
            "at": first.at,
            "org": first.org,
            "site": first.site,
            "district": first.district,
            "chemical": first.chemical,
            "item": first.item,
            "message": first.message,
            "evidence": first.evidence,
            "log_position": min(r.log_position for r in found),
            "found_at": min(r.found_at for r in found),
            "last_seen": max((r.at for r in found), key=_instant),
            "occurrences": len(found),
        }
        if gid in old_ids:
            conn.execute(sa.update(finding).where(finding.c.id == gid).values(**values))
        else:
            conn.execute(sa.insert(finding).values(id=gid, **values))
        conn.execute(
            sa.insert(occurrence),
            [
                {
                    "id": r.id,
                    "group_id": gid,
                    "rule": r.rule,
                    "key": r.key,
                    "severity": r.severity,
                    "at": r.at,
                    "org": r.org,
                    "site": r.site,
                    "district": r.district,
                    "chemical": r.chemical,
                    "item": r.item,
                    "message": r.message,
                    "evidence": r.evidence,
                    "supersedes": None,
                    "superseded_by": None,
                    "log_position": r.log_position,
                    "found_at": r.found_at,
                }
                for r in found
            ],
        )
        if [r.id for r in found] != [gid]:
            _merge_history(conn, transition, delivery, gid, found, values["status"], now)
    doomed = sorted(old_ids - set(members))
    for start in range(0, len(doomed), 500):
        conn.execute(sa.delete(finding).where(finding.c.id.in_(doomed[start : start + 500])))


def _merge_history(
    conn: Any, transition: sa.Table, delivery: sa.Table, gid: str, found: list[Any],
    status: str, now: str,
) -> None:  # fmt: skip
    ids = [r.id for r in found]
    history = conn.execute(sa.select(transition).where(transition.c.finding_id.in_(ids))).all()
    history.sort(key=lambda h: (_instant(h.at), h.finding_id, h.seq))
    conn.execute(sa.delete(transition).where(transition.c.finding_id.in_(ids)))
    moved = [
        {"finding_id": gid, "seq": seq, "from_status": h.from_status, "to_status": h.to_status,
         "user_id": h.user_id, "at": h.at, "comment": h.comment, "occurrence": h.finding_id}
        for seq, h in enumerate(history, start=1)
    ]  # fmt: skip
    ends = moved[-1]["to_status"] if moved else "open"
    if ends != status:
        moved.append({
            "finding_id": gid, "seq": len(moved) + 1, "from_status": ends, "to_status": status,
            "user_id": _MIGRATION, "at": now, "occurrence": None,
            "comment": f"revision 0012 grouped {len(found)} findings into this one; it takes "
            f"the least advanced of their states ({status})",
        })  # fmt: skip
    if moved:
        conn.execute(sa.insert(transition), moved)
    hooks = conn.execute(sa.select(delivery).where(delivery.c.finding_id.in_(ids))).all()
    conn.execute(sa.delete(delivery).where(delivery.c.finding_id.in_(ids)))
    kept: dict[str, Any] = {}
    for hook in sorted(hooks, key=lambda h: (h.delivered_at is None, h.finding_id)):
        kept.setdefault(hook.webhook_id, hook)
    if kept:
        conn.execute(
            sa.insert(delivery),
            [{**h._mapping, "finding_id": gid} for h in kept.values()],
        )


def downgrade() -> None:
    conn = op.get_bind()
    finding, transition, delivery, occurrence = _tables()
    now = _now()
    groups = {row.id: row for row in conn.execute(sa.select(finding))}
    members: dict[str, list[Any]] = {}
    for row in conn.execute(sa.select(occurrence)):
        members.setdefault(row.group_id, []).append(row)
    for gid, group in sorted(groups.items()):
        found = sorted(members.get(gid, []), key=lambda r: (_instant(r.at), r.id))
        status = "resolved" if group.status == "superseded" else group.status
        ids = [r.id for r in found]
        if ids == [gid]:
            if status != group.status:
                _downgrade_superseded(conn, transition, gid, now)
                conn.execute(sa.update(finding).where(finding.c.id == gid).values(status=status))
            continue
        for r in found:
            values = {
                "rule": r.rule, "key": r.key, "severity": r.severity, "status": status,
                "at": r.at, "org": r.org, "site": r.site, "district": r.district,
                "chemical": r.chemical, "item": r.item, "message": r.message,
                "evidence": r.evidence, "log_position": r.log_position,
                "found_at": r.found_at,
            }  # fmt: skip
            if r.id in groups:
                conn.execute(sa.update(finding).where(finding.c.id == r.id).values(**values))
            else:
                conn.execute(sa.insert(finding).values(id=r.id, **values))
        if not found:
            continue
        history = conn.execute(
            sa.select(transition).where(transition.c.finding_id == gid).order_by(transition.c.seq)
        ).all()
        conn.execute(sa.delete(transition).where(transition.c.finding_id == gid))
        seqs: dict[str, int] = {}
        for h in history:
            target = h.occurrence if h.occurrence in ids else ids[0]
            seqs[target] = seqs.get(target, 0) + 1
            conn.execute(sa.insert(transition).values(
                finding_id=target, seq=seqs[target], from_status=h.from_status,
                to_status=h.to_status, user_id=h.user_id, at=h.at, comment=h.comment,
            ))  # fmt: skip
        if status != group.status:
            _downgrade_superseded(conn, transition, ids[0], now)
        conn.execute(
            sa.update(delivery).where(delivery.c.finding_id == gid).values(finding_id=ids[0])
        )
        if gid not in ids:
            conn.execute(sa.delete(occurrence).where(occurrence.c.group_id == gid))
            conn.execute(sa.delete(finding).where(finding.c.id == gid))
    op.drop_index(op.f("ix_finding_occurrence_item"), table_name="finding_occurrence")
    op.drop_index(op.f("ix_finding_occurrence_group_id"), table_name="finding_occurrence")
    op.drop_table("finding_occurrence")
    op.drop_column("finding_transition", "occurrence")
    op.drop_index(op.f("ix_finding_last_seen"), table_name="finding")
    op.drop_column("finding", "occurrences")
    op.drop_column("finding", "last_seen")


def _downgrade_superseded(conn: Any, transition: sa.Table, fid: str, now: str) -> None:
    seq = conn.execute(
        sa.select(sa.func.coalesce(sa.func.max(transition.c.seq), 0)).where(
            transition.c.finding_id == fid
        )
    ).scalar_one()
    conn.execute(sa.insert(transition).values(
        finding_id=fid, seq=seq + 1, from_status="superseded", to_status="resolved",
        user_id=_MIGRATION, at=now, occurrence=None,
        comment="downgrade below revision 0012: superseded is not a state there",
    ))  # fmt: skip
