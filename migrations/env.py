"""Alembic environment: migrates the ledger schema in ledger/store/schema.py."""

from __future__ import annotations

import os

from alembic import context

from ledger.store.engine import make_engine
from ledger.store.schema import metadata

config = context.config


def _url() -> str:
    url = config.attributes.get("url") or context.get_x_argument(as_dictionary=True).get("db")
    url = url or os.environ.get("CHEMTRACE_DB")
    if not url:
        raise SystemExit("give the database with -x db=URL or CHEMTRACE_DB")
    return str(url)


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(_url())
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
