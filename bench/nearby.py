"""The emergency query's latency at city scale: p99 of ``EmergencyService.nearby``.

    .venv/bin/python -m bench.nearby [--sites 10000] [--items 1000000] [--queries 300]
                                     [--radius 500 --radius 2000] [--no-postgres] [--quick]

A ledger of ``--sites`` sites (in a 50 km square around Tiananmen: 4 a square kilometre,
a dense city's industrial belt) and ``--items`` items, each commissioned at one of them
(100 a site) and a tenth of them used once since, is written straight into the tables
the query reads (``log_entry``, ``event``, ``event_item``, ``registry_record``,
``site_location`` and the spatial index), without signing a million events: the query
never checks signatures, and bodies are real, strictly parsed event bodies. 300 open
shipments each have a ship event and a waypoint every 10 minutes over the last two hours.
The query reads holdings from the item-state read model, so ``log_state`` is set to the
log written and the model is built from it by its own rebuild (the projector a server
runs; on PostgreSQL then ``VACUUM ANALYZE``, as autovacuum would), and timed apart.
``--sqlite PATH`` and ``--postgres-url URL`` keep a loaded city for the next run.

Measured in one run, query by query interleaved (same centres, near a random site), on
SQLite (a file: WAL, ``synchronous=FULL``) and PostgreSQL (a private server switched to
``fsync=on``, ``synchronous_commit=on``, ``full_page_writes=on`` after loading):

- **ours**: ``nearby()`` now, and at a past time (``at=``), through the spatial index;
- **baseline**: the same ``nearby()`` with the sites found by the same box predicate as a
  table scan (no spatial index), everything else equal;
- the site lookup alone, index and scan, to show what the index itself buys.

Targets (issue 14): p99 < 50 ms now, < 200 ms with ``at=``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from geographiclib.geodesic import Geodesic
from rich.console import Console
from sqlalchemy import Engine, text

from api.services.access import Principal
from api.services.emergency import EmergencyService
from bench._machine import header_lines, percentile, pg_version, postgres, results_table
from ledger.canonical import b64encode
from ledger.geo import Box, search_boxes
from ledger.records import RegistryRecord, check_attributes
from ledger.store import schema as t
from ledger.store.bulk import insert_rows
from ledger.store.catalog_files import load_registry
from ledger.store.engine import make_engine
from ledger.store.migrate import upgrade
from ledger.store.readmodel import ItemReadModel
from ledger.store.repository import SqlLedgerStore
from ledger.store.sites import RTREE, SitePlace, SiteStore
from ledger.timefmt import format_utc
from ledger.units import CatalogUnits

MODULE = "bench.nearby"
CENTRE = (39.9087, 116.3975)
HALF_SIDE_M = 25_000.0
CATALOG = "2026-draft.1"
FORMS = ("1.1", "2.1", "3.1", "4.1", "13.1", "15.1", "21.1", "33.1")
"""Chlorine, ammonia, gasoline, hydrogen, LPG, oxygen, hydrogen sulphide, acetone."""
NOW = datetime.now(UTC).replace(microsecond=0)
START = NOW - timedelta(days=330)
AT = NOW - timedelta(days=165)
"""The past time asked: half the items had been commissioned by then."""
SIGNATURE = {"alg": "ed25519", "value": b64encode(bytes(64))}
DEVICE = "0" * 32
ACTOR = "sha256:" + "1" * 64
ORIGIN = "bench.nearby/log"
ADMIN = Principal(user_id="bench", role="admin", org=None, districts=frozenset())
CHUNK = 20_000


class ScanSites(SiteStore):
    """The baseline: the same boxes answered by a scan of ``site_location`` (no index)."""

    def sites_in(self, boxes: Sequence[Box]) -> list[SitePlace]:
        clauses: list[str] = []
        params: dict[str, float] = {}
        for n, box in enumerate(boxes):
            clauses.append(f"(lat BETWEEN :s{n} AND :n{n} AND lon BETWEEN :w{n} AND :e{n})")
            params |= {
                f"s{n}": box.min_lat,
                f"n{n}": box.max_lat,
                f"w{n}": box.min_lon,
                f"e{n}": box.max_lon,
            }
        sql = "SELECT site, org, district, status, lat, lon FROM site_location WHERE "
        with self.engine.connect() as conn:
            rows = conn.execute(text(sql + " OR ".join(clauses)), params)
            return [SitePlace(r.site, r.org, r.district, r.status, r.lat, r.lon) for r in rows]


@dataclass
class Loaded:
    places: list[tuple[float, float]]
    events: int
    seconds: float


class Writer:
    """Log entries, events and records written in chunks, as the store would lay them out."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.index = 0
        self.entries: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.links: list[dict[str, Any]] = []
        self.records: list[dict[str, Any]] = []
        self.count = 0
        self.last_time = ""

    def entry(self, kind: str, when: str) -> tuple[int, bytes]:
        index, self.index = self.index, self.index + 1
        self.last_time = max(self.last_time, when)
        digest = index.to_bytes(8, "big") + bytes(24)
        self.entries.append(
            {
                "idx": index,
                "kind": kind,
                "entry_hash": digest,
                "log_time": when,
                "leaf_input": b"bench",
            }
        )
        return index, digest

    def event(self, body: dict[str, Any], roles: Sequence[tuple[str, int]]) -> bytes:
        index, digest = self.entry("event", body["time"])
        envelope = json.dumps({"body": body, "signature": SIGNATURE}, separators=(",", ":"))
        self.events.append(
            {
                "event_hash": digest,
                "log_index": index,
                "envelope": envelope.encode(),
                "type": body["type"],
                "org": body["org"],
                "site": body.get("site"),
                "event_time": body["time"],
                "log_time": body["time"],
                "receipt_signature": b"",
            }
        )
        for code, seq in roles:
            self.links.append(
                {
                    "item_code": code,
                    "seq": seq,
                    "event_hash": digest,
                    "log_index": index,
                    "role": "subject",
                }
            )
        self.count += 1
        if len(self.events) >= CHUNK:
            self.flush()
        return digest

    def record(self, kind: str, record_id: str, attrs: dict[str, Any], when: str) -> int:
        checked = check_attributes(kind, attrs)
        unsigned = RegistryRecord(kind, record_id, checked, "bench", bytes(64))  # type: ignore[arg-type]
        index, digest = self.entry("record", when)
        self.records.append(
            {
                "record_hash": digest,
                "log_index": index,
                "kind": kind,
                "record_id": record_id,
                "body": unsigned.encode(),
            }
        )
        return index

    def flush(self) -> None:
        with self.engine.begin() as conn:
            insert_rows(conn, t.log_entry, self.entries)
            insert_rows(conn, t.registry_record, self.records)
            insert_rows(conn, t.event, self.events)
            insert_rows(conn, t.event_item, self.links)
        self.entries, self.records, self.events, self.links = [], [], [], []


