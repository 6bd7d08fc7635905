"""``chemtrace simulate``: a seeded, realistic city of hazardous-chemical flows in Beijing.

The simulator writes through the real core paths (``Ingestor.submit`` batches of signed,
chained events; registry records, licences and code batches through the store's append
methods; refusals into the security journal as the service journals them) on a simulated
clock. It does not share the engine's code: it imports nothing from ``ledger.rules`` and
encodes the regulations itself (:mod:`sim.simulator.regulation`), with the unregulated
numbers from the shared fixture ``catalogs/rules/parameters.json``
(:mod:`sim.simulator.params`). Its anomalies carry its own kinds
(:mod:`sim.simulator.kinds`), scored against the engine by :mod:`sim.simulator.evaluate`;
only :mod:`sim.simulator.engine_run` runs the engine, through ``api.anomaly.rescan``.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ledger.timefmt import parse_utc
from sim.simulator import anomalies, city, flows, params
from sim.simulator.evaluate import FindingLike, Scores, read_labels, score
from sim.simulator.products import check_families
from sim.simulator.regulation import utc_text
from sim.simulator.world import DAY, Label, World
from sim.simulator.writer import LedgerWriter

SIMULATION_RULES = Path(__file__).resolve().parents[2] / "catalogs" / "rules" / "simulation.json"
"""The engine's configuration for simulated ledgers (2026.1 plus a simulation-only ban)."""


@dataclass
class Report:
    items: int
    events: int
    records: int
    licences: int
    code_batches: int
    rejected: int
    labels: int
    near_misses: int
    start: str
    end: str
    """The as-of time for evaluation: just after the last log entry."""
    seconds: float

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def build_world(writer: LedgerWriter, *, items: int, seed: int, anomaly_rate: float,
                days: int) -> World:  # fmt: skip
    """Register the city and schedule its flows and stories (nothing runs yet)."""
    check_families()  # before any process starts
    rng = random.Random(seed)
    # start 20 days before a balance-window boundary, so injected breaches get judged
    window = int(params.get("mass.org_window_days")) * DAY
    boundary = (int(parse_utc("2026-03-20T00:00:00Z").timestamp()) // window + 1) * window
    start = boundary - 20 * DAY
    town = city.build(writer, rng, start - DAY, items)
    world = World(writer, town, rng, start, start + days * DAY, window)
    for account in town.gas_accounts:
        world.spawn(flows.gas_account(world, account), start + rng.randint(0, 4 * DAY))
    for account in town.lpg_accounts:
        world.spawn(flows.lpg_account(world, account), start + rng.randint(0, 6 * DAY))
    for account in town.packaged_accounts:
        world.spawn(flows.packaged_account(world, account), start + rng.randint(0, 6 * DAY))
    world.spawn(flows.stock_counts(world), start)
    anomalies.schedule(world, round(anomaly_rate * items))
    return world


def write_labels(path: Path, labels: list[Label], near: list[Label]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for label, near_miss in [*((x, False) for x in labels), *((x, True) for x in near)]:
            row: dict[str, object] = {
                "kind": label.kind,
                "subject": label.subject,
                "description": label.description,
                "at": utc_text(label.at),
            }
            if near_miss:
                row["near_miss"] = True
            if label.refused is not None:
                row["refused"] = label.refused
            handle.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")


def simulate(
    db: str,
    *,
    items: int,
    seed: int,
    anomaly_rate: float,
    labels: Path,
    keys: Path,
    days: int = 42,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Generate the city into ``db`` and write the labels (JSON lines) to ``labels``."""
    began = time.perf_counter()
    writer = LedgerWriter.open(db, keys, seed)
    if writer.deployment.store.log_size() > 0:
        writer.close()
        raise RuntimeError(f"{db} already holds a ledger; simulate into an empty database")
    writer.on_flush = progress
    world = build_world(writer, items=items, seed=seed, anomaly_rate=anomaly_rate, days=days)
    world.run()
    writer.close()
    end = max(writer.clock.now, world.now) + 60
    world.label_left_in_transit(end)
    write_labels(labels, world.labels, world.near_misses)
    stats = writer.stats
    writer.deployment.store.engine.dispose()
    return Report(
        items=world.items, events=stats.events, records=stats.records, licences=stats.licences,
        code_batches=stats.code_batches, rejected=stats.rejected, labels=len(world.labels),
        near_misses=len(world.near_misses), start=utc_text(world.start), end=utc_text(end),
        seconds=time.perf_counter() - began,
    )  # fmt: skip


@dataclass
class Evaluation:
    scores: Scores
    findings: list[FindingLike]
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
    from sim.simulator.engine_run import run  # the engine only when evaluating

    done = run(db, rules, as_of, progress)
    scores = score(done.findings, read_labels(labels), done.known_rules)
    return Evaluation(scores, list(done.findings), done.entries, done.seconds, done.as_of)
