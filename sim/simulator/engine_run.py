"""Running the anomaly engine over a simulated ledger, through the service's public path.

This is the one module of the simulator that touches the engine, and only to RUN it
(``api.anomaly.rescan``, as the service's rescan does); labels never come from here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from api.anomaly import new_engine, rescan
from ledger.store.engine import make_engine
from ledger.store.findings import FindingStore
from ledger.timefmt import parse_utc
from sim.simulator.evaluate import FindingLike
from sim.simulator.regulation import utc_text


@dataclass
class Run:
    findings: Sequence[FindingLike]
    entries: int
    seconds: float
    as_of: str
    known_rules: frozenset[str]


def run(db: str, rules: Path, as_of: str | None = None,
        progress: Callable[[int], None] | None = None) -> Run:  # fmt: skip
    """Rescan ``db`` as of ``as_of`` (default: a minute after its last entry)."""
    store = FindingStore(make_engine(db))
    if as_of is None:
        _, last = store.log_end()
        moment = parse_utc(last) if last else datetime.now(UTC)
        as_of = utc_text(int(moment.timestamp()) + 60)
    entries = store.log_end(until_time=as_of)[0] + 1
    began = time.perf_counter()
    found = rescan(store, new_engine(rules), as_of=parse_utc(as_of), progress=progress)
    seconds = time.perf_counter() - began
    store.engine.dispose()
    known = frozenset(json.loads(rules.read_text(encoding="utf-8"))["severity"])
    return Run(found, entries, seconds, as_of, known)
