"""Storage for the anomaly engine: reading ledger facts in log order, and findings.

The engine emits occurrences; a ``finding`` row is a group of them, one per (rule, subject)
(:mod:`ledger.rules.grouping`), with its first and last time seen, its worst severity and
a count. Occurrences are derived data: inserted only if their id is new (so a replayed
stream message, an overlapping rescan or a restarted worker never counts one twice).
Workflow and webhooks act on the group. Each status change is a new ``finding_transition``
row, never an update of history; the engine makes two of its own (user ``engine``):

- a resolved, false-positive or superseded group that receives a new occurrence is
  reopened, the transition naming that occurrence;
- an open or acknowledged group whose every occurrence is superseded (a deadline breach
  a late-synced event explains) becomes ``superseded``. A group a reviewer has closed
  keeps the reviewer's decision.

A webhook delivery is queued when a group is created, when it is reopened (the group's
delivery to that hook is queued again: the body's ``openings`` tells the receiver it is a
new one), and when its severity rises to a hook's ``min_severity``; a group that merely
counts one more occurrence sends nothing, so a depot's 300th clash is not 300 calls.
Saving a batch of occurrences, what they do to their groups, the deliveries and the
engine's cursor is one transaction.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

import orjson
from sqlalchemy import Connection, Engine, Row, Select, and_, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ledger.certificates import certificate_from_json
from ledger.envelope import event_hash_of
from ledger.errors import (
    InvalidInputError,
    TamperedEntryError,
    TransitionRefusedError,
    UnknownFindingError,
)
from ledger.leaf import leaf_input
from ledger.licences import licence_from_json
from ledger.records import record_from_bytes
from ledger.revocations import revocation_from_json
from ledger.rules import (
    SEVERITIES,
    CertificateFact,
    EventFact,
    Finding,
    JournalFact,
    LedgerFact,
    LicenceFact,
    RecordFact,
    RevocationFact,
)
from ledger.rules.grouping import Group, group_of, latest, subject_of, worst
from ledger.store import schema as t
from ledger.store.engine import IMMEDIATE, is_sqlite
from ledger.store.repository import Clock, utc_now
from ledger.timefmt import format_utc, parse_utc
from ledger.trusted_bodies import trusted_body

STATUSES: Final = ("open", "acknowledged", "resolved", "false_positive", "superseded")
TRANSITIONS: Final = {
    "open": frozenset({"acknowledged", "resolved", "false_positive"}),
    "acknowledged": frozenset({"resolved", "false_positive"}),
    "resolved": frozenset(),
    "false_positive": frozenset(),
    "superseded": frozenset(),
}
"""The moves a reviewer may make; only the engine reopens or supersedes a group."""
CLOSED: Final = frozenset({"resolved", "false_positive", "superseded"})
"""A new occurrence reopens a group in one of these states."""
ENGINE: Final = "engine"
"""The user id of the engine's own transitions."""
_CHUNK: Final = 500
EPOCH: Final = "1970-01-01T00:00:00Z"
GAVE_UP_AT: Final = "9999-12-31T00:00:00Z"
"""The next attempt of a webhook delivery that will not be tried again."""


@dataclass(frozen=True, slots=True)
class Cursor:
    """How far the online engine has read: log position, journal time and its clock."""

    log_position: int = -1
    journal_at: str = EPOCH
    clock: str = EPOCH
    rules_version: str = ""


@dataclass(frozen=True, slots=True)
class FactPage:
    """Rule facts from a stretch of the log, and the last log index that stretch covered."""

    facts: list[LedgerFact]
    last: int
    full: bool = False
    """The stretch hit the limit: more entries may follow at once."""


@dataclass(frozen=True, slots=True)
class StoredFinding:
    """A group as stored: its first occurrence (with the group's subject as ``key``, its
    worst severity, and when first seen as ``at``), its state, and what it adds up to."""

    finding: Finding
    status: str
    log_position: int
    found_at: str
    last_seen: str = ""
    count: int = 1
    openings: int = 1
    """1, plus one for each time the engine reopened the group."""

    def to_json(self) -> dict[str, Any]:
        return {
            **self.finding.to_json(),
            "status": self.status,
            "log_position": self.log_position,
            "found_at": self.found_at,
            "first_seen": self.finding.at,
            "last_seen": self.last_seen,
            "count": self.count,
            "openings": self.openings,
        }


@dataclass(frozen=True, slots=True)
class StoredOccurrence:
    """One occurrence of a group, as the engine produced it, and what superseded it."""

    finding: Finding
    group_id: str
    log_position: int
    found_at: str
    superseded_by: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            **self.finding.to_json(),
            "group_id": self.group_id,
            "log_position": self.log_position,
            "found_at": self.found_at,
            "superseded_by": self.superseded_by,
        }


