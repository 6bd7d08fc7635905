"""Every store test runs twice: on a SQLite file and on a real PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import Harness


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL of each supported kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        yield request.getfixturevalue("postgres_database")


@pytest.fixture
def ledger(db_url: str) -> Iterator[Harness]:
    """A migrated ledger with fresh throwaway keys."""
    harness = Harness.create(db_url)
    yield harness
    harness.store.engine.dispose()
