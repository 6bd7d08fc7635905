"""``chemtrace readmodel rebuild|verify`` on a real ledger (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from api.cli import app
from ledger.store import schema as t
from tests.harness import Harness


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    url = (f"sqlite:///{tmp_path / 'ledger.db'}" if request.param == "sqlite"
           else request.getfixturevalue("postgres_database"))  # fmt: skip
    harness = Harness.create(url)
    yield harness
    harness.store.engine.dispose()


def test_verify_agrees_after_a_rebuild_and_names_a_tampered_item(ledger: Harness) -> None:
    device = ledger.device("org-a")
    ledger.submit([ledger.commission(device, f"CLI-{n}") for n in range(3)])
    ledger.submit([ledger.use(device, "CLI-1", "2")])
    runner, url = CliRunner(), ledger.url

    rebuilt = runner.invoke(app, ["readmodel", "rebuild", "--db", url])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "rebuilt from 4 events" in rebuilt.output
    agrees = runner.invoke(app, ["readmodel", "verify", "--db", url])
    assert agrees.exit_code == 0 and "AGREES" in agrees.output

    with ledger.store.engine.begin() as conn:
        conn.execute(update(t.item_state).where(t.item_state.c.code == "CLI-1",
                                                t.item_state.c.to_index.is_(None))
                     .values(quantity="40"))  # fmt: skip
    differs = runner.invoke(app, ["readmodel", "verify", "--db", url])
    assert differs.exit_code == 1
    assert "item CLI-1" in differs.output
