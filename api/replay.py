"""Feeding the ledger to an engine, in log order: what a batch rescan, a restarted worker
and a snapshot check all do the same way."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator
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
    with _fewer_collections():
        for number, fact in enumerate(facts):
            found.extend(engine.feed(fact))
            if progress is not None and number % 5000 == 0:
                progress(fact.index + 1)
    if until_index is not None:
        # the online worker's position is the last entry it read, fact or not (a code batch
        # is none): a replay to a cursor ends there too, or its state is not the worker's
        engine.position = max(engine.position, min(until_index, store.log_end()[0]))
    found.extend(engine.advance(clock))
    for entry in store.journal(since=journal_since, until=journal_until):
        found.extend(engine.journal(entry))
    return found


YOUNG_THRESHOLD = 100_000
"""Allocations between young-generation collections while replaying (CPython's default
is 700)."""


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Collect cyclic garbage less often while replaying.

    A replay allocates millions of short-lived objects (decoded bodies, item states) that
    reference counting frees, into a heap of long-lived engine state: at the default
    threshold the collector ran every 700 of them and spent about a fifth of a rescan
    re-scanning survivors. Only the timing of collection changes (no object's life does),
    and cycles are still collected, once per ``YOUNG_THRESHOLD`` allocations.
    """
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(young, YOUNG_THRESHOLD), middle, old)
    try:
        yield
    finally:
        gc.set_threshold(young, middle, old)
