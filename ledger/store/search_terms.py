"""The maintained search terms: items by lot, waybill, vehicle and device, in the database.

The map :class:`ledger.search.SearchIndex` builds from the whole log, kept in one table by a
projector with its own cursor (:class:`ledger.store.cursor.LogCursor` ``search``) and caught
up before each read. Every server process answers from the same rows: none replays the log
into its memory on start, and a search at a past time reads rows, not the log.

A row is one (kind, folded value, item) with the earliest signed time among the events
that carry it, so "at time T" (the events with ``time <= T``) is ``first_time <= T``. The
times compare as text, as :meth:`ledger.store.service.ServiceStore.events_since` compares
``until_time``. Nothing here is evidence: :meth:`SearchTerms.verify` recomputes the rows
from the log.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from sqlalchemy import Connection, Engine, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from ledger.search import Kind, term, terms_of
from ledger.store import schema as t
from ledger.store.cursor import LogCursor, event_page

__all__ = ["CURSOR", "SearchTerms"]

CURSOR: Final = "search"

Earliest = dict[tuple[str, str, str], str]
"""(kind, term, item code) to the earliest signed time of the events carrying it."""


class SearchTerms:
    """The search terms' port: catch up, find items, rebuild, verify."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._cursor = LogCursor(engine, CURSOR)
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def catch_up(self) -> int:
        """Apply every logged event not yet applied; the number applied."""
        return self._cursor.catch_up(self._project)

    def _project(self, conn: Connection, upto: int, size: int) -> int:
        earliest: Earliest = {}
        reached, count = _fold_page(conn, upto, size, earliest)
        self._write(conn, earliest)
        self._cursor.move(conn, reached)
        return count

    def _write(self, conn: Connection, earliest: Earliest) -> None:
        if not earliest:
            return
        st = t.search_term
        statement = self._insert(st)
        statement = statement.on_conflict_do_update(
            index_elements=[st.c.kind, st.c.term, st.c.code],
            set_={"first_time": statement.excluded.first_time},
            where=statement.excluded.first_time < st.c.first_time,
        )
        rows = [
            {"kind": kind, "term": value, "code": code, "first_time": first}
            for (kind, value, code), first in earliest.items()
        ]
        conn.execute(statement, rows)

    def codes(self, kind: Kind, values: Iterable[str], *, at: str | None = None) -> frozenset[str]:
        """The items of the events whose ``kind`` is any of ``values`` (folded by
        :func:`ledger.search.term`), among the events signed at or before ``at`` if given.
        Catches up first."""
        terms = sorted({term(value) for value in values})
        if not terms:
            return frozenset()
        self.catch_up()
        st = t.search_term
        query = select(st.c.code).where(st.c.kind == kind, st.c.term.in_(terms))
        if at is not None:
            query = query.where(st.c.first_time <= at)
        with self.engine.connect() as conn:
            return frozenset(conn.execute(query).scalars())

    def rebuild(self) -> int:
        """Drop the terms and project the whole log again; the number of events applied."""
        with self._cursor.projecting() as conn:
            self._cursor.upto(conn, lock=True)
            conn.execute(delete(t.search_term))
            self._cursor.move(conn, 0)
        return self.catch_up()

    def verify(self) -> str | None:
        """Recompute the terms from the log and compare: ``None`` when they agree, else a
        sentence naming the first row that differs. Catches up first."""
        self.catch_up()
        expected: Earliest = {}
        st = t.search_term
        with self.engine.connect() as conn:
            upto, after = self._cursor.upto(conn), 0
            while after < upto:
                after, _ = _fold_page(conn, after, upto, expected)
            stored: Earliest = {
                (row.kind, row.term, row.code): row.first_time for row in conn.execute(select(st))
            }
        for key in sorted(expected.keys() | stored.keys()):
            if expected.get(key) != stored.get(key):
                kind, value, code = key
                return (
                    f"item {code} under {kind} {value!r}: first time {stored.get(key)} stored, "
                    f"{expected.get(key)} in the log"
                )
        return None


def _fold_page(conn: Connection, upto: int, size: int, earliest: Earliest) -> tuple[int, int]:
    """Fold a page of the events from log index ``upto`` (below ``size``) into ``earliest``;
    where the next page starts, and how many events were folded."""
    page, reached = event_page(conn, upto, size)
    for _, event in page:
        time = event.body.time
        for kind, value in terms_of(event.body, event.key_id):
            for link in event.body.items:
                key = (kind, value, link.code)
                known = earliest.get(key)
                if known is None or time < known:
                    earliest[key] = time
    return reached, len(page)
