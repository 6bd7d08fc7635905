"""The read and ingest measures of issue 16's 10M table, on a generated ledger as it is today.

Reads run in-process through the store and the service's own read paths (no HTTP):

* item lookup: ``SqlLedgerStore.item_head`` and ``item_genesis`` (what an item view reads);
* custody chain of a 20-event item: ``item_envelopes`` of items whose head seq is 19;
* inclusion proof: ``inclusion_proof(index, size)`` of random indices;
* site inventory now: today's service keeps an in-process projection folded from the
  whole log on first use (``QueryService.projection``): its cold fold is reported, then
  the per-request cost of a site's states from the warm projection;
* site inventory at a past time: today's service replays every event up to that time
  per request (``Projection`` over ``ServiceStore.all_events(until_time=…)``);
* ingest rate: ``Ingestor.submit`` of batches of 100 fresh commissions by a city filler,
  on this ledger and on an empty ledger with the same registry, rounds interleaved.
"""

from __future__ import annotations

import random
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from api.deployment import Deployment
from bench._machine import percentile
from bench.scale.city import START, derived_signer, person, plan_city
from ledger.builder import DeviceSession
from ledger.state import Projection
from ledger.store import schema as t
from ledger.store.engine import is_sqlite
from ledger.store.readmodel import Held, ItemReadModel
from ledger.store.service import ServiceStore
from ledger.units import CatalogUnits
from sim.simulator.products import CATALOG


@dataclass
class Measure:
    name: str
    target_ms: float | None
    samples: list[float]
    note: str = ""

    @property
    def p50(self) -> float:
        return percentile(sorted(self.samples), 0.5) * 1000

    @property
    def p99(self) -> float:
        return percentile(sorted(self.samples), 0.99) * 1000

    @property
    def verdict(self) -> str:
        if self.target_ms is None or not self.samples:
            return "-"
        return "PASS" if self.p99 < self.target_ms else "FAIL"


def timed(call: Callable[[], Any], runs: int, warm: int = 20) -> list[float]:
    for _ in range(min(warm, runs)):
        call()
    out = []
    for _ in range(runs):
        began = time.perf_counter()
        call()
        out.append(time.perf_counter() - began)
    return out


def db_size(deployment: Deployment, url: str) -> int:
    if is_sqlite(url):
        database = deployment.store.engine.url.database
        assert database is not None
        return sum(p.stat().st_size for p in Path(database).parent.glob(Path(database).name + "*"))
    with deployment.store.engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())