@dataclass(frozen=True, slots=True)
class Transition:
    seq: int
    from_status: str
    to_status: str
    user_id: str
    at: str
    comment: str
    occurrence: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(frozen=True, slots=True)
class FindingFilter:
    rule: str | None = None
    severity: str | None = None
    district: str | None = None
    org: str | None = None
    chemical: str | None = None
    status: str | None = None
    item: str | None = None
    since: str | None = None
    until: str | None = None
    districts: frozenset[str] | None = None
    """Scope: only these districts (a regulator's), when set."""
    own_org: str | None = None
    """Scope: only findings about this organisation (an enterprise's), when set."""
    rules: frozenset[str] | None = None
    severities: frozenset[str] | None = None
    statuses: frozenset[str] | None = None
    """Any of these (each beside the single-valued field of the same name)."""
    site: str | None = None
    """An occurrence at this site (a group's occurrences may be at several of an org's)."""
    chemicals: frozenset[str] | None = None
    """An occurrence about any of these catalog codes (a chemical and its forms)."""

    def in_scope(self, finding: Finding) -> bool:
        """Whether ``finding`` is inside this filter's scope (as the SQL query judges it)."""
        if self.districts is None and self.own_org is None:
            return True
        return (self.districts is not None and finding.district in self.districts) or (
            self.own_org is not None and finding.org == self.own_org
        )


