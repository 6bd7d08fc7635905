"""Bring a database to the current schema with Alembic, then open the store."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from alembic import command
from alembic.config import Config

from ledger.custody import DEFAULT_POLICY, CustodyPolicy
from ledger.store.engine import make_engine
from ledger.store.fencing import install_fence
from ledger.store.repository import Clock, SqlLedgerStore, utc_now

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def upgrade(url: str) -> None:
    """Run every pending migration against ``url``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = url
    command.upgrade(config, "head")


def open_store(
    url: str,
    *,
    origin: str,
    clock: Clock = utc_now,
    migrate: bool = True,
    require_issued_codes: bool = True,
    custody_policy: CustodyPolicy = DEFAULT_POLICY,
    fence_peers: Sequence[str] = (),
) -> SqlLedgerStore:
    """Migrate (unless told not to) and open the ledger store at ``url``; on PostgreSQL
    every connection is first judged by the fence against ``fence_peers``, the cluster's
    other nodes (:mod:`ledger.store.fencing`)."""
    if migrate:
        upgrade(url)
    engine = make_engine(url)
    install_fence(engine, fence_peers)
    store = SqlLedgerStore(
        engine,
        origin=origin,
        clock=clock,
        require_issued_codes=require_issued_codes,
        custody_policy=custody_policy,
    )
    store.initialize()
    return store
