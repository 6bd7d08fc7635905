"""``chemtrace simulate``: a seeded, realistic city of hazardous-chemical flows in Beijing.

The simulator writes through the real core paths (``Ingestor.submit`` batches of signed,
chained events; registry records, licences and code batches through the store's append
methods; refusals into the security journal as the service journals them) on a simulated
clock, injects labelled anomalies of every rule, and can score the anomaly engine against
its labels (see :mod:`sim.simulator.evaluate`).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from api.anomaly import new_engine, rescan
from api.catalogs import load_registry, load_rules
from ledger.rules import Finding
from ledger.rules.state import utc_text
from ledger.rules.world import Chemistry
from ledger.store.findings import FindingStore
from ledger.timefmt import parse_utc
from sim.simulator import anomalies, city, flows
from sim.simulator.evaluate import RuleScore, read_labels, score
from sim.simulator.products import CATALOG, FAMILIES, check_families
from sim.simulator.world import DAY, World
from sim.simulator.writer import LedgerWriter

SIMULATION_RULES = Path(__file__).resolve().parents[2] / "catalogs" / "rules" / "simulation.json"


@dataclass
class Report:
    items: int
    events: int
    records: int
    licences: int
    code_batches: int
    rejected: int
    labels: int
    start: str
    end: str
    """The as-of time for evaluation: just after the last log entry."""
    seconds: float

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def simulate(
    db: str,
    *,
    items: int,
    seed: int,
    anomaly_rate: float,
    labels: Path,
    keys: Path,
    rules: Path = SIMULATION_RULES,
    days: int = 42,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Generate the city into ``db`` and write the labels (JSON lines) to ``labels``."""
    began = time.perf_counter()
    config = load_rules(rules)
    check_families(config, Chemistry(load_registry(), config))  # before any process starts
    writer = LedgerWriter.open(db, keys, seed)
    if writer.deployment.store.log_size() > 0:
        writer.close()
        raise RuntimeError(f"{db} already holds a ledger; simulate into an empty database")
    writer.on_flush = progress
    rng = random.Random(seed)
    # start 20 days before a window boundary, so injected balance breaches get judged
    window = config.mass.org_window_days * DAY
    boundary = (int(parse_utc("2026-03-20T00:00:00Z").timestamp()) // window + 1) * window
    start = boundary - 20 * DAY
    town = city.build(writer, rng, start - DAY, items)
    classes = {
        form.form_id: form.transport_class
        for form in writer.deployment.catalogs.get(CATALOG).forms
        if any(form.form_id in forms for forms in FAMILIES.values())
    }
    world = World(writer, town, rng, start, start + days * DAY, classes, window)
    for account in town.gas_accounts:
        world.spawn(flows.gas_account(world, account), start + rng.randint(0, 4 * DAY))
    for account in town.lpg_accounts:
        world.spawn(flows.lpg_account(world, account), start + rng.randint(0, 6 * DAY))
    for account in town.packaged_accounts:
        world.spawn(flows.packaged_account(world, account), start + rng.randint(0, 6 * DAY))
    world.spawn(flows.stock_counts(world), start)
    anomalies.schedule(world, round(anomaly_rate * items))
    world.run()
    writer.close()
    end = max(writer.clock.now, world.now) + 60
    with labels.open("w", encoding="utf-8") as handle:
        for label in sorted(world.labels, key=lambda x: (x.rule, x.subject)):
            row = {"rule": label.rule, "subject": label.subject,
                   "description": label.description, "at": utc_text(label.at)}  # fmt: skip
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    stats = writer.stats
    writer.deployment.store.engine.dispose()
    return Report(
        items=world.items, events=stats.events, records=stats.records, licences=stats.licences,
        code_batches=stats.code_batches, rejected=stats.rejected, labels=len(world.labels),
        start=utc_text(start), end=utc_text(end), seconds=time.perf_counter() - began,
    )  # fmt: skip


@dataclass
class Evaluation:
    scores: list[RuleScore]
    findings: list[Finding]
    entries: int
    seconds: float
    as_of: str

    @property
    def entries_per_second(self) -> float:
        return self.entries / self.seconds if self.seconds else 0.0


def evaluate(
    db: str,
    labels: Path,
    *,
    rules: Path = SIMULATION_RULES,
    as_of: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> Evaluation:
    """Rescan ``db`` as of ``as_of`` (default: just after its last entry) and score it."""
    from ledger.store.engine import make_engine

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
    return Evaluation(score(found, read_labels(labels)), found, entries, seconds, as_of)
