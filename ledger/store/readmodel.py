"""The maintained item-state read model: each item's states as intervals of the log.

A row is an item's state just after one of its events (``from_index``) until its next one
(``to_index``; NULL for the current state). The projector applies new log entries in log
order through the same :class:`ledger.state.Projection` fold a full replay uses, so the
two cannot drift; a durable cursor (:class:`ledger.store.cursor.LogCursor`) says how far
it got, and the next read catches up.

"At time T" keeps today's meaning exactly: the fold of the events whose signed time is at
or before T, in log order (:meth:`ServiceStore.all_events` with ``until_time``). Inventory
compares the signed time's text with T's (``until_time``); the emergency view compares
instants (``moment``). An item whose events are in time order has its state at T in the
one row with ``from <= T < to``. An item whose times go back (an offline device syncing
late), or a transform output whose chemical came from such an item, is *irregular*: its
state at T is no one row, so those items alone are replayed from their events.

Nothing here is evidence: proofs come from the log, and :meth:`ItemReadModel.verify`
recomputes the model from it.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Final, NamedTuple

from sqlalchemy import Connection, Engine, Select, and_, delete, insert, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from ledger.envelope import open_envelope
from ledger.events import EventBody, Ship, Transform
from ledger.state import ItemState, Kilograms, Projection
from ledger.store import schema as t
from ledger.store.cursor import LogCursor, event_page
from ledger.timefmt import format_utc, parse_utc

CURSOR: Final = "items"
FILTERS: Final = ("site", "holder", "chemical", "status")
"""The state fields a read may filter on in SQL."""

Wanted = Mapping[str, str | Collection[str] | None]
"""Field to value (or values) the states read must have; ``None`` for any."""


@dataclass(frozen=True, slots=True)
class Held:
    """An item's state with what the emergency view also needs of its fold."""

    state: ItemState
    version: str
    """The catalog version of the item's newest event folded."""
    last_ship: int | None
    """The log index of its newest ship event folded."""


class Holding(NamedTuple):
    """An active item at a site as the emergency view shows it: its state's fields as
    stored (``quantity`` is the state's decimal as text, exactly ``str`` of it)."""

    code: str
    chemical: str | None
    holder: str | None
    site: str
    quantity: str | None
    unit: str | None
    version: str
    """The catalog version of the item's newest event folded."""


@dataclass(frozen=True, slots=True)
class Row:
    """One row of ``item_state``."""

    held: Held
    from_index: int
    from_time: str
    from_moment: str
    to_index: int | None = None
    to_time: str | None = None
    to_moment: str | None = None


@dataclass(slots=True)
class Advance:
    """What applying some events changes: rows closed and opened, items found irregular
    and transform sources."""

    closed: dict[tuple[str, int], Row]
    """Rows that were current before, by ``(code, from_index)``, now with their end."""
    opened: dict[tuple[str, int], Row]
    """New rows, by ``(code, from_index)`` in the order made (some already closed)."""
    irregular: set[str]
    sources: set[tuple[str, str]]


def moment_of(time: str) -> str:
    """A signed time as fixed-width UTC text, which sorts as the instants do."""
    return format_utc(parse_utc(time))


class Fold:
    """The projector's pure core: apply events, in log order, to the items' current rows."""

    def __init__(self, kilograms: Kilograms, current: dict[str, Row], irregular: set[str]):
        self.projection = Projection(kilograms=kilograms)
        self.projection.items.update({code: row.held.state for code, row in current.items()})
        self.current, self.irregular = current, irregular
        self.advance = Advance({}, {}, set(), set())

    def apply(self, index: int, body: EventBody) -> None:
        current, advance = self.current, self.advance
        moment = moment_of(body.time)
        codes = list(dict.fromkeys(link.code for link in body.items))
        if isinstance(body, Transform):
            source = body.data.inputs[0].code
            for link in body.items:
                if link.role != "output":
                    continue
                # kept even for an output that has a chemical: at a time before its (earlier
                # logged, later dated) commission, it exists only through this transform
                advance.sources.add((link.code, source))
                before = current.get(link.code)
                if before is None or before.held.state.chemical is None:
                    src = current.get(source)
                    if source in self.irregular or (src is not None and _earlier(
                            body.time, moment, src)):  # fmt: skip
                        self._irregular(link.code)
        self.projection.apply(body)
        for code in codes:
            before = current.get(code)
            if before is not None:
                if _earlier(body.time, moment, before):
                    self._irregular(code)
                closed = replace(before, to_index=index, to_time=body.time, to_moment=moment)
                key = (code, before.from_index)
                (advance.opened if key in advance.opened else advance.closed)[key] = closed
            last_ship = index if isinstance(body, Ship) else (
                before.held.last_ship if before else None)  # fmt: skip
            held = Held(self.projection.items[code], body.catalog_version, last_ship)
            row = Row(held, index, body.time, moment)
            current[code] = advance.opened[(code, index)] = row

    def _irregular(self, code: str) -> None:
        if code not in self.irregular:
            self.irregular.add(code)
            self.advance.irregular.add(code)


