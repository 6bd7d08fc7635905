"""EPCIS named queries (a service table, not the log): one stored query per (owner, name).

The primary key makes the database the authority on a name being taken, even between
workers: a second create of the same name in one owner's namespace fails, whoever races.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.exc import IntegrityError

from ledger.canonical import canonical_bytes
from ledger.store import schema as t


@dataclass(frozen=True, slots=True)
class NamedQuery:
    owner: str
    name: str
    definition: dict[str, Any]
    created_by: str
    created_at: str


def _query(row: Any) -> NamedQuery:
    return NamedQuery(owner=row.owner, name=row.name, definition=json.loads(row.definition),
                      created_by=row.created_by, created_at=row.created_at)  # fmt: skip


class SqlNamedQueries:
    """Named queries in the service database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(self, query: NamedQuery) -> bool:
        """Store ``query``; False when its owner has a query of that name already."""
        definition = canonical_bytes(query.definition).decode()
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(t.epcis_named_query).values(
                    owner=query.owner, name=query.name, definition=definition,
                    created_by=query.created_by, created_at=query.created_at,
                ))  # fmt: skip
        except IntegrityError:
            return False
        return True

    def get(self, owner: str, name: str) -> NamedQuery | None:
        column = t.epcis_named_query.c
        with self._engine.connect() as conn:
            row = conn.execute(
                select(t.epcis_named_query).where(column.owner == owner, column.name == name)
            ).first()
        return None if row is None else _query(row)

    def page(self, owner: str, *, after: str | None, limit: int) -> list[NamedQuery]:
        """Up to ``limit`` of the owner's queries, by name, after the name ``after``."""
        column = t.epcis_named_query.c
        query = select(t.epcis_named_query).where(column.owner == owner)
        if after is not None:
            query = query.where(column.name > after)
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(column.name).limit(limit))
            return [_query(row) for row in rows]

    def delete(self, owner: str, name: str) -> bool:
        """Remove the owner's query of that name; False when there was none."""
        column = t.epcis_named_query.c
        with self._engine.begin() as conn:
            done = conn.execute(
                delete(t.epcis_named_query).where(column.owner == owner, column.name == name)
            )
        return bool(done.rowcount)
