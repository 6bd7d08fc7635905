"""``python -m bench.scale``: generate a realistic ledger fast, then measure it.

Run from the project root::

    python -m bench.scale generate --events 1000000 --db sqlite:////work/var-scale/1m.db \\
        --out-keys /work/var-scale/1m-keys
    python -m bench.scale run --db sqlite:////work/var-scale/1m.db --keys /work/var-scale/1m-keys
    python -m bench.scale both --events 1000000 --out /work/var-scale   # SQLite + a private
                                                                          # durable PostgreSQL

``generate`` refuses a non-empty database; ``run`` reuses one (the output is reusable
across runs). The keystore is throwaway: keep it outside git.
"""

from __future__ import annotations

import argparse
import resource
import sqlite3
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console
from sqlalchemy import create_engine, func, select

from api.deployment import Deployment
from bench._machine import header_lines, load_average, postgres, results_table
from bench.scale.generate import Report, generate
from bench.scale.measure import db_size, durability, ingest_rates, reads
from ledger.store import schema as t

out = Console(width=160)
INGEST_TARGET = 0.8


def _progress(total: int) -> Callable[[int], None]:
    state: dict[str, float] = {"done": 0, "began": time.perf_counter(), "next": 0}

    def tick(n: int) -> None:
        state["done"] += n
        if state["done"] >= state["next"]:
            rate = state["done"] / max(1e-9, time.perf_counter() - state["began"])
            done = int(state["done"])
            out.print(f"  {done:,}/{total:,} events, {rate:,.0f}/s, load {load_average()}")
            state["next"] += max(10_000, total // 20)

    return tick


def do_generate(url: str, keys: Path, events: int, seed: int, workers: int) -> Report:
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    report = generate(
        url, keys, events=events, seed=seed, workers=workers, progress=_progress(events)
    )
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    main_cpu = cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime
    out.print(
        f"generated {report.events:,} events ({report.items:,} items, {report.stories:,} "
        f"stories, {report.orgs} organisations) into {url}"
    )
    out.print(
        f"  registry: {report.registry_entries:,} entries + {report.code_batches_entries} "
        f"code batches through the real append paths in {report.seconds_registry:.1f} s"
    )
    out.print(
        f"  events: {report.seconds_events:.1f} s = [bold]"
        f"{report.events / report.seconds_events:,.0f} events/s[/bold]; finish "
        f"(checkpoint, durable reopen, ANALYZE) {report.seconds_finish:.1f} s; "
        f"total {report.seconds:.1f} s; {report.checkpoints} checkpoints"
    )
    out.print(
        f"  CPU: loader {main_cpu:.1f} s, story workers {kids.ru_utime + kids.ru_stime:.1f} s "
        f"({workers} processes); load average now {load_average()}"
    )
    out.print(
        f"  event times {report.first_event} .. {report.last_event}; "
        f"{report.events / max(1, report.items):.1f} events per item"
    )
    return report


def mix_of(url: str) -> Counter[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(t.event.c.type, func.count()).group_by(t.event.c.type))
            return Counter({row[0]: int(row[1]) for row in rows})
    finally:
        engine.dispose()


def simulator_mix(sim_db: Path | None, items: int) -> tuple[Counter[str], str]:
    if sim_db is not None and sim_db.exists():
        return mix_of(f"sqlite:///{sim_db}"), f"{sim_db}"
    from sim.simulator import simulate

    folder = Path(tempfile.mkdtemp(prefix="bench-scale-sim-"))
    db = folder / "sim.db"
    simulate(
        f"sqlite:///{db}",
        items=items,
        seed=1,
        anomaly_rate=0.01,
        labels=folder / "labels.jsonl",
        keys=folder / "keys",
    )
    return mix_of(f"sqlite:///{db}"), f"chemtrace simulate --items {items} (seed 1)"


def print_mix(ours: Counter[str], theirs: Counter[str], source: str) -> None:
    table = results_table(
        f"event-type mix: generated vs the simulator ({source})",
        ["type", "generated", "share", "simulator", "share "],
    )
    a, b = sum(ours.values()) or 1, sum(theirs.values()) or 1
    for kind in sorted(set(ours) | set(theirs), key=lambda k: -theirs.get(k, 0)):
        table.add_row(
            kind,
            f"{ours.get(kind, 0):,}",
            f"{100 * ours.get(kind, 0) / a:.1f} %",
            f"{theirs.get(kind, 0):,}",
            f"{100 * theirs.get(kind, 0) / b:.1f} %",
        )
    out.print(table)


def do_run(url: str, keys: Path, runs: int, seed: int, empty_url: str, label: str) -> None:
    deployment = Deployment.open(url, keys, migrate=False)
    size = deployment.store.log_size()
    with deployment.store.engine.connect() as conn:
        events = int(conn.execute(select(func.count()).select_from(t.event)).scalar_one())
        items = int(conn.execute(select(func.count()).select_from(t.item)).scalar_one())
    out.print(
        f"[bold]{label}[/bold]: {url}: {size:,} log entries, {events:,} events, "
        f"{items:,} items; {durability(url, deployment)}; load {load_average()}"
    )
    measures, facts = reads(deployment, runs, seed)
    empty = Deployment.open(empty_url, keys)
    big_rate, empty_rate = ingest_rates(deployment, empty, 1)
    ratio = big_rate / empty_rate
    nbytes = db_size(deployment, url)
    table = results_table(
        f"{label}: reads at {events:,} events (store/service in-process, no HTTP; {runs} runs)",
        ["measure", "p50 ms", "p99 ms", "target", "verdict", "note"],
    )
    for m in measures:
        table.add_row(
            m.name,
            f"{m.p50:.2f}",
            f"{m.p99:.2f}",
            f"< {m.target_ms:g} ms" if m.target_ms else "-",
            m.verdict,
            m.note,
        )
    table.add_row(
        "findings list page",
        "-",
        "-",
        "< 50 ms",
        "not run",
        "a generated ledger holds no findings (run the rescan: bench.rescan)",
    )
    table.add_row(
        "ingest, batch 100 (Ingestor.submit)",
        f"{big_rate:,.0f} ev/s",
        f"empty log {empty_rate:,.0f} ev/s",
        "≥ 80 % of empty",
        "PASS" if ratio >= INGEST_TARGET else "FAIL",
        f"ratio {100 * ratio:.0f} %",
    )
    out.print(table)
    out.print(
        f"  database size: {nbytes / 2**20:,.0f} MiB = "
        f"{nbytes / 2**20 / max(1, events) * 1e6:,.0f} MiB per million events"
    )
    out.print(
        f"  memory of this process (max RSS) after the inventory fold: "
        f"{facts['rss_mib']:,.0f} MiB for {facts['items_in_projection']:,} item states "
        f"(the service holds the same projection)"
    )
    deployment.store.engine.dispose()
    empty.store.engine.dispose()


def _durable_postgres(server: object) -> None:
    with server.connect() as conn:  # type: ignore[attr-defined]
        for setting in ("fsync = on", "full_page_writes = on", "synchronous_commit = on"):
            conn.execute(f"ALTER SYSTEM SET {setting}")
        conn.execute("SELECT pg_reload_conf()")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="generate a ledger into an empty database")
    gen.add_argument("--events", type=int, required=True)
    gen.add_argument("--db", required=True)
    gen.add_argument("--out-keys", type=Path, required=True)
    run = sub.add_parser("run", help="measure a generated ledger (reused as it is)")
    run.add_argument("--db", required=True)
    run.add_argument("--keys", type=Path, required=True)
    run.add_argument(
        "--empty-db",
        help="baseline database for the ingest ratio (default: a SQLite file in a temp dir)",
    )
    both = sub.add_parser("both", help="generate and measure on SQLite and a durable PostgreSQL")
    both.add_argument("--events", type=int, required=True)
    both.add_argument("--out", type=Path, required=True)
    both.add_argument("--no-postgres", action="store_true")
    for p in (gen, run, both):
        p.add_argument("--seed", type=int, default=1)
    for p in (gen, both):
        p.add_argument("--workers", type=int, default=2)
    for p in (run, both):
        p.add_argument("--runs", type=int, default=500)
        p.add_argument("--sim-db", type=Path, help="a simulated ledger to compare the mix with")
        p.add_argument("--sim-items", type=int, default=300)
    args = parser.parse_args(argv)
    for line in header_lines("bench.scale"):
        out.print(line)
    out.print(
        f"SQLite {sqlite3.sqlite_version}; generation: SQLite synchronous=OFF / PostgreSQL "
        "synchronous_commit=off while loading, then a durable reopen; reads and ingest "
        "are measured durable"
    )
    if args.command == "generate":
        do_generate(args.db, args.out_keys, args.events, args.seed, args.workers)
        return 0
    if args.command == "run":
        empty = args.empty_db or f"sqlite:///{tempfile.mkdtemp(prefix='bench-scale-')}/empty.db"
        print_mix(mix_of(args.db), *simulator_mix(args.sim_db, args.sim_items))
        do_run(args.db, args.keys, args.runs, args.seed, empty, "ledger")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    tag = f"{args.events // 1000}k"
    sqlite_url = f"sqlite:///{args.out / f'scale-{tag}.db'}"
    keys = args.out / f"scale-{tag}-throwaway-keys"
    if not Path(sqlite_url.removeprefix("sqlite:///")).exists():
        out.print("[bold]SQLite[/bold]")
        do_generate(sqlite_url, keys, args.events, args.seed, args.workers)
    else:
        out.print(f"reusing {sqlite_url} (generation not measured)")
    print_mix(mix_of(sqlite_url), *simulator_mix(args.sim_db, args.sim_items))
    do_run(
        sqlite_url,
        keys,
        args.runs,
        args.seed,
        f"sqlite:///{args.out / f'empty-{tag}.db'}",
        "SQLite",
    )
    if args.no_postgres:
        return 0
    with postgres(args.out / f"pg-{tag}-{int(time.time())}") as (server, reason):
        if server is None:
            out.print(f"PostgreSQL skipped: {reason}")
            return 0
        _durable_postgres(server)
        url = server.create_database("scale")
        empty_url = server.create_database("empty")
        out.print(
            "[bold]PostgreSQL[/bold] (private server, fsync=on, synchronous_commit=on; "
            "sessions of the loader: synchronous_commit=off)"
        )
        do_generate(
            url, args.out / f"scale-{tag}-pg-throwaway-keys", args.events, args.seed, args.workers
        )
        do_run(
            url,
            args.out / f"scale-{tag}-pg-throwaway-keys",
            args.runs,
            args.seed,
            empty_url,
            "PostgreSQL",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
