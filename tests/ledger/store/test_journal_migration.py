"""0009: journal rows written before aggregation each stand for one attempt."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from ledger.store.engine import make_engine
from ledger.store.migrate import MIGRATIONS
from ledger.store.service import ServiceStore


def test_0009_keeps_older_rows_as_single_attempts(db_url: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = db_url
    command.upgrade(config, "0008")
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO security_journal (id, at, code, detail, client) "
                    "VALUES ('old1', '2026-11-01T10:00:00.000000Z', 'forged_label', 'x', 'c')")
        )  # fmt: skip
    command.upgrade(config, "head")
    (row,) = ServiceStore(engine).journal_entries()
    assert (row.id, row.count, row.last_at, row.window_start) == (
        "old1", 1, "2026-11-01T10:00:00.000000Z", None
    )  # fmt: skip
    command.downgrade(config, "0008")
    with engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("security_journal")}
    assert {"count", "last_at", "window_start"}.isdisjoint(columns)
    engine.dispose()