def _earlier(time: str, moment: str, before: Row) -> bool:
    """Whether an event's time goes back before the item's state's, in either order."""
    return time < before.from_time or moment < before.from_moment


class ItemReadModel:
    """The read model's port: catch up, read states now or at a time, rebuild, verify."""

    def __init__(self, engine: Engine, kilograms: Kilograms) -> None:
        self.engine = engine
        self._kilograms = kilograms
        self._cursor = LogCursor(engine, CURSOR)

    # -- the projector -------------------------------------------------------------------------

    def catch_up(self) -> int:
        """Apply every logged event not yet applied; the number applied."""
        return self._cursor.catch_up(self._project)

    def _project(self, conn: Connection, upto: int, size: int) -> int:
        page, reached = event_page(conn, upto, size)
        events = [(index, event.body) for index, event in page]
        codes = {link.code for _, body in events for link in body.items}
        codes |= {b.data.inputs[0].code for _, b in events if isinstance(b, Transform)}
        current = self._current(conn, codes)
        irregular = self._irregular_among(conn, codes)
        fold = Fold(self._kilograms, current, irregular)
        for index, body in events:
            fold.apply(index, body)
        self._write(conn, fold.advance)
        self._cursor.move(conn, reached)
        return len(events)

    def _write(self, conn: Connection, advance: Advance) -> None:
        st = t.item_state
        for row in advance.closed.values():
            conn.execute(
                update(st)
                .where(st.c.code == row.held.state.code, st.c.from_index == row.from_index)
                .values(to_index=row.to_index, to_time=row.to_time, to_moment=row.to_moment)
            )
        if advance.opened:
            conn.execute(insert(st), [_values(row) for row in advance.opened.values()])
        if advance.irregular:
            conn.execute(insert(t.item_state_irregular),
                         [{"code": code} for code in sorted(advance.irregular)])  # fmt: skip
        known = self._sources_among(conn, {code for code, _ in advance.sources})
        new = sorted(advance.sources - known)
        if new:
            conn.execute(insert(t.item_state_source), [{"code": c, "source": s} for c, s in new])

    # -- reads ---------------------------------------------------------------------------------

    def states(
        self, *, at: str | None = None, moment: str | None = None,
        codes: Collection[str] | None = None, where: Wanted | None = None,
        size: int | None = None,
    ) -> list[Held]:  # fmt: skip
        """The items' states now, or at ``at`` (signed time text ``<= at``) or ``moment``
        (fixed-width UTC, instants ``<= moment``), or after the first ``size`` log entries
        (a checkpoint's), in code order; with ``codes`` only those items; with ``where``
        only states whose fields match. Catches up first."""
        self.catch_up()
        wanted = {k: v for k, v in (where or {}).items() if v is not None}
        when = _when(at, moment, size)
        with self.engine.connect() as conn:
            found = _rows(conn, select(*HELD_COLUMNS).where(when, *_matching(wanted)), codes)
            irregular: set[str] = set()
            if size is None and (at is not None or moment is not None):
                irregular = self._irregular_among(conn, None if codes is None else set(codes))
            if irregular:
                for code in irregular:
                    found.pop(code, None)
                replayed = self._replay(conn, irregular, at, moment)
                found.update({c: h for c, h in replayed.items()
                              if c in irregular and _matches(h.state, wanted)})  # fmt: skip
        return [found[code] for code in sorted(found)]

    def holdings(
        self, sites: Collection[str], *, moment: str | None = None, size: int | None = None
    ) -> list[Holding]:
        """What :meth:`states` answers for ``where={"site": sites, "status": "active"}``
        (now, at ``moment`` or after ``size`` entries), as :class:`Holding` rows: the
        emergency view's read, which shows a few thousand items and needs no more of them.
        Catches up first."""
        self.catch_up()
        found: dict[str, Holding] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(sorted(set(sites))):
                rows = conn.execute(_holdings_query(chunk, moment, size)).tuples().all()
                found.update((row[0], Holding._make(row)) for row in rows)
            if moment is not None:
                irregular = self._irregular_among(conn, None)
                for code in irregular:
                    found.pop(code, None)
                if irregular:
                    wanted = {"site": frozenset(sites), "status": "active"}
                    for code, held in self._replay(conn, irregular, None, moment).items():
                        if code in irregular and _matches(held.state, wanted):
                            found[code] = _holding(held)
        return [found[code] for code in sorted(found)]

    def explain_holdings(self, sites: Sequence[str], *, moment: str | None = None) -> str:
        """The database's plan for :meth:`holdings` (tests check it reads an index alone)."""
        return self._explain(_holdings_query(sites, moment, None))

    def explain_current(self, codes: Sequence[str]) -> str:
        """The plan for the current states of ``codes`` (tests check it seeks each)."""
        query = select(*HELD_COLUMNS).where(_when(None, None, None))
        return self._explain(query.where(t.item_state.c.code.in_(codes)))

    def _explain(self, query: Select[Any]) -> str:
        compiled = query.compile(self.engine, compile_kwargs={"literal_binds": True})
        with self.engine.connect() as conn:
            if self.engine.dialect.name == "sqlite":
                rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}").all()
            else:  # the planner prefers a scan of a tiny table; ask what it can do
                conn.exec_driver_sql("SET enable_seqscan = off")
                conn.exec_driver_sql("SET enable_bitmapscan = off")
                rows = conn.exec_driver_sql(f"EXPLAIN {compiled}").all()
                conn.rollback()
        return "\n".join(" ".join(str(v) for v in row) for row in rows)

    def _replay(
        self, conn: Connection, codes: set[str], at: str | None, moment: str | None
    ) -> dict[str, Held]:
        """The states of ``codes`` at a time, folded from their events and those of the
        items their transforms drew a chemical from."""
        closure, frontier = set(codes), set(codes)
        while frontier:
            sources = conn.execute(select(t.item_state_source.c.source).where(
                t.item_state_source.c.code.in_(sorted(frontier)))).scalars()  # fmt: skip
            frontier = set(sources) - closure
            closure |= frontier
        ev, ei = t.event, t.event_item
        touching = select(ei.c.log_index).where(ei.c.item_code.in_(sorted(closure)))
        query = (
            select(ev.c.log_index, ev.c.envelope)
            .where(ev.c.log_index.in_(touching))
            .order_by(ev.c.log_index)
        )
        if at is not None:
            query = query.where(ev.c.event_time <= at)
        projection = Projection(kilograms=self._kilograms)
        versions: dict[str, str] = {}
        ships: dict[str, int] = {}
        for row in conn.execute(query):
            body = open_envelope(json.loads(row.envelope)).body
            if moment is not None and moment_of(body.time) > moment:
                continue
            projection.apply(body)
            for link in body.items:
                versions[link.code] = body.catalog_version
                if isinstance(body, Ship):
                    ships[link.code] = row.log_index
        return {code: Held(state, versions[code], ships.get(code))
                for code, state in projection.items.items() if code in codes}  # fmt: skip

    def _current(self, conn: Connection, codes: set[str]) -> dict[str, Row]:
        st = t.item_state
        found: dict[str, Row] = {}
        for chunk in _chunks(sorted(codes)):
            query = select(st).where(st.c.code.in_(chunk), st.c.to_index.is_(None))
            found.update((row.code, _row(row)) for row in conn.execute(query))
        return found

    @staticmethod
    def _irregular_among(conn: Connection, codes: set[str] | None) -> set[str]:
        ir = t.item_state_irregular
        if codes is None:
            return set(conn.execute(select(ir.c.code)).scalars())
        found: set[str] = set()
        for chunk in _chunks(sorted(codes)):
            found.update(conn.execute(select(ir.c.code).where(ir.c.code.in_(chunk))).scalars())
        return found

    @staticmethod
    def _sources_among(conn: Connection, codes: set[str]) -> set[tuple[str, str]]:
        src = t.item_state_source
        found: set[tuple[str, str]] = set()
        for chunk in _chunks(sorted(codes)):
            query = select(src.c.code, src.c.source).where(src.c.code.in_(chunk))
            found.update((row.code, row.source) for row in conn.execute(query))
        return found

    # -- rebuild and verify --------------------------------------------------------------------

    def rebuild(self) -> int:
        """Drop the model and project the whole log again; the number of events applied."""
        with self._cursor.projecting() as conn:
            self._cursor.upto(conn, lock=True)
            for table in (t.item_state, t.item_state_irregular, t.item_state_source):
                conn.execute(delete(table))
            self._cursor.move(conn, 0)
        return self.catch_up()

    def verify(self) -> str | None:
        """Recompute the model from the log and compare: ``None`` when they agree, else a
        sentence naming the first item (in code order) that differs. Catches up first, and
        also checks each current row against a plain full replay."""
        self.catch_up()
        with self.engine.connect() as conn:
            upto = self._cursor.upto(conn)
            fold = Fold(self._kilograms, {}, set())
            replay = Projection(kilograms=self._kilograms)
            start = 0
            while start < upto:
                page, start = event_page(conn, start, upto)
                for index, event in page:
                    fold.apply(index, event.body)
                    replay.apply(event.body)
            expected: dict[str, list[Row]] = {}
            for made in fold.advance.opened.values():
                expected.setdefault(made.held.state.code, []).append(made)
            st = t.item_state
            stored: dict[str, list[Row]] = {}
            for db_row in conn.execute(select(st).order_by(st.c.code, st.c.from_index)):
                stored.setdefault(db_row.code, []).append(_row(db_row))
            irregular = self._irregular_among(conn, None)
            sources = set(conn.execute(select(t.item_state_source)).tuples())
        for code in sorted(expected.keys() | stored.keys()):
            rows, have = expected.get(code, []), stored.get(code, [])
            if rows != have:
                return f"item {code}: {_first_difference(rows, have)}"
            if rows and rows[-1].held.state != replay.items[code]:
                return f"item {code}: its current state is not the full replay's"
            if (code in fold.irregular) != (code in irregular):
                return f"item {code}: irregular is {code in irregular}, expected the opposite"
            if {s for s in fold.advance.sources if s[0] == code} != {
                    s for s in sources if s[0] == code}:  # fmt: skip
                return f"item {code}: its transform sources differ"
        return None