class FindingStore:
    """Reads facts for the engine; stores and queries findings, transitions and webhooks."""

    def __init__(self, engine: Engine, *, clock: Clock = utc_now) -> None:
        self.engine = engine
        self._clock = clock
        self._sqlite = is_sqlite(str(engine.url))

    @contextlib.contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction that takes SQLite's write lock up front (BEGIN IMMEDIATE):
        a read-then-write under a plain BEGIN fails at once when another writer commits."""
        with self.engine.connect().execution_options(**{IMMEDIATE: True}) as conn, conn.begin():
            yield conn

    # -- facts -------------------------------------------------------------------------------

    def facts(
        self, after: int, *, limit: int = 5000, until_time: str | None = None,
        until_index: int | None = None,
    ) -> FactPage:  # fmt: skip
        """Events, registry records, licences, certificates and revocations among the next
        ``limit`` log entries after index ``after``, in log order (code batches are not rule
        facts).

        ``until_time`` stops at the first entry logged later (a batch run's as-of time);
        ``until_index`` at that index (a restarted worker's cursor).

        Raises:
            TamperedEntryError: a stored event's bytes do not match its logged hash.
        """
        query = _fact_rows(after, until_time, until_index).limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        if not rows:
            return FactPage([], after)
        facts = [fact for fact in map(_fact, rows) if fact is not None]
        return FactPage(facts, rows[-1].idx, full=len(rows) == limit)

    def all_facts(
        self, *, until_time: str | None = None, until_index: int | None = None,
        after: int = -1, page: int = 20_000,
    ) -> Iterator[LedgerFact]:  # fmt: skip
        """Every fact after ``after`` (up to ``until_time`` / ``until_index``), read by one
        streaming query (``page`` rows fetched at a time) in one read transaction, so a
        rescan sees one consistent ledger however long it runs.

        Raises:
            TamperedEntryError: a stored event's bytes do not match its logged hash.
        """
        query = _fact_rows(after, until_time, until_index)
        with self.engine.connect() as conn, conn.begin():
            result = conn.execution_options(yield_per=page).execute(query)
            for rows in result.partitions():
                for row in rows:
                    fact = _fact(row)
                    if fact is not None:
                        yield fact

    def log_end(self, *, until_time: str | None = None) -> tuple[int, str | None]:
        """``(last index, its log time)`` of the log (up to ``until_time``); -1 when empty."""
        le = t.log_entry
        query = select(func.max(le.c.idx))
        if until_time is not None:
            query = query.where(le.c.log_time <= until_time)
        with self.engine.connect() as conn:
            index = conn.execute(query).scalar_one_or_none()
            if index is None:
                return -1, None
            return index, conn.execute(select(le.c.log_time).where(le.c.idx == index)).scalar_one()

    def journal(self, *, since: str = EPOCH, until: str | None = None) -> list[JournalFact]:
        """Security-journal entries first seen at or after ``since`` (and at or before ``until``).

        An aggregated row is read once, by when it was first seen: what the engine reads of
        it never changes as its count grows, so reading it again could only repeat a
        finding, and the online engine and a rescan read the same facts.
        """
        sj = t.security_journal
        query = select(sj).where(sj.c.at >= since).order_by(sj.c.at, sj.c.id)
        if until is not None:
            query = query.where(sj.c.at <= until)
        with self.engine.connect() as conn:
            return [
                JournalFact(
                    id=row.id,
                    at=row.at,
                    code=row.code,
                    detail=row.detail,
                    org=row.org,
                    site=row.site,
                    district=row.district,
                    item=row.item_code,
                )
                for row in conn.execute(query)
            ]

    # -- saving ------------------------------------------------------------------------------

    def save(self, findings: Sequence[Finding], cursor: Cursor | None = None) -> list[str]:
        """Insert the new occurrences (ignoring known ids) into their groups, reopen or
        supersede groups, queue webhook deliveries, and move the cursor, in one
        transaction. Returns the occurrence ids that were new."""
        now = format_utc(self._clock())
        position = cursor.log_position if cursor else -1
        with self._write() as conn:
            fresh = self._unknown(conn, findings)
            if fresh:
                notify = self._add_to_groups(conn, fresh, position, now)
                occurrences = [_occurrence_row(f, position, now) for f in fresh]
                conn.execute(self._insert_ignore(t.finding_occurrence), occurrences)
                superseded = self._supersede(conn, fresh, now)
                self._queue_deliveries(conn, notify, superseded, now)
            if cursor is not None:
                self._move_cursor(conn, cursor)
        return sorted(f.id for f in fresh)

    def _unknown(self, conn: Connection, findings: Sequence[Finding]) -> list[Finding]:
        """The occurrences among ``findings`` not stored yet, each once."""
        unique = {f.id: f for f in findings}
        oc = t.finding_occurrence
        known: set[str] = set()
        ids = list(unique)
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            known.update(conn.execute(select(oc.c.id).where(oc.c.id.in_(chunk))).scalars())
        return [f for fid, f in unique.items() if fid not in known]

    def _add_to_groups(
        self, conn: Connection, fresh: list[Finding], position: int, now: str
    ) -> list[_Notice]:
        """Create or update the groups of ``fresh`` occurrences; what to tell webhooks."""
        members: dict[str, list[Finding]] = {}
        for f in fresh:
            members.setdefault(group_of(f), []).append(f)
        existing: dict[str, Any] = {}
        gids = list(members)
        for start in range(0, len(gids), _CHUNK):
            query = select(t.finding).where(t.finding.c.id.in_(gids[start : start + _CHUNK]))
            existing.update({row.id: row for row in conn.execute(self._for_update(query))})
        notices: list[_Notice] = []
        new_rows: list[dict[str, Any]] = []
        for gid, found in members.items():
            first = min(found, key=_first_key)
            severity = first.severity
            for f in found:
                severity = worst(severity, f.severity)
            last_seen = max((f.at for f in found), key=parse_utc)
            row = existing.get(gid)
            if row is None:
                new_rows.append(
                    _group_row(gid, first, severity, last_seen, len(found), position, now)
                )
                notices.append(_Notice(gid, replace(first, severity=severity), "created"))
                continue
            values: dict[str, Any] = {
                "occurrences": row.occurrences + len(found),
                "last_seen": latest(row.last_seen, last_seen) if row.last_seen else last_seen,
                "severity": worst(row.severity, severity),
            }
            if self._earlier_than_first(conn, gid, row, first):
                values.update(_first_fields(first))
            conn.execute(update(t.finding).where(t.finding.c.id == gid).values(**values))
            scope = _stored(row).finding
            grown = replace(scope, severity=values["severity"])
            if row.status in CLOSED:
                newest = max(found, key=_first_key)
                self._engine_move(
                    conn, gid, row.status, "open", now, occurrence=newest.id,
                    comment=f"reopened by a new occurrence {newest.id} at {newest.at}: "
                    f"{newest.message}"[:2000],
                )  # fmt: skip
                notices.append(_Notice(gid, grown, "reopened"))
            elif values["severity"] != row.severity:
                notices.append(_Notice(gid, grown, "escalated", row.severity))
        if new_rows:
            conn.execute(insert(t.finding), new_rows)
        return notices

    def _earlier_than_first(self, conn: Connection, gid: str, row: Any, candidate: Finding) -> bool:
        """Whether ``candidate`` comes before the group's first occurrence (by time, then
        by id), so that which occurrence represents a group never depends on batching."""
        at, first_at = parse_utc(candidate.at), parse_utc(row.at)
        if at != first_at:
            return at < first_at
        oc = t.finding_occurrence
        ids = conn.execute(
            select(oc.c.id, oc.c.at).where(oc.c.group_id == gid, oc.c.id != candidate.id)
        ).all()
        ties = [r.id for r in ids if parse_utc(r.at) == first_at]
        return not ties or candidate.id < min(ties)

    def _supersede(self, conn: Connection, fresh: list[Finding], now: str) -> set[str]:
        """Mark the occurrences ``fresh`` ones supersede; move each open or acknowledged
        group all of whose occurrences are now superseded to ``superseded``. Returns the
        ids of the groups moved."""
        oc = t.finding_occurrence
        by_target = {target: f for f in fresh for target in f.supersedes}
        if not by_target:
            return set()
        touched: dict[str, Finding] = {}
        targets = list(by_target)
        for start in range(0, len(targets), _CHUNK):
            chunk = targets[start : start + _CHUNK]
            rows = conn.execute(
                select(oc.c.id, oc.c.group_id).where(oc.c.id.in_(chunk),
                                                     oc.c.superseded_by.is_(None))
            ).all()  # fmt: skip
            for row in rows:
                by = by_target[row.id]
                conn.execute(update(oc).where(oc.c.id == row.id).values(superseded_by=by.id))
                touched[row.group_id] = by
        moved: set[str] = set()
        for gid, by in sorted(touched.items()):
            standing = conn.execute(
                select(func.count())
                .select_from(oc)
                .where(oc.c.group_id == gid, oc.c.superseded_by.is_(None))
            ).scalar_one()
            status = conn.execute(
                self._for_update(select(t.finding.c.status).where(t.finding.c.id == gid))
            ).scalar_one()
            if standing == 0 and status in ("open", "acknowledged"):
                self._engine_move(
                    conn, gid, status, "superseded", now, occurrence=by.id,
                    comment=f"superseded by {by.id} ({by.rule}): {by.message}"[:2000],
                )  # fmt: skip
                moved.add(gid)
        return moved

    def _engine_move(
        self, conn: Connection, gid: str, current: str, to_status: str, now: str, *,
        comment: str, occurrence: str,
    ) -> None:  # fmt: skip
        self._append_transition(
            conn, gid, Transition(0, current, to_status, ENGINE, now, comment, occurrence)
        )

    def _append_transition(self, conn: Connection, gid: str, made: Transition) -> Transition:
        ft = t.finding_transition
        seq = (
            conn.execute(
                select(func.coalesce(func.max(ft.c.seq), 0)).where(ft.c.finding_id == gid)
            ).scalar_one()
            + 1
        )
        made = replace(made, seq=seq)
        conn.execute(insert(ft).values(finding_id=gid, **made.to_json()))
        conn.execute(update(t.finding).where(t.finding.c.id == gid).values(status=made.to_status))
        return made

    def _insert_ignore(self, table: Any) -> Any:
        dialect = sqlite if self._sqlite else postgresql
        return dialect.insert(table).on_conflict_do_nothing()

    def _move_cursor(self, conn: Connection, cursor: Cursor) -> None:
        values = {
            "log_position": cursor.log_position,
            "journal_at": cursor.journal_at,
            "clock": cursor.clock,
            "rules_version": cursor.rules_version,
        }
        dialect = sqlite if self._sqlite else postgresql
        statement = dialect.insert(t.rule_cursor).values(name="online", **values)
        conn.execute(statement.on_conflict_do_update(index_elements=["name"], set_=values))

    def cursor(self) -> Cursor:
        query = select(t.rule_cursor).where(t.rule_cursor.c.name == "online")
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return Cursor()
        return Cursor(row.log_position, row.journal_at, row.clock, row.rules_version)

    # -- reading -----------------------------------------------------------------------------

    def search(
        self, where: FindingFilter, *, limit: int = 100, offset: int = 0,
        after: tuple[str, str] | None = None,
    ) -> list[StoredFinding]:  # fmt: skip
        """Groups matching ``where``, most recently seen first (then by id); with ``after``
        (a row's ``(last_seen, id)``), those that follow it in that order."""
        f = t.finding
        query = select(f, _openings()).where(*_conditions(where))
        if after is not None:
            seen, finding_id = after
            query = query.where(or_(f.c.last_seen < seen,
                                    and_(f.c.last_seen == seen, f.c.id > finding_id)))  # fmt: skip
        query = query.order_by(f.c.last_seen.desc(), f.c.id)
        with self.engine.connect() as conn:
            return [_stored(row) for row in conn.execute(query.limit(limit).offset(offset))]

    def count(self, where: FindingFilter, *, cap: int | None = None) -> int:
        """How many groups match ``where``; with ``cap``, counting stops after ``cap``
        (a count of ``cap + 1`` says "more than ``cap``")."""
        matching = select(t.finding.c.id).where(*_conditions(where))
        if cap is not None:
            matching = matching.limit(cap + 1)
        query = select(func.count()).select_from(matching.subquery())
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def all_findings(self) -> list[Finding]:
        """Every stored occurrence (as the engine produced it), in id order."""
        oc = t.finding_occurrence
        with self.engine.connect() as conn:
            return [_occurrence(row).finding for row in conn.execute(select(oc).order_by(oc.c.id))]

    def all_groups(self) -> dict[str, Group]:
        """Every group, by id, as :func:`ledger.rules.grouping.group_findings` would make it
        from the stored occurrences (for parity checks)."""
        oc = t.finding_occurrence
        with self.engine.connect() as conn:
            members: dict[str, list[str]] = {}
            for row in conn.execute(select(oc.c.id, oc.c.group_id)):
                members.setdefault(row.group_id, []).append(row.id)
            return {
                row.id: Group(
                    id=row.id,
                    rule=row.rule,
                    subject=row.key,
                    severity=row.severity,
                    first_seen=row.at,
                    last_seen=row.last_seen,
                    count=row.occurrences,
                    occurrences=tuple(sorted(members.get(row.id, ()))),
                )
                for row in conn.execute(select(t.finding))
            }

    def get(self, finding_id: str) -> tuple[StoredFinding, list[Transition]]:
        """One group and its transitions, oldest first.

        Raises:
            UnknownFindingError: no such finding.
        """
        with self.engine.connect() as conn:
            query = select(t.finding, _openings()).where(t.finding.c.id == finding_id)
            row = conn.execute(query).first()
            if row is None:
                raise UnknownFindingError("no such finding", finding=finding_id)
            ft = t.finding_transition
            history = conn.execute(
                select(ft).where(ft.c.finding_id == finding_id).order_by(ft.c.seq)
            ).all()
        return _stored(row), [
            Transition(r.seq, r.from_status, r.to_status, r.user_id, r.at, r.comment, r.occurrence)
            for r in history
        ]

    def occurrences(
        self, finding_id: str, *, scope: FindingFilter | None = None, limit: int = 100,
        offset: int = 0, after: tuple[str, str] | None = None,
    ) -> tuple[list[StoredOccurrence], int]:  # fmt: skip
        """A page of a group's occurrences within ``scope`` (its districts and own org),
        newest first (by time as written, then id), after ``(at, id)`` when given, and how
        many there are in all."""
        oc = t.finding_occurrence
        where = [oc.c.group_id == finding_id, *_scope(oc, scope or FindingFilter())]
        query = select(oc).where(*where).order_by(oc.c.at.desc(), oc.c.id)
        if after is not None:
            at, occurrence_id = after
            query = query.where(or_(oc.c.at < at, and_(oc.c.at == at, oc.c.id > occurrence_id)))
        with self.engine.connect() as conn:
            page = [_occurrence(row) for row in conn.execute(query.limit(limit).offset(offset))]
            total = conn.execute(select(func.count()).select_from(oc).where(*where)).scalar_one()
        return page, int(total)

    # -- workflow ----------------------------------------------------------------------------

    def transition(
        self,
        finding_id: str,
        to_status: str,
        *,
        user_id: str,
        comment: str,
        expected: str | None = None,
    ) -> Transition:
        """Move a group to ``to_status``, appending who, when and why (a reviewer's move:
        :data:`TRANSITIONS`; reopening and superseding are the engine's).

        Raises:
            UnknownFindingError: no such finding.
            InvalidInputError: an unknown status or an empty comment.
            TransitionRefusedError: the move is not allowed from the current status, or the status
                is no longer ``expected``.
        """
        if to_status not in STATUSES:
            raise InvalidInputError(f"unknown status {to_status!r}", field="status")
        if not comment.strip():
            raise InvalidInputError("a transition needs a comment", field="comment")
        now = format_utc(self._clock())
        with self._write() as conn:
            row = conn.execute(
                self._for_update(select(t.finding.c.status).where(t.finding.c.id == finding_id))
            ).first()
            if row is None:
                raise UnknownFindingError("no such finding", finding=finding_id)
            current = row.status
            if expected is not None and current != expected:
                raise TransitionRefusedError(
                    f"the finding is {current}, not {expected}", status=current
                )
            if to_status not in TRANSITIONS[current]:
                raise TransitionRefusedError(
                    f"a finding that is {current} cannot become {to_status}", status=current
                )
            made = Transition(0, current, to_status, user_id, now, comment)
            return self._append_transition(conn, finding_id, made)

    def _for_update(self, query: Any) -> Any:
        return query if self._sqlite else query.with_for_update()

    # -- webhooks ----------------------------------------------------------------------------

    def add_webhook(
        self,
        webhook_id: str,
        user_id: str,
        url: str,
        min_severity: str,
        *,
        districts: frozenset[str] | None,
        org: str | None,
    ) -> None:
        """Subscribe ``url`` to new findings of at least ``min_severity`` in the owner's scope
        (``districts`` for a regulator, ``org`` for an enterprise, both ``None`` for all)."""
        if min_severity not in SEVERITIES:
            raise InvalidInputError(f"unknown severity {min_severity!r}", field="min_severity")
        with self._write() as conn:
            conn.execute(
                insert(t.webhook).values(
                    id=webhook_id,
                    user_id=user_id,
                    url=url,
                    min_severity=min_severity,
                    districts=None if districts is None else json.dumps(sorted(districts)),
                    org=org,
                    created_at=format_utc(self._clock()),
                )
            )

    def webhooks(self, user_id: str | None = None) -> list[dict[str, Any]]:
        query = select(t.webhook).where(t.webhook.c.disabled_at.is_(None))
        if user_id is not None:
            query = query.where(t.webhook.c.user_id == user_id)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query.order_by(t.webhook.c.id))]

    def disable_webhook(self, webhook_id: str, user_id: str | None) -> None:
        """Raises UnknownFindingError unless the (user's) webhook exists and is active."""
        conditions = [t.webhook.c.id == webhook_id, t.webhook.c.disabled_at.is_(None)]
        if user_id is not None:
            conditions.append(t.webhook.c.user_id == user_id)
        with self._write() as conn:
            done = conn.execute(
                update(t.webhook).where(*conditions).values(disabled_at=format_utc(self._clock()))
            )
            if done.rowcount != 1:
                raise UnknownFindingError("no such webhook", webhook=webhook_id)

    def _queue_deliveries(
        self, conn: Connection, notices: list[_Notice], superseded: set[str], now: str
    ) -> None:
        """A delivery per matching hook for each group created, reopened or escalated;
        none for a group that this same save superseded (it was explained before anyone
        was told)."""
        wh = t.webhook
        notices = [n for n in notices if n.group_id not in superseded]
        if not notices:
            return
        hooks = conn.execute(
            select(wh.c.id, wh.c.min_severity, wh.c.districts, wh.c.org).where(
                wh.c.disabled_at.is_(None)
            )
        ).all()
        fresh: list[dict[str, Any]] = []
        again: list[dict[str, Any]] = []
        for notice in notices:
            rank = SEVERITIES.index(notice.scope.severity)
            for hook in hooks:
                wanted = SEVERITIES.index(hook.min_severity)
                if rank < wanted or not _hook_scope(hook.districts, hook.org).in_scope(
                    notice.scope
                ):
                    continue
                if notice.why == "escalated" and SEVERITIES.index(notice.was) >= wanted:
                    continue  # the hook heard of this group already
                row = {
                    "webhook_id": hook.id,
                    "finding_id": notice.group_id,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "delivered_at": None,
                    "last_error": None,
                }
                (again if notice.why == "reopened" else fresh).append(row)
        dialect = sqlite if self._sqlite else postgresql
        if fresh:
            conn.execute(dialect.insert(t.webhook_delivery).on_conflict_do_nothing(), fresh)
        if again:
            statement = dialect.insert(t.webhook_delivery)
            conn.execute(
                statement.on_conflict_do_update(
                    index_elements=["webhook_id", "finding_id"],
                    set_={
                        name: statement.excluded[name]
                        for name in ("attempts", "next_attempt_at", "delivered_at", "last_error")
                    },
                ),
                again,
            )

    def due_deliveries(self, *, limit: int = 100) -> list[dict[str, Any]]:
        """Undelivered deliveries whose next attempt is due, with the hook and the finding."""
        wd, wh = t.webhook_delivery, t.webhook
        query = (
            select(wd.c.webhook_id, wd.c.finding_id, wd.c.attempts, wh.c.url, wh.c.user_id)
            .join(wh, wh.c.id == wd.c.webhook_id)
            .where(
                wd.c.delivered_at.is_(None),
                wh.c.disabled_at.is_(None),
                wd.c.next_attempt_at <= format_utc(self._clock()),
            )
            .order_by(wd.c.next_attempt_at)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def delivery_done(
        self, webhook_id: str, finding_id: str, *, error: str | None, retry_at: str | None
    ) -> None:
        """Record an attempt: delivered (``error`` None) or failed, retrying at ``retry_at``."""
        now = format_utc(self._clock())
        wd = t.webhook_delivery
        values: dict[str, Any] = {"attempts": wd.c.attempts + 1}
        if error is None:
            values["delivered_at"] = now
        else:
            values["last_error"] = error[:300]
            values["next_attempt_at"] = retry_at or GAVE_UP_AT
        with self._write() as conn:
            conn.execute(
                update(wd)
                .where(wd.c.webhook_id == webhook_id, wd.c.finding_id == finding_id)
                .values(**values)
            )

    def deliveries(self, finding_id: str) -> list[dict[str, Any]]:
        wd = t.webhook_delivery
        with self.engine.connect() as conn:
            return [
                dict(row._mapping)
                for row in conn.execute(select(wd).where(wd.c.finding_id == finding_id))
            ]


def _hook_scope(districts: str | None, org: str | None) -> FindingFilter:
    return FindingFilter(
        districts=None if districts is None else frozenset(json.loads(districts)), own_org=org
    )


@dataclass(frozen=True, slots=True)
class _Notice:
    """A group webhooks may need to hear of, and why."""

    group_id: str
    scope: Finding
    """The group's first occurrence with the group's severity (what hooks are matched on)."""
    why: str
    was: str = "low"
    """For ``escalated``: the severity hooks were matched on before."""


def _conditions(where: FindingFilter) -> list[Any]:
    f, oc = t.finding, t.finding_occurrence
    conditions: list[Any] = []
    for name in ("rule", "severity", "district", "org", "status"):
        value = getattr(where, name)
        if value is not None:
            conditions.append(f.c[name] == value)
    for name, values in (("rule", where.rules), ("severity", where.severities),
                         ("status", where.statuses)):  # fmt: skip
        if values is not None:
            conditions.append(f.c[name].in_(sorted(values)))
    # what may differ between a group's occurrences matches if any occurrence has it
    for name in ("chemical", "item", "site"):
        value = getattr(where, name)
        if value is not None:
            conditions.append(f.c.id.in_(select(oc.c.group_id).where(oc.c[name] == value)))
    if where.chemicals is not None:
        chosen = oc.c.chemical.in_(sorted(where.chemicals))
        conditions.append(f.c.id.in_(select(oc.c.group_id).where(chosen)))
    if where.since is not None:
        conditions.append(f.c.last_seen >= where.since)
    if where.until is not None:
        conditions.append(f.c.at <= where.until)
    return conditions + _scope(f, where)


def _scope(table: Any, where: FindingFilter) -> list[Any]:
    """The SQL of :meth:`FindingFilter.in_scope` over ``table`` (groups or occurrences)."""
    if where.districts is None and where.own_org is None:
        return []
    scope: list[Any] = []
    if where.districts is not None:
        scope.append(table.c.district.in_(sorted(where.districts)))
    if where.own_org is not None:
        scope.append(table.c.org == where.own_org)
    return [or_(*scope) if len(scope) > 1 else scope[0]]


def _first_key(f: Finding) -> tuple[Any, str]:
    return parse_utc(f.at), f.id


def _first_fields(first: Finding) -> dict[str, Any]:
    """The group columns its first occurrence fills."""
    return {
        "at": first.at,
        "site": first.site,
        "chemical": first.chemical,
        "item": first.item,
        "message": first.message,
        "evidence": json.dumps(list(first.evidence)),
    }


def _group_row(
    gid: str, first: Finding, severity: str, last_seen: str, count: int, position: int,
    now: str,
) -> dict[str, Any]:  # fmt: skip
    return {
        "id": gid,
        "rule": first.rule,
        "key": subject_of(first)[:300],
        "severity": severity,
        "status": "open",
        "org": first.org,
        "district": first.district,
        "log_position": position,
        "found_at": now,
        "last_seen": last_seen,
        "occurrences": count,
        **_first_fields(first),
    }


def _occurrence_row(f: Finding, position: int, now: str) -> dict[str, Any]:
    return {
        "id": f.id,
        "group_id": group_of(f),
        "rule": f.rule,
        "key": f.key[:300],
        "severity": f.severity,
        "at": f.at,
        "org": f.org,
        "site": f.site,
        "district": f.district,
        "chemical": f.chemical,
        "item": f.item,
        "message": f.message,
        "evidence": json.dumps(list(f.evidence)),
        "supersedes": json.dumps(list(f.supersedes)) if f.supersedes else None,
        "superseded_by": None,
        "log_position": position,
        "found_at": now,
    }


def _stored(row: Any) -> StoredFinding:
    finding = _finding(row, supersedes=())
    openings = int(getattr(row, "openings", 0) or 0) + 1
    return StoredFinding(finding, row.status, row.log_position, row.found_at,
                         row.last_seen or row.at, row.occurrences, openings)  # fmt: skip


def _finding(row: Any, supersedes: tuple[str, ...]) -> Finding:
    """A finding (a group's first occurrence, or an occurrence) from its stored row."""
    return Finding(
        rule=row.rule, key=row.key, severity=row.severity, at=row.at, message=row.message,
        evidence=tuple(json.loads(row.evidence)), org=row.org, site=row.site,
        district=row.district, chemical=row.chemical, item=row.item, supersedes=supersedes,
    )  # fmt: skip


def _openings() -> Any:
    """How often the engine reopened each group, as a column of a ``finding`` query."""
    ft = t.finding_transition
    reopened = select(func.count()).where(
        ft.c.finding_id == t.finding.c.id, ft.c.to_status == "open", ft.c.user_id == ENGINE
    )
    return reopened.scalar_subquery().label("openings")


def _occurrence(row: Any) -> StoredOccurrence:
    finding = _finding(row, tuple(json.loads(row.supersedes)) if row.supersedes else ())
    return StoredOccurrence(finding, row.group_id, row.log_position, row.found_at,
                            row.superseded_by)  # fmt: skip


def _fact_rows(after: int, until_time: str | None, until_index: int | None) -> Select[Any]:
    """Log entries after ``after`` in log order, each with the stored bytes of its kind.

    One query: every table joined holds at most one row per log index (a unique column), so
    no entry is repeated, and an entry of another kind (a code batch) has only NULLs there.
    """
    le, ev, rr, li, ce, rv = (t.log_entry, t.event, t.registry_record, t.licence,
                              t.certificate, t.revocation)  # fmt: skip
    query = (
        select(le.c.idx, le.c.kind, le.c.log_time, le.c.leaf_input, ev.c.envelope,
               rr.c.body.label("record"), li.c.body.label("licence"),
               ce.c.body.label("certificate"), rv.c.body.label("revocation"))
        .select_from(le)
        .outerjoin(ev, ev.c.log_index == le.c.idx)
        .outerjoin(rr, rr.c.log_index == le.c.idx)
        .outerjoin(li, li.c.log_index == le.c.idx)
        .outerjoin(ce, ce.c.log_index == le.c.idx)
        .outerjoin(rv, rv.c.log_index == le.c.idx)
        .where(le.c.idx > after)
        .order_by(le.c.idx)
    )  # fmt: skip
    if until_time is not None:
        query = query.where(le.c.log_time <= until_time)
    if until_index is not None:
        query = query.where(le.c.idx <= until_index)
    return query


def _fact(row: Row[Any]) -> LedgerFact | None:
    index, kind, log_time, leaf, envelope = row[:5]
    if kind == "event" and envelope is not None:
        return _event_fact(index, log_time, leaf, envelope)
    if kind == "code_batch":
        return None
    column = _STORED.get(kind)
    stored = None if column is None else row[column]
    if stored is None:
        # a leaf with no stored entry of its kind: a row was deleted (or the kind is new)
        raise TamperedEntryError("a log entry has no stored body of its kind",
                                 log_index=index, kind=kind)  # fmt: skip
    if kind == "record":
        return RecordFact(index, log_time, record_from_bytes(stored))
    if kind == "licence":
        return LicenceFact(index, log_time, licence_from_json(json.loads(stored)))
    if kind == "certificate":
        return CertificateFact(index, log_time, certificate_from_json(json.loads(stored)))
    return RevocationFact(index, log_time, revocation_from_json(json.loads(stored)))


_STORED: Final = {"event": 4, "record": 5, "licence": 6, "certificate": 7, "revocation": 8}
"""Each rule-fact kind of log entry, and the position in a row of :func:`_fact_rows` of
the column holding it."""


def _event_fact(index: int, log_time: str, leaf: bytes, envelope: bytes) -> EventFact:
    """The event logged at ``index``, decoded without validating its body again.

    Ingest validated the body strictly and logged the hash of these canonical bytes in the
    entry's leaf. Bytes that still hash to what the leaf commits to are the bytes that
    passed (SHA-256 is second-preimage resistant), so they are rebuilt as trusted
    (:func:`ledger.trusted_bodies.trusted_body`). Bytes that do not were changed after
    ingest: they are refused, never judged, whatever they now say. Whether the leaf itself
    is the one the signed tree holds is what ``verify-log`` checks (and a snapshot binds).
    """
    digest = event_hash_of(envelope)
    if leaf != leaf_input("event", digest, log_time):
        raise TamperedEntryError(
            "a stored event does not match the hash its log entry commits to",
            log_index=index,
        )
    try:
        body = trusted_body(orjson.loads(envelope)["body"])
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        # unreachable unless SHA-256 collides or ingest stored bytes it did not validate
        raise TamperedEntryError("a stored event is not a body the ledger validated",
                                 log_index=index) from exc  # fmt: skip
    return EventFact(index, log_time, "sha256:" + digest.hex(), body)