def reads(deployment: Deployment, runs: int, seed: int = 5) -> tuple[list[Measure], dict[str, Any]]:
    store = deployment.store
    rng = random.Random(seed)
    size = store.log_size()
    with store.engine.connect() as conn:
        codes = list(
            conn.execute(select(t.item.c.code).order_by(func.random()).limit(2000)).scalars()
        )
        twenty = list(
            conn.execute(select(t.item.c.code).where(t.item.c.head_seq == 19).limit(500)).scalars()
        )
        sites = list(
            conn.execute(
                select(t.event.c.site).where(t.event.c.type == "receive").limit(2000)
            ).scalars()
        )
        times = list(
            conn.execute(
                select(t.event.c.event_time)
                .order_by(t.event.c.log_index)
                .offset(size // 2)
                .limit(1)
            ).scalars()
        )
    out: list[Measure] = []
    out.append(
        Measure(
            "item lookup (head + genesis)",
            10,
            timed(
                lambda: (c := rng.choice(codes), store.item_head(c), store.item_genesis(c)), runs
            ),
        )
    )
    if twenty:
        out.append(
            Measure(
                "custody chain, 20-event item",
                20,
                timed(lambda: store.item_envelopes(rng.choice(twenty)), runs),
            )
        )
    out.append(
        Measure(
            "inclusion proof",
            2,
            timed(lambda: store.inclusion_proof(rng.randrange(size), size), runs),
        )
    )
    units = CatalogUnits(deployment.catalogs)
    service = ServiceStore(store.engine)
    began = time.perf_counter()
    projection = Projection(kilograms=units.kilograms)
    after = -1
    while page := service.events_since(after):
        projection.apply_all(e.event.body for e in page)
        after = page[-1].index
    cold = time.perf_counter() - began
    states = projection.items

    def site_now() -> list[object]:
        site = rng.choice(sites)
        return [s for s in states.values() if s.site == site]

    out.append(
        Measure(
            "site inventory now (warm projection)",
            50,
            timed(site_now, max(20, runs // 20)),
            note=f"the first request folds the whole log: {cold:.1f} s",
        )
    )
    past = times[0] if times else None

    def inventory_then() -> None:
        folded = Projection(kilograms=units.kilograms)
        folded.apply_all(e.event.body for e in service.all_events(until_time=past))

    out.append(
        Measure(
            "site inventory at a past time (replay)",
            200,
            timed(inventory_then, 2, 0),
            note=f"as of {past} (mid-log): replays every earlier event",
        )
    )
    model = ItemReadModel(store.engine, units.kilograms)
    began = time.perf_counter()
    model.catch_up()
    projected = time.perf_counter() - began

    def site_now_model() -> list[Held]:
        return model.states(where={"site": rng.choice(sites)})

    def site_then_model() -> list[Held]:
        return model.states(at=past, where={"site": rng.choice(sites)})

    out.append(
        Measure(
            "site inventory now (read model)",
            50,
            timed(site_now_model, runs),
            note=f"catching the model up to the log took {projected:.1f} s",
        )
    )
    out.append(
        Measure(
            "site inventory at a past time (read model)",
            200,
            timed(site_then_model, max(20, runs // 5)),
            note=f"as of {past}",
        )
    )
    facts = {
        "readmodel_catch_up_s": projected,
        "cold_fold_s": cold,
        "items_in_projection": len(states),
        "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    return out, facts


def _commissions(
    deployment: Deployment, seed: int, org_id: str, count: int, tag: str
) -> list[dict[str, Any]]:
    """``count`` signed commissions of freshly issued codes by ``org_id``'s device."""
    codes = deployment.issue_codes(org_id, "13.1", "cylinder", tag, count, issued_at="2026-06-01")
    session = DeviceSession(
        signer=derived_signer(seed, f"device-{org_id}"),
        org=org_id,
        actor=person(seed, f"{org_id} duty officer").commitment,
        catalog_version=CATALOG,
    )
    return [
        session.event(
            "commission",
            [c.code],
            {
                "chemical": "13.1",
                "quantity": {"value": "0", "unit": "kg"},
                "lot": "L1",
                "packaging": "cylinder",
            },
            time="2026-06-01T00:00:00Z",
            site=f"{org_id}-store",
        )
        for c in codes
    ]


def ingest_rates(
    big: Deployment, empty: Deployment, seed: int, rounds: int = 5, batch: int = 100
) -> tuple[float, float]:
    """Events/s of ``Ingestor.submit`` at ``batch`` on the big ledger and on the empty one."""
    org_id = plan_city(1, seed).fillers[0].id
    root = empty.keys.root_signer()
    org_key = derived_signer(seed, f"org-{org_id}")
    window = ("2020-01-01T00:00:00Z", "2036-01-01T00:00:00Z")
    if not empty.store.certificates([org_key.key_id]):
        empty.certify_key("org", org_id, org_key.public_key, root, window)
        device = derived_signer(seed, f"device-{org_id}")
        empty.certify_key("device", org_id, device.public_key, org_key, window)
    stamp = int(time.time()) % 10**7
    loads = {
        name: [
            _commissions(d, seed, org_id, batch, f"{name[0].upper()}{stamp}-{r}")
            for r in range(rounds + 1)
        ]
        for name, d in (("big", big), ("empty", empty))
    }
    spent = {"big": 0.0, "empty": 0.0}
    for r in range(rounds + 1):
        for name, d in (("big", big), ("empty", empty))[:: 1 if r % 2 else -1]:
            began = time.perf_counter()
            d.ingestor.submit(loads[name][r])
            if r:  # the first round warms up
                spent[name] += time.perf_counter() - began
    return rounds * batch / spent["big"], rounds * batch / spent["empty"]


def durability(url: str, deployment: Deployment) -> str:
    with deployment.store.engine.connect() as conn:
        if is_sqlite(url):
            mode = conn.execute(text("PRAGMA journal_mode")).scalar()
            sync = conn.execute(text("PRAGMA synchronous")).scalar()
            names = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
            return f"SQLite journal_mode={mode}, synchronous={names.get(int(sync or 0), sync)}"
        settings = [
            f"{name}={conn.execute(text(f'SHOW {name}')).scalar()}"
            for name in ("fsync", "synchronous_commit", "full_page_writes")
        ]
        return "PostgreSQL " + ", ".join(settings)


__all__ = ["START", "Measure", "db_size", "durability", "ingest_rates", "reads"]