def _first_difference(expected: Sequence[Row], stored: Sequence[Row]) -> str:
    for want, have in zip(expected, stored, strict=False):
        if want != have:
            return f"the state from log index {want.from_index} differs ({have} stored)"
    if len(expected) > len(stored):
        return f"no stored state from log index {expected[len(stored)].from_index}"
    return f"a stored state from log index {stored[len(expected)].from_index} the log has not"


def _when(at: str | None, moment: str | None, size: int | None) -> ColumnElement[bool]:
    """The rows that are the items' states now, at a time, or after a log size."""
    st = t.item_state
    if size is not None:
        if at is not None or moment is not None:
            raise ValueError("give a time or a log size, not both")
        # rows are intervals of the log itself, so a log position needs no replay
        # even for irregular items
        return and_(st.c.from_index < size, or_(st.c.to_index.is_(None), st.c.to_index >= size))
    if at is None and moment is None:
        return st.c.to_index.is_(None)
    start, end, bound = ((st.c.from_time, st.c.to_time, at) if at is not None
                         else (st.c.from_moment, st.c.to_moment, moment))  # fmt: skip
    return and_(start <= bound, or_(end.is_(None), end > bound))


def _holdings_query(sites: Sequence[str], moment: str | None, size: int | None) -> Select[Any]:
    st = t.item_state
    return select(*HOLDING_COLUMNS).where(
        _when(None, moment, size), st.c.status == "active", st.c.site.in_(sites)
    )


