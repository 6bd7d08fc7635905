"""Rescan speed and restart-from-snapshot time of the findings engine, on a simulated ledger.

Run from the project root::

    .venv/bin/python -m bench.rescan [--items N] [--seed S] [--db PATH] [--tail N]
                                     [--profile OUT.prof] [--no-full-restart]
                                     [--baseline SRC [--compare-only]]

Uses the SQLite ledger at ``--db`` (copied first: the bench writes findings, a cursor and
snapshots), or simulates about ``--items`` items. ``make_engine`` opens SQLite as the
service does (WAL, ``synchronous=FULL``). It then

1. rescans the whole ledger as of a day after its last entry (``api.anomaly.replay``, as
   ``chemtrace findings rescan`` does), pausing ``--tail`` entries before the end to write
   an engine snapshot (not timed as rescan): rescan events/s and log entries/s;
2. times the snapshot write (seal + HMAC + atomic write with fsync) and its size;
3. saves the cursor at the end and restarts a :class:`api.anomaly.FindingsWorker` with the
   snapshot folder: it checks the snapshot (MAC, rules, catalogs, the ledger's leaf and
   root) and replays the last ``--tail`` entries; and, unless ``--no-full-restart``, a worker
   without snapshots (a full replay), for comparison;
4. checks that the restored engine's state equals the straight run's byte for byte.

``--profile`` writes a cProfile of the rescan (step 1) and prints its top 15 functions.

``--baseline SRC`` first runs the same straight rescan, each in a fresh interpreter, with
the code at SRC (a source tree, e.g. ``git archive 82e8bda | tar -x -C /tmp/base``) and
with this tree, one after the other on the same copy, and prints both rates (wall and per
CPU second), their ratio and whether the two found exactly the same findings;
``--compare-only`` stops there (a large ledger's side by side within a bench's time).

cProfile inflates small calls, which is most of a rescan: py-spy samples without slowing
it, e.g. ``py-spy record -r 200 -f raw -o OUT.txt -- .venv/bin/python -m bench.rescan --db
LEDGER.db --no-full-restart`` (collapsed stacks with line numbers and sample counts; the
rescan is under ``api.replay.replay``).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from api.anomaly import FindingsWorker, new_engine
from api.engine_snapshots import EngineSnapshots, SnapshotPolicy
from api.replay import replay
from bench._machine import header_lines, load_average
from ledger.rules.snapshot import canonical_state
from ledger.rules.state import utc_text
from ledger.store import schema as t
from ledger.store.engine import make_engine
from ledger.store.findings import EPOCH, Cursor, FindingStore
from ledger.timefmt import format_utc, parse_utc

out = Console(width=120)
TARGET = 20_000
KEY = b"bench-only snapshot key, 32 bytes+"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rescan", description=__doc__)
    parser.add_argument("--items", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db", type=Path, help="SQLite ledger to read (copied first)")
    parser.add_argument("--tail", type=int, default=10_000, help="entries after the snapshot")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the rescan here")
    parser.add_argument("--no-full-restart", action="store_true")
    parser.add_argument("--baseline", type=Path, help="source tree to compare against")
    parser.add_argument("--compare-only", action="store_true",
                        help="with --baseline: only the side-by-side rescans")  # fmt: skip
    args = parser.parse_args(argv)
    for line in header_lines("bench.rescan"):
        out.print(line)
    out.print(f"SQLite {sqlite3.sqlite_version}")
    with tempfile.TemporaryDirectory(prefix="bench-rescan-") as tmp:
        path = Path(tmp) / "ledger.db"
        if args.db is not None:
            _copy(args.db, path)
        else:
            from sim.simulator import simulate

            out.print(f"simulating about {args.items:,} items (seed {args.seed})")
            simulate(f"sqlite:///{path}", items=args.items, seed=args.seed, anomaly_rate=0.01,
                     labels=Path(tmp) / "labels.jsonl", keys=Path(tmp) / "keys")  # fmt: skip
        if args.baseline is not None:
            _side_by_side(path, args.baseline)
        if args.baseline is None or not args.compare_only:
            _run(f"sqlite:///{path}", Path(tmp) / "snapshots", args)
    out.print(f"load average at the end: {load_average()} (shared machine)")
    return 0


_STRAIGHT = """
import hashlib, json, sys, time
from datetime import timedelta
from api.anomaly import new_engine
from api.replay import replay
from ledger.store.engine import make_engine
from ledger.store.findings import FindingStore
from ledger.timefmt import format_utc, parse_utc
store = FindingStore(make_engine(sys.argv[1]))
last, end = store.log_end()
as_of = parse_utc(end) + timedelta(days=1)
until = format_utc(as_of)
engine = new_engine()
wall, cpu = time.perf_counter(), time.process_time()
found = replay(store, engine, until_time=until, clock=as_of, journal_until=until)
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
text = json.dumps([f.to_json() for f in found], sort_keys=True, default=str)
print(json.dumps({"wall": wall, "cpu": cpu, "findings": len(found),
                  "digest": hashlib.sha256(text.encode()).hexdigest()}))
