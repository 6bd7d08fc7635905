"""Engines for the two supported databases.

* **SQLite** (embedded default): one file in WAL mode. Writers take the
  database lock up front with ``BEGIN IMMEDIATE``, so two appenders never both
  read a head and then race to write; readers use plain deferred transactions.
* **PostgreSQL**: READ COMMITTED plus explicit ``SELECT … FOR UPDATE`` row
  locks taken by the repository in a fixed order.

Nothing here relies on SERIAL ordering, keeping the SQL portable toward
PostgreSQL-compatible distributed engines.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url

from ledger.errors import StorageError

IMMEDIATE = "chemtrace_immediate"


def is_sqlite(url: str) -> bool:
    """Tell whether ``url`` names a SQLite database."""
    return make_url(url).get_backend_name() == "sqlite"


def require_existing(url: str) -> None:
    """Refuse a SQLite URL whose file does not exist (read paths must never create one).

    Raises:
        StorageError: there is no database file.
    """
    database = make_url(url).database
    if is_sqlite(url) and (not database or not Path(database).exists()):
        raise StorageError(f"no SQLite database at {database!r}")


def make_engine(url: str) -> Engine:
    """Create an engine with the locking behaviour the ledger needs."""
    if not is_sqlite(url):
        # No pre-ping: it costs a round trip per checkout (a third of a proof's latency). After
        # a server restart the pool invalidates dead connections on first use; that request
        # fails with a retryable StorageError and the next one reconnects.
        # Sized for the API's thread pool, so request threads reuse sessions instead of
        # opening one per request beyond the pool.
        engine = create_engine(url, pool_size=20, max_overflow=20, pool_recycle=1800)
        event.listen(engine, "connect", _configure_postgres)
        return engine
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
    event.listen(engine, "connect", _configure_sqlite)
    event.listen(engine, "begin", _begin_sqlite)
    return engine


def _configure_postgres(dbapi_connection: Any, _record: Any) -> None:
    # Lists (the bulk inserts' unnest arrays) go in binary: psycopg's text array format
    # quotes and escapes every element with a regular expression in Python, which cost a
    # fifth of a 100-event append's CPU.
    from psycopg.types.array import ListBinaryDumper

    dbapi_connection.adapters.register_dumper(list, ListBinaryDumper)


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control from the driver so BEGIN IMMEDIATE is ours to issue.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # Erased personal data must not linger in freed pages.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def _begin_sqlite(connection: Any) -> None:
    immediate = connection.get_execution_options().get(IMMEDIATE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def upsert(
    conn: Connection, table: Table, row: Mapping[str, Any], keys: list[str], update: list[str]
) -> Any:
    """An INSERT of ``row`` that, on a clash on ``keys``, updates ``update`` (none: ignores)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(**row)
    if not update:
        return statement.on_conflict_do_nothing(index_elements=keys)
    values = {column: statement.excluded[column] for column in update}
    return statement.on_conflict_do_update(index_elements=keys, set_=values)
