"""Running the rules: a batch rescan of the whole ledger, and the online worker.

Both feed the same pure :class:`ledger.rules.Engine` the same facts in log order; the
batch run stops at ``as_of`` (entries logged later are not read, deadlines due later do
not fire), the worker at "now". That is why they agree.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from api.catalogs import load_registry
from ledger.catalog import CatalogRegistry
from ledger.rules import DEFAULT_RULES, Engine, Finding, RulesConfig, load_rules
from ledger.store.findings import FindingStore
from ledger.timefmt import format_utc

Progress = Callable[[int], None]
"""Called with the number of log entries just read."""


def new_engine(
    rules: RulesConfig | Path | None = None, catalogs: CatalogRegistry | None = None
) -> Engine:
    """An engine on the given (or the shipped) rules and catalogs."""
    config = rules if isinstance(rules, RulesConfig) else load_rules(rules or DEFAULT_RULES)
    return Engine(config, catalogs or load_registry())


def rescan(
    store: FindingStore, engine: Engine, *, as_of: datetime, progress: Progress | None = None
) -> list[Finding]:
    """Every finding the ledger supports as of ``as_of``, in the order the engine made them.

    Reads every entry logged at or before ``as_of`` and the security journal up to it, then
    fires the deadlines due by ``as_of``.
    """
    until = format_utc(as_of)
    found: list[Finding] = []
    page: list[object] = []
    for fact in store.all_facts(until_time=until):
        found.extend(engine.feed(fact))
        page.append(fact)
        if progress is not None and len(page) == 5000:
            progress(len(page))
            page.clear()
    if progress is not None and page:
        progress(len(page))
    found.extend(engine.advance(as_of))
    for entry in store.journal(until=until):
        found.extend(engine.journal(entry))
    return found