def _matching(wanted: Wanted) -> list[ColumnElement[bool]]:
    st = t.item_state
    clauses = []
    for name in FILTERS:
        value = wanted.get(name)
        if isinstance(value, str):
            clauses.append(st.c[name] == value)
        elif value is not None:
            clauses.append(st.c[name].in_(sorted(value)))
    return clauses


def _matches(state: ItemState, wanted: Wanted) -> bool:
    for name in FILTERS:
        value = wanted.get(name)
        have = getattr(state, name)
        if isinstance(value, str):
            if have != value:
                return False
        elif value is not None and have not in value:
            return False
    return True


def _rows(conn: Connection, query: Select[Any], codes: Collection[str] | None) -> dict[str, Held]:
    """The states ``query`` (of :data:`HELD_COLUMNS`) selects, by code (of ``codes`` only,
    when given)."""
    if codes is None:
        return {row[0]: _held_of(row) for row in conn.execute(query).tuples().all()}
    found: dict[str, Held] = {}
    for chunk in _chunks(sorted(codes)):
        rows = conn.execute(query.where(t.item_state.c.code.in_(chunk))).tuples().all()
        found.update((row[0], _held_of(row)) for row in rows)
    return found


def _chunks(codes: Sequence[str], size: int = 900) -> Iterable[Sequence[str]]:
    for start in range(0, len(codes), size):
        yield codes[start : start + size]