def _body(
    kind: str,
    org: str,
    site: str | None,
    when: datetime,
    code: str,
    seq: int,
    prev: bytes | None,
    data: dict[str, Any],
    geo: tuple[float, float] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "v": 1,
        "type": kind,
        "time": format_utc(when),
        "org": org,
        "device_key": DEVICE,
        "actor": ACTOR,
        "items": [
            {
                "code": code,
                "seq": seq,
                "role": "subject",
                "prev": None if prev is None else "sha256:" + prev.hex(),
            }
        ],
        "catalog_version": CATALOG,
        "data": data,
    }
    if site is not None:
        body["site"] = site
    if geo is not None:
        body["geo"] = {"lat": f"{geo[0]:.6f}", "lon": f"{geo[1]:.6f}"}
    return body


def load(engine: Engine, sites: int, items: int, shipments: int, rng: random.Random) -> Loaded:
    """The synthetic city, straight into the read tables."""
    started = time.perf_counter()
    writer = Writer(engine)
    geodesic = Geodesic.WGS84
    places, rows = [], []
    when = format_utc(START)
    for n in range(sites):
        north, east = rng.uniform(-HALF_SIDE_M, HALF_SIDE_M), rng.uniform(-HALF_SIDE_M, HALF_SIDE_M)
        point = geodesic.Direct(*CENTRE, 0.0, north)
        point = geodesic.Direct(point["lat2"], point["lon2"], 90.0, east)
        lat, lon = round(point["lat2"], 7), round(point["lon2"], 7)
        org, site = f"org-{n // 5:05d}", f"site-{n:05d}"
        if n % 5 == 0:
            writer.record(
                "org",
                org,
                {
                    "name": f"企业 {n // 5}",
                    "type": "warehouse",
                    "district": f"d{n % 16}",
                    "status": "active",
                },
                when,
            )
        index = writer.record(
            "site",
            site,
            {
                "org": org,
                "name": f"仓库 {n}",
                "address": f"{n} Road",
                "district": f"d{n % 16}",
                "lat": f"{lat:.7f}",
                "lon": f"{lon:.7f}",
                "capacity_t": "100",
                "major_hazard": False,
                "status": "active",
            },
            when,
        )
        places.append((lat, lon))
        rows.append(
            {
                "site": site,
                "rid": index,
                "org": org,
                "district": f"d{n % 16}",
                "status": "active",
                "lat": lat,
                "lon": lon,
                "log_index": index,
            }
        )
    span = (NOW - START).total_seconds() - 3 * 3600
    for n in range(items):
        at = n % sites
        code, form = f"BENCH-{n:07d}", FORMS[n % len(FORMS)]
        commissioned = START + timedelta(seconds=span * n / items)
        head = writer.event(
            _body(
                "commission",
                f"org-{at // 5:05d}",
                f"site-{at:05d}",
                commissioned,
                code,
                0,
                None,
                {
                    "chemical": form,
                    "quantity": {"value": "50", "unit": "kg"},
                    "lot": "L1",
                    "packaging": "drum",
                },
            ),
            [(code, 0)],
        )
        if n % 10 == 0:
            used = commissioned + timedelta(hours=1)
            writer.event(
                _body(
                    "use",
                    f"org-{at // 5:05d}",
                    f"site-{at:05d}",
                    used,
                    code,
                    1,
                    head,
                    {"quantity": {"value": "5", "unit": "kg"}},
                ),
                [(code, 1)],
            )
    for n in range(shipments):
        at = rng.randrange(sites)
        code = f"SHIP-{n:07d}"
        left = NOW - timedelta(minutes=120)
        org, site = f"org-{at // 5:05d}", f"site-{at:05d}"
        head = writer.event(
            _body(
                "commission",
                org,
                site,
                left - timedelta(days=1),
                code,
                0,
                None,
                {
                    "chemical": "1.1",
                    "packaging": "cylinder",
                    "lot": "L1",
                    "quantity": {"value": "400", "unit": "kg"},
                },
            ),
            [(code, 0)],
        )
        ship = writer.event(
            _body(
                "ship",
                org,
                site,
                left,
                code,
                1,
                head,
                {
                    "carrier": "carrier-1",
                    "consignee": "org-00000",
                    "consignee_site": "site-00000",
                    "waybill_no": f"EW{n}",
                },
                geo=places[at],
            ),
            [(code, 1)],
        )
        lat, lon = places[at]
        prev = ship
        for step in range(1, 12):
            lat, lon = lat + rng.uniform(-0.01, 0.01), lon + rng.uniform(-0.01, 0.01)
            prev = writer.event(
                _body(
                    "waypoint",
                    "carrier-1",
                    None,
                    left + timedelta(minutes=10 * step),
                    code,
                    1 + step,
                    prev,
                    {"ship": "sha256:" + ship.hex()},
                    geo=(lat, lon),
                ),
                [(code, 1 + step)],
            )
    writer.flush()
    with engine.begin() as conn:
        conn.execute(
            t.log_state.insert().values(
                id=1,
                origin=ORIGIN,
                size=writer.index,
                checkpoint_size=0,
                last_log_time=writer.last_time,
            )
        )
        for start in range(0, len(rows), CHUNK):
            conn.execute(t.site_location.insert(), rows[start : start + CHUNK])
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql(
                f"INSERT INTO {RTREE} SELECT rid, lat, lat, lon, lon FROM site_location"  # noqa: S608
            )
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    return Loaded(places, writer.count, time.perf_counter() - started)