"""
"""A straight rescan to the end, as ``_run`` times it, printing its times and findings."""


def _side_by_side(path: Path, baseline: Path) -> None:
    sql = make_engine(f"sqlite:///{path}")
    with sql.connect() as conn:
        events = int(conn.execute(select(func.count()).select_from(t.event)).scalar_one())
        entries = int(conn.execute(select(func.count()).select_from(t.log_entry)).scalar_one())
    sql.dispose()
    runs = {}
    for name, tree in (("baseline", baseline.resolve()), ("this tree", Path.cwd())):
        env = {**os.environ, "PYTHONPATH": str(tree)}
        done = subprocess.run([sys.executable, "-c", _STRAIGHT, f"sqlite:///{path}"], env=env,
                              cwd=tree, check=True, capture_output=True, text=True)  # fmt: skip
        runs[name] = json.loads(done.stdout.strip().splitlines()[-1])
        out.print(f"{name} ({tree}): {runs[name]['wall']:.1f} s, load {load_average()}")
    table = Table(title=f"straight rescan, side by side ({entries:,} entries, {events:,} events)")
    for column in ("code", "wall s", "events/s", "entries/s", "CPU s", "events/CPU s",
                   "entries/CPU s", "findings"):  # fmt: skip
        table.add_column(column, justify="left" if column == "code" else "right")
    for name, run in runs.items():
        table.add_row(name, f"{run['wall']:.1f}", f"{events / run['wall']:,.0f}",
                      f"{entries / run['wall']:,.0f}", f"{run['cpu']:.1f}",
                      f"{events / run['cpu']:,.0f}", f"{entries / run['cpu']:,.0f}",
                      f"{run['findings']:,}")  # fmt: skip
    old, new = runs["baseline"], runs["this tree"]
    out.print(table)
    out.print(f"speed-up: {old['wall'] / new['wall']:.2f}x wall, {old['cpu'] / new['cpu']:.2f}x "
              f"per CPU second; identical findings: {old['digest'] == new['digest']}")  # fmt: skip


def _copy(source: Path, target: Path) -> None:
    """A consistent copy even while another process writes the source (SQLite backup)."""
    with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def _run(url: str, folder: Path, args: argparse.Namespace) -> None:
    sql = make_engine(url)
    store = FindingStore(sql)
    last, last_time = store.log_end()
    if last_time is None:
        raise SystemExit("the ledger is empty")
    with sql.connect() as conn:
        events = int(conn.execute(select(func.count()).select_from(t.event)).scalar_one())
    as_of = parse_utc(last_time) + timedelta(days=1)
    until = format_utc(as_of)
    cut = max(last - args.tail, 0)
    out.print(f"ledger: {last + 1:,} log entries, {events:,} events; snapshot at {cut:,}")

    engine = new_engine()
    profile = cProfile.Profile() if args.profile else None
    started, cpu = time.perf_counter(), time.process_time()
    if profile:
        profile.enable()
    found = replay(store, engine, until_index=cut, until_time=until, clock=parse_utc(EPOCH),
                   journal_until=EPOCH)  # fmt: skip
    first_half, first_cpu = time.perf_counter() - started, time.process_time() - cpu
    if profile:
        profile.disable()

    snapshots = EngineSnapshots(store, SnapshotPolicy(folder, keep=1), KEY)
    began = time.perf_counter()
    snap = snapshots.write(engine, EPOCH)
    write_s = time.perf_counter() - began
    assert snap is not None
    size = snap.stat().st_size

    started, cpu = time.perf_counter(), time.process_time()
    if profile:
        profile.enable()
    found += replay(store, engine, until_time=until, clock=as_of, journal_until=until)
    if profile:
        profile.disable()
    rescan_s = first_half + time.perf_counter() - started
    rescan_cpu = first_cpu + time.process_time() - cpu
    store.save([], Cursor(engine.position, until, utc_text(engine.clock), engine.config.version))

    began = time.perf_counter()
    restarted = FindingsWorker(store, new_engine, snapshots=EngineSnapshots(
        store, SnapshotPolicy(folder), KEY))._rebuild()  # fmt: skip
    restart_s = time.perf_counter() - began
    began = time.perf_counter()
    same = canonical_state(restarted) == canonical_state(engine)
    compare_s = time.perf_counter() - began
    full_s = None
    if not args.no_full_restart:
        began = time.perf_counter()
        FindingsWorker(store, new_engine)._rebuild()
        full_s = time.perf_counter() - began

    table = Table(title=f"findings engine on {last + 1:,} entries / {events:,} events")
    table.add_column("measure")
    table.add_column("value", justify="right")
    verdict = "PASS" if events / rescan_s >= TARGET else "FAIL"
    table.add_row("rescan time", f"{rescan_s:.1f} s ({len(found):,} findings)")
    table.add_row("rescan events/s", f"{events / rescan_s:,.0f} (target ≥ {TARGET:,}: {verdict})")
    table.add_row("rescan log entries/s", f"{(last + 1) / rescan_s:,.0f}")
    per_cpu = f"{events / rescan_cpu:,.0f} events, {(last + 1) / rescan_cpu:,.0f} entries"
    table.add_row("  per CPU second (shared machine)", per_cpu)
    table.add_row("snapshot write (seal, HMAC, fsync)", f"{write_s * 1000:,.0f} ms")
    table.add_row("snapshot size", f"{size / 1e6:,.2f} MB")
    table.add_row(f"restart from snapshot (+ {last - cut:,} entries)", f"{restart_s:.2f} s")
    table.add_row("restart by full replay", "-" if full_s is None else f"{full_s:.1f} s")
    table.add_row("restored state == straight run", f"{same} (compared in {compare_s:.1f} s)")
    out.print(table)
    if profile and args.profile:
        profile.dump_stats(args.profile)
        pstats.Stats(profile).sort_stats("tottime").print_stats(15)
    shutil.rmtree(folder, ignore_errors=True)
    sql.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
