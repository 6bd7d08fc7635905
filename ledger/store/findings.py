"""Storage for the anomaly engine: reading ledger facts in log order, and findings.

Findings are derived data: inserted only if their id is new (so a replayed stream message
or an overlapping rescan never duplicates one), and each status change is a new
``finding_transition`` row, never an update of history. Saving a batch of findings, the
webhook deliveries they trigger, and the engine's cursor is one transaction.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Connection, Engine, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ledger.certificates import certificate_from_json
from ledger.errors import InvalidInputError, TransitionRefusedError, UnknownFindingError
from ledger.events import _BODY_ADAPTER
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
from ledger.store import schema as t
from ledger.store.engine import IMMEDIATE, is_sqlite
from ledger.store.repository import Clock, utc_now
from ledger.timefmt import format_utc

STATUSES: Final = ("open", "acknowledged", "resolved", "false_positive")
TRANSITIONS: Final = {
    "open": frozenset({"acknowledged", "resolved", "false_positive"}),
    "acknowledged": frozenset({"resolved", "false_positive"}),
    "resolved": frozenset(),
    "false_positive": frozenset(),
}
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
    finding: Finding
    status: str
    log_position: int
    found_at: str

    def to_json(self) -> dict[str, Any]:
        return {
            **self.finding.to_json(),
            "status": self.status,
            "log_position": self.log_position,
            "found_at": self.found_at,
        }


@dataclass(frozen=True, slots=True)
class Transition:
    seq: int
    from_status: str
    to_status: str
    user_id: str
    at: str
    comment: str

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
        """
        le = t.log_entry
        window = select(le.c.idx, le.c.log_time).where(le.c.idx > after)
        if until_time is not None:
            window = window.where(le.c.log_time <= until_time)
        if until_index is not None:
            window = window.where(le.c.idx <= until_index)
        window = window.order_by(le.c.idx).limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(window).all()
            if not rows:
                return FactPage([], after)
            times = {row.idx: row.log_time for row in rows}
            found = self._read_facts(conn, rows[0].idx, rows[-1].idx, times)
        facts = [found[index] for index in sorted(found)]
        return FactPage(facts, rows[-1].idx, full=len(rows) == limit)

    def _read_facts(
        self, conn: Connection, low: int, high: int, times: dict[int, str]
    ) -> dict[int, LedgerFact]:
        found: dict[int, LedgerFact] = {}
        ev, rr, li = t.event, t.registry_record, t.licence
        events = select(ev.c.log_index, ev.c.event_hash, ev.c.envelope)
        for row in conn.execute(events.where(ev.c.log_index.between(low, high))):
            if row.log_index in times:
                # validated strictly at ingest; parsed again, strictly, without re-hashing
                body = _BODY_ADAPTER.validate_python(json.loads(row.envelope)["body"], strict=True)
                event_hash = "sha256:" + row.event_hash.hex()
                found[row.log_index] = EventFact(
                    row.log_index, times[row.log_index], event_hash, body
                )
        records = select(rr.c.log_index, rr.c.body)
        for row in conn.execute(records.where(rr.c.log_index.between(low, high))):
            if row.log_index in times:
                found[row.log_index] = RecordFact(
                    row.log_index, times[row.log_index], record_from_bytes(row.body)
                )
        licences = select(li.c.log_index, li.c.body)
        for row in conn.execute(licences.where(li.c.log_index.between(low, high))):
            if row.log_index in times:
                licence = licence_from_json(json.loads(row.body))
                found[row.log_index] = LicenceFact(row.log_index, times[row.log_index], licence)
        ce, rv = t.certificate, t.revocation
        for row in conn.execute(select(ce.c.log_index, ce.c.body)
                                .where(ce.c.log_index.between(low, high))):  # fmt: skip
            if row.log_index in times:
                cert = certificate_from_json(json.loads(row.body))
                found[row.log_index] = CertificateFact(row.log_index, times[row.log_index], cert)
        for row in conn.execute(select(rv.c.log_index, rv.c.body)
                                .where(rv.c.log_index.between(low, high))):  # fmt: skip
            if row.log_index in times:
                revocation = revocation_from_json(json.loads(row.body))
                found[row.log_index] = RevocationFact(
                    row.log_index, times[row.log_index], revocation
                )
        return found

    def all_facts(
        self, *, until_time: str | None = None, until_index: int | None = None,
        after: int = -1, page: int = 5000,
    ) -> Iterator[LedgerFact]:  # fmt: skip
        """Every fact after ``after`` (up to ``until_time`` / ``until_index``), paged."""
        while True:
            read = self.facts(after, limit=page, until_time=until_time, until_index=until_index)
            if read.last == after:
                return
            yield from read.facts
            after = read.last

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
        """Insert the new findings (ignoring known ids), queue their webhook deliveries, and
        move the cursor, in one transaction. Returns the ids that were new."""
        now = format_utc(self._clock())
        position = cursor.log_position if cursor else -1
        with self._write() as conn:
            fresh = self._insert_new(conn, findings, position, now)
            if fresh:
                self._queue_deliveries(conn, [f for f in findings if f.id in fresh], now)
            if cursor is not None:
                self._move_cursor(conn, cursor)
        return sorted(fresh)

    def _insert_new(
        self, conn: Connection, findings: Sequence[Finding], position: int, now: str
    ) -> set[str]:
        unique = {f.id: f for f in findings}
        if not unique:
            return set()
        known = set(
            conn.execute(select(t.finding.c.id).where(t.finding.c.id.in_(list(unique)))).scalars()
        )
        fresh = [f for fid, f in unique.items() if fid not in known]
        if fresh:
            conn.execute(
                self._insert_ignore(t.finding),
                [
                    {
                        "id": f.id,
                        "rule": f.rule,
                        "key": f.key[:300],
                        "severity": f.severity,
                        "status": "open",
                        "at": f.at,
                        "org": f.org,
                        "site": f.site,
                        "district": f.district,
                        "chemical": f.chemical,
                        "item": f.item,
                        "message": f.message,
                        "evidence": json.dumps(list(f.evidence)),
                        "log_position": position,
                        "found_at": now,
                    }
                    for f in fresh
                ],
            )
        return {f.id for f in fresh}

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
        self, where: FindingFilter, *, limit: int = 100, offset: int = 0
    ) -> list[StoredFinding]:
        """Findings matching ``where``, newest first."""
        query = select(t.finding).where(*_conditions(where))
        query = query.order_by(t.finding.c.at.desc(), t.finding.c.id).limit(limit).offset(offset)
        with self.engine.connect() as conn:
            return [_stored(row) for row in conn.execute(query)]

    def count(self, where: FindingFilter) -> int:
        query = select(func.count()).select_from(t.finding).where(*_conditions(where))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def all_findings(self) -> list[Finding]:
        """Every stored finding (as the engine produced it), in id order."""
        with self.engine.connect() as conn:
            return [
                _stored(row).finding
                for row in conn.execute(select(t.finding).order_by(t.finding.c.id))
            ]

    def get(self, finding_id: str) -> tuple[StoredFinding, list[Transition]]:
        """One finding and its transitions, oldest first.

        Raises:
            UnknownFindingError: no such finding.
        """
        with self.engine.connect() as conn:
            row = conn.execute(select(t.finding).where(t.finding.c.id == finding_id)).first()
            if row is None:
                raise UnknownFindingError("no such finding", finding=finding_id)
            ft = t.finding_transition
            history = conn.execute(
                select(ft).where(ft.c.finding_id == finding_id).order_by(ft.c.seq)
            ).all()
        return _stored(row), [
            Transition(r.seq, r.from_status, r.to_status, r.user_id, r.at, r.comment)
            for r in history
        ]

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
        """Move a finding to ``to_status``, appending who, when and why.

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
            ft = t.finding_transition
            seq = (
                conn.execute(
                    select(func.coalesce(func.max(ft.c.seq), 0)).where(
                        ft.c.finding_id == finding_id
                    )
                ).scalar_one()
                + 1
            )
            made = Transition(seq, current, to_status, user_id, now, comment)
            conn.execute(insert(ft).values(finding_id=finding_id, **made.to_json()))
            conn.execute(
                update(t.finding).where(t.finding.c.id == finding_id).values(status=to_status)
            )
        return made

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

    def _queue_deliveries(self, conn: Connection, findings: Sequence[Finding], now: str) -> None:
        wh = t.webhook
        hooks = conn.execute(
            select(wh.c.id, wh.c.min_severity, wh.c.districts, wh.c.org).where(
                wh.c.disabled_at.is_(None)
            )
        ).all()
        if not hooks:
            return
        rows = [
            {"webhook_id": hook.id, "finding_id": f.id, "attempts": 0, "next_attempt_at": now}
            for f in findings
            for hook in hooks
            if SEVERITIES.index(f.severity) >= SEVERITIES.index(hook.min_severity)
            and _hook_scope(hook.districts, hook.org).in_scope(f)
        ]
        if rows:
            conn.execute(insert(t.webhook_delivery), rows)

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


def _conditions(where: FindingFilter) -> list[Any]:
    f = t.finding
    conditions: list[Any] = []
    for name in ("rule", "severity", "district", "org", "chemical", "status", "item"):
        value = getattr(where, name)
        if value is not None:
            conditions.append(f.c[name] == value)
    if where.since is not None:
        conditions.append(f.c.at >= where.since)
    if where.until is not None:
        conditions.append(f.c.at <= where.until)
    if where.districts is not None or where.own_org is not None:
        scope: list[Any] = []
        if where.districts is not None:
            scope.append(f.c.district.in_(sorted(where.districts)))
        if where.own_org is not None:
            scope.append(f.c.org == where.own_org)
        conditions.append(or_(*scope) if len(scope) > 1 else scope[0])
    return conditions


def _stored(row: Any) -> StoredFinding:
    finding = Finding(
        rule=row.rule,
        key=row.key,
        severity=row.severity,
        at=row.at,
        message=row.message,
        evidence=tuple(json.loads(row.evidence)),
        org=row.org,
        site=row.site,
        district=row.district,
        chemical=row.chemical,
        item=row.item,
    )
    return StoredFinding(finding, row.status, row.log_position, row.found_at)
