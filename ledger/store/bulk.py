"""Multi-row writes in one fixed statement per table.

On PostgreSQL a row-by-row ``executemany`` costs a protocol message per row; here every
table gets one ``INSERT … SELECT FROM unnest(array, …)`` whose text never changes, so the
server plans it once and a batch is one round trip. SQLite runs in-process, where a cached
``executemany`` is already the fast path.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import BigInteger, Connection, LargeBinary, SmallInteger, String, Table, Text, text
from sqlalchemy.sql.elements import TextClause

_ARRAY_TYPES: tuple[tuple[type[Any], str], ...] = (
    (SmallInteger, "smallint[]"),
    (BigInteger, "bigint[]"),
    (LargeBinary, "bytea[]"),
    (Text, "text[]"),
    (String, "text[]"),
)


def _array_type(column_type: object) -> str:
    for kind, array in _ARRAY_TYPES:
        if isinstance(column_type, kind):
            return array
    raise TypeError(f"no array type for {column_type!r}")


@functools.cache
def _unnest_insert(table: Table, columns: tuple[str, ...], conflict: str | None) -> TextClause:
    arrays = ", ".join(f"CAST(:{name} AS {_array_type(table.c[name].type)})" for name in columns)
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT * FROM unnest({arrays})"  # noqa: S608
    return text(sql + (conflict or ""))


@functools.cache
def _row_insert(table: Table, columns: tuple[str, ...], conflict: str | None) -> str:
    values = ", ".join("?" for _ in columns)
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({values})"  # noqa: S608
    return sql + (conflict or "")


def _upsert_clause(key: str, columns: tuple[str, ...]) -> str:
    updates = ", ".join(f"{name} = excluded.{name}" for name in columns if name != key)
    return f" ON CONFLICT ({key}) DO UPDATE SET {updates}"


def insert_rows(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    upsert_key: str | None = None,
) -> None:
    """Insert ``rows`` (all with the same keys); with ``upsert_key``, update on conflict."""
    if not rows:
        return
    columns = tuple(rows[0])
    conflict = _upsert_clause(upsert_key, columns) if upsert_key else None
    if conn.dialect.name == "postgresql":
        arrays = {name: [row[name] for row in rows] for name in columns}
        conn.execute(_unnest_insert(table, columns, conflict), arrays)
    else:
        # SQLite runs in-process: hand the driver plain tuples and skip per-row parameter work.
        params = [tuple(row[name] for name in columns) for row in rows]
        conn.exec_driver_sql(_row_insert(table, columns, conflict), params)