def durable(engine: Engine) -> str:
    """Switch PostgreSQL to durable commits (the loading ran without fsync); say what holds."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
            sync = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}[
                int(conn.exec_driver_sql("PRAGMA synchronous").scalar() or 0)
            ]
        return f"SQLite journal_mode={mode}, synchronous={sync}"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for name in ("fsync", "synchronous_commit", "full_page_writes"):
            conn.exec_driver_sql(f"ALTER SYSTEM SET {name} = on")
        conn.exec_driver_sql("SELECT pg_reload_conf()")
        time.sleep(0.5)
        shown = [
            f"{n}={conn.exec_driver_sql(f'SHOW {n}').scalar()}"
            for n in ("fsync", "synchronous_commit", "full_page_writes", "shared_buffers")
        ]
    return "PostgreSQL " + ", ".join(shown)


def centres(
    places: Sequence[tuple[float, float]], count: int, rng: random.Random
) -> list[tuple[float, float]]:
    """Incidents near facilities: a random site's place, moved up to 300 m."""
    geodesic = Geodesic.WGS84
    found = []
    for _ in range(count):
        lat, lon = rng.choice(places)
        point = geodesic.Direct(lat, lon, rng.uniform(-180, 180), rng.uniform(0, 300))
        found.append((point["lat2"], point["lon2"]))
    return found


