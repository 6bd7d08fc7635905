"""Feeding the ledger to an engine, in log order: what a batch rescan, a restarted worker
and a snapshot check all do the same way."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from ledger.rules import Engine, Finding
from ledger.store.findings import EPOCH, FindingStore

Progress = Callable[[int], None]
"""Called now and then with the number of log entries read so far."""


def replay(
    store: FindingStore, engine: Engine, *, until_time: str | None = None,
    until_index: int | None = None, clock: datetime, journal_until: str,
    journal_since: str = EPOCH, progress: Progress | None = None,
) -> list[Finding]:  # fmt: skip
    """Feed ``engine`` the log after its position (up to ``until_time`` / ``until_index``),
    fire the deadlines due by ``clock``, then judge the security journal from
    ``journal_since`` up to ``journal_until``: a batch rescan, and a restarted worker
    rebuilding its engine (from nothing, or from a snapshot), both read the ledger so."""
    found: list[Finding] = []
    facts = store.all_facts(until_time=until_time, until_index=until_index, after=engine.position)
    for number, fact in enumerate(facts):
        found.extend(engine.feed(fact))
        if progress is not None and number % 5000 == 0:
            progress(fact.index + 1)
    found.extend(engine.advance(clock))
    for entry in store.journal(since=journal_since, until=journal_until):
        found.extend(engine.journal(entry))
    return found
