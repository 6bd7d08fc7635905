"""A projector's durable cursor: how far into the log a derived table has applied.

Derived tables (the item-state read model, the search terms) are caught up after the
append, in their own transactions, never inside it. A crash between the two only leaves the
cursor behind. Projectors sharing a cursor are serialised (``BEGIN IMMEDIATE`` on SQLite,
the cursor's row lock on PostgreSQL), so several server processes can share one database.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Final

from sqlalchemy import Connection, Engine, insert, select, update

from ledger.envelope import SignedEvent, open_envelope
from ledger.store import schema as t
from ledger.store.engine import IMMEDIATE, is_sqlite

__all__ = ["PAGE", "LogCursor", "event_page"]

PAGE: Final = 1000
"""Events per projector transaction (on SQLite it holds the write lock, so keep it short)."""


def event_page(conn: Connection, start: int, end: int) -> tuple[list[tuple[int, SignedEvent]], int]:
    """The logged events with ``start <= index < end``, at most :data:`PAGE` of them, opened
    (not verified: derived tables trust the log they are built from); and where the next
    page starts (``end`` when this one reached it)."""
    ev = t.event
    rows = conn.execute(
        select(ev.c.log_index, ev.c.envelope)
        .where(ev.c.log_index >= start, ev.c.log_index < end)
        .order_by(ev.c.log_index)
        .limit(PAGE)
    ).all()
    events = [(row.log_index, open_envelope(json.loads(row.envelope))) for row in rows]
    return events, (end if len(rows) < PAGE else rows[-1].log_index + 1)


@dataclass(frozen=True, slots=True)
class LogCursor:
    """The cursor row ``name`` of ``readmodel_cursor``: every event below ``upto`` applied."""

    engine: Engine
    name: str
    _sqlite: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_sqlite", is_sqlite(str(self.engine.url)))

    def catch_up(self, project: Callable[[Connection, int, int], int]) -> int:
        """Apply every logged event not yet applied, one page a transaction; the number
        applied. ``project(conn, upto, size)`` applies a page of the events from log index
        ``upto`` (below ``size``), moves the cursor past them and says how many it applied.
        Cheap (two small reads) when nothing is new."""
        applied = 0
        if not self.behind():
            return 0
        while True:
            with self.projecting() as conn:
                upto, size = self.upto(conn, lock=True), self.size(conn)
                if upto >= size:
                    return applied
                applied += project(conn, upto, size)

    def behind(self) -> bool:
        """Whether the log holds entries not yet applied (two small reads)."""
        with self.engine.connect() as conn:
            return self.upto(conn) < self.size(conn)

    @contextlib.contextmanager
    def projecting(self) -> Iterator[Connection]:
        """A transaction that may move the cursor (SQLite's write lock up front; on
        PostgreSQL the cursor's row, taken by :meth:`upto` with ``lock``)."""
        with self.engine.connect().execution_options(**{IMMEDIATE: True}) as conn, conn.begin():
            yield conn

    def upto(self, conn: Connection, *, lock: bool = False) -> int:
        query = select(t.readmodel_cursor.c.upto).where(t.readmodel_cursor.c.name == self.name)
        if lock and not self._sqlite:
            query = query.with_for_update()
        upto = conn.execute(query).scalar_one_or_none()
        if upto is None:
            conn.execute(insert(t.readmodel_cursor).values(name=self.name, upto=0))
            return 0
        return int(upto)

    def move(self, conn: Connection, upto: int) -> None:
        conn.execute(
            update(t.readmodel_cursor)
            .where(t.readmodel_cursor.c.name == self.name)
            .values(upto=upto)
        )

    @staticmethod
    def size(conn: Connection) -> int:
        return int(conn.execute(select(t.log_state.c.size)).scalar_one())