@dataclass
class Series:
    name: str
    call: Callable[[float, float], Any]
    times: list[float]
    sizes: list[tuple[int, int]]


def measure(series: Sequence[Series], points: Sequence[tuple[float, float]], warmup: int) -> None:
    for n, (lat, lon) in enumerate(points):
        for one in series:  # interleaved: background load hits every series alike
            started = time.perf_counter()
            answer = one.call(lat, lon)
            elapsed = time.perf_counter() - started
            if n >= warmup:
                one.times.append(elapsed * 1000)
                one.sizes.append(_size(answer))


def _size(answer: Any) -> tuple[int, int]:
    if isinstance(answer, list):
        return len(answer), 0
    return len(answer.sites), sum(len(s.items) for s in answer.sites)


def reuse(engine: Engine) -> Loaded | None:
    """A city loaded by an earlier run (``--sqlite PATH``, ``--postgres-url``), if any."""
    with engine.connect() as conn:
        # in the order load() made them, so a reused city is asked at the same centres
        query = text("SELECT lat, lon FROM site_location ORDER BY site")
        places = [(r.lat, r.lon) for r in conn.execute(query)]
        events = conn.execute(text("SELECT count(*) FROM event")).scalar_one()
    return Loaded(places, int(events), 0.0) if places else None


def _asking(
    service: EmergencyService, radius: float, at: datetime | None
) -> Callable[[float, float], Any]:
    return lambda lat, lon: service.nearby(ADMIN, lat=lat, lon=lon, radius_m=radius, at=at)


def _looking(sites: SiteStore, radius: float) -> Callable[[float, float], Any]:
    return lambda lat, lon: sites.sites_in(search_boxes(lat, lon, radius))