def _values(row: Row) -> dict[str, Any]:
    state = row.held.state
    return {
        "code": state.code, "from_index": row.from_index, "to_index": row.to_index,
        "from_time": row.from_time, "to_time": row.to_time,
        "from_moment": row.from_moment, "to_moment": row.to_moment,
        "chemical": state.chemical, "packaging": state.packaging, "holder": state.holder,
        "site": state.site, "status": state.status,
        "quantity": None if state.quantity is None else str(state.quantity),
        "unit": state.unit, "destination": state.destination,
        "last_event": state.last_event, "last_time": state.last_time, "seq": state.seq,
        "version": row.held.version, "last_ship": row.held.last_ship,
    }  # fmt: skip


HELD_COLUMNS: Final = tuple(t.item_state.c[name] for name in (
    "code", "chemical", "packaging", "holder", "site", "status", "quantity", "unit",
    "destination", "last_event", "last_time", "seq", "version", "last_ship",
))  # fmt: skip
"""What a state read selects, in :func:`_held_of`'s order: all in the site indexes
(``schema.ITEM_STATE_HELD``), so a read by site never visits the table."""


HOLDING_COLUMNS: Final = tuple(t.item_state.c[name] for name in Holding._fields)


def _holding(held: Held) -> Holding:
    state = held.state
    quantity = None if state.quantity is None else str(state.quantity)
    return Holding(state.code, state.chemical, state.holder, state.site or "", quantity,
                   state.unit, held.version)  # fmt: skip


def _held_of(row: Sequence[Any]) -> Held:
    """A row of :data:`HELD_COLUMNS` as a state (positional: this is the hot loop of every
    state read)."""
    (code, chemical, packaging, holder, site, status, quantity, unit, destination,
     last_event, last_time, seq, version, last_ship) = row  # fmt: skip
    state = ItemState(
        code, chemical, packaging, holder, site, status,
        None if quantity is None else Decimal(quantity), unit, destination,
        last_event, last_time, seq,
    )  # fmt: skip
    return Held(state, version, last_ship)


def _row(row: Any) -> Row:
    held = _held_of([getattr(row, column.name) for column in HELD_COLUMNS])
    return Row(held, row.from_index, row.from_time, row.from_moment, row.to_index,
               row.to_time, row.to_moment)  # fmt: skip


__all__ = ["Held", "Holding", "ItemReadModel", "moment_of"]