def run(url: str, args: argparse.Namespace, console: Console, label: str) -> list[list[str]]:
    upgrade(url)
    engine = make_engine(url)
    rng = random.Random(14)
    loaded = reuse(engine)
    how = "reused (loaded by an earlier run)"
    if loaded is None:
        loaded = load(engine, args.sites, args.items, args.shipments, rng)
        how = f"loaded in {loaded.seconds:.0f} s"
    catalogs = load_registry()
    units = CatalogUnits(catalogs)
    model = ItemReadModel(engine, units.kilograms)
    started = time.perf_counter()
    # the query reads the item-state model: project it from the log as the server would
    projected = model.rebuild() if how.startswith("loaded") else model.catch_up()
    how += f"; read model: {projected:,} events projected in {time.perf_counter() - started:.0f} s"
    if engine.dialect.name != "sqlite" and projected:
        # what autovacuum does after a million inserts: statistics, and the visibility map
        # that index-only scans need
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    settings = durable(engine)
    console.print(
        f"{label}: {len(loaded.places):,} sites, {loaded.events:,} events {how}; {settings}"
    )
    ledger = SqlLedgerStore(engine, origin=ORIGIN)
    ours = EmergencyService(ledger, catalogs, units)
    scan = ScanSites(engine)
    baseline = EmergencyService(ledger, catalogs, units, sites=scan)
    index = SiteStore(engine)
    rows = []
    for radius in args.radius:
        series = [
            Series(
                "ours, now",
                _asking(ours, radius, None),
                [],
                [],
            ),
            Series(
                "ours, at=",
                _asking(ours, radius, AT),
                [],
                [],
            ),
            Series(
                "baseline (scan), now",
                _asking(baseline, radius, None),
                [],
                [],
            ),
            Series(
                "site lookup: index",
                _looking(index, radius),
                [],
                [],
            ),
            Series(
                "site lookup: scan",
                _looking(scan, radius),
                [],
                [],
            ),
        ]
        warmup = max(5, args.queries // 10)
        measure(series, centres(loaded.places, args.queries + warmup, rng), warmup)
        p99 = {one.name: percentile(sorted(one.times), 0.99) for one in series}
        for one in series:
            ordered = sorted(one.times)
            target = {"ours, now": "< 50 ms", "ours, at=": "< 200 ms"}.get(one.name, "")
            verdict = ""
            if target:
                bound = 50.0 if one.name == "ours, now" else 200.0
                verdict = "PASS" if p99[one.name] < bound else "FAIL"
            base = {"ours, now": "baseline (scan), now", "site lookup: index": "site lookup: scan"}
            ratio = f"{p99[base[one.name]] / p99[one.name]:.1f}x faster" if one.name in base else ""
            rows.append(
                [
                    label,
                    f"{radius:.0f}",
                    one.name,
                    f"{percentile(ordered, 0.5):.1f}",
                    f"{percentile(ordered, 0.9):.1f}",
                    f"{percentile(ordered, 0.99):.1f}",
                    f"{ordered[-1]:.1f}",
                    f"{statistics.mean(s for s, _ in one.sizes):.1f}",
                    f"{statistics.mean(i for _, i in one.sizes):.0f}",
                    ratio,
                    f"{target} {verdict}".strip(),
                ]
            )
    engine.dispose()
    return rows


@contextlib.contextmanager
def _workspace() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="bench-nearby-") as tmp:
        yield Path(tmp)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__)
    parser.add_argument("--sites", type=int, default=10_000)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--shipments", type=int, default=300)
    parser.add_argument("--queries", type=int, default=300, help="timed per series and radius")
    parser.add_argument("--radius", type=float, action="append", help="metres (repeatable)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument("--sqlite", help="keep the SQLite city in this file (reused if loaded)")
    parser.add_argument(
        "--postgres-url",
        help="use this PostgreSQL database instead of a private server (reused if loaded)",
    )
    parser.add_argument("--quick", action="store_true", help="100k items, 100 queries")
    args = parser.parse_args(argv)
    args.radius = args.radius or [500.0, 2000.0]
    if args.quick:
        args.items, args.queries = min(args.items, 100_000), min(args.queries, 100)
    console = Console(width=160)
    for line in header_lines(MODULE):
        console.print(line)
    title = (
        f"nearby: {args.sites:,} sites, {args.items:,} items, {args.shipments} open shipments; "
        "ms per query (EmergencyService.nearby, no HTTP)"
    )
    columns = ["database", "radius m", "series", "p50", "p90", "p99", "max", "sites", "items",
               "vs baseline (p99)", "target"]  # fmt: skip

    def report(rows: list[list[str]]) -> None:
        table = results_table(title, columns)
        for row in rows:
            table.add_row(*row)
        console.print(table)
        console.print(f"load average now: {header_lines(MODULE)[1].split('load average ')[1]}")

    with _workspace() as tmp:
        path = Path(args.sqlite) if args.sqlite else tmp / "nearby.db"
        if not args.no_sqlite:
            report(run(f"sqlite:///{path}", args, console, "SQLite"))
        if args.postgres_url:
            report(run(args.postgres_url, args, console, "PostgreSQL"))
        elif not args.no_postgres:
            with postgres(tmp) as (server, reason):
                if server is None:
                    console.print(f"PostgreSQL skipped: {reason}")
                else:
                    url = server.create_database("nearby")
                    label = f"PostgreSQL {pg_version(server).split()[0]}"
                    report(run(url, args, console, label))
    console.print(
        "baseline: the same nearby() with its sites found by the same box predicate as a table "
        "scan of site_location (no R*Tree / GiST); holdings folded alike. 'sites'/'items': mean "
        "per answer. Interleaved query by query."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
