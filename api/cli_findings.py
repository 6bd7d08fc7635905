"""``chemtrace findings``: re-judge the whole ledger, or run the online engine on its own."""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import redis
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from api.anomaly import FindingsWorker, exit_with_parent, new_engine, redis_waiter, rescan
from api.background import SingletonLock
from api.deployment import DEFAULT_DB
from api.engine_snapshots import KEY_NAME, EngineSnapshots, SnapshotPolicy
from api.keystore import DEFAULT_KEYS_DIR, FileKeystore, KeystoreError
from api.logs import FORMAT_ENV, LogFormat, configure
from ledger.errors import InvalidInputError, LedgerError, TamperedEntryError
from ledger.rules.grouping import group_findings
from ledger.store.engine import make_engine, require_existing
from ledger.store.findings import FindingStore
from ledger.timefmt import format_utc, parse_utc

TAMPERED_RETRY_S = 30.0
"""How long a worker that met a tampered log entry waits before reading it again."""

app = typer.Typer(
    help="Anomaly findings: batch rescans and the online engine.", no_args_is_help=True
)
console = Console()
err = Console(stderr=True)

DbOption = Annotated[str, typer.Option("--db", help="Database URL (SQLite file or PostgreSQL).")]
RulesOption = Annotated[
    Path | None, typer.Option("--rules", help="Rules configuration (default: the shipped one).")
]
SnapshotsOption = Annotated[
    Path | None,
    typer.Option("--snapshots", help="Folder of engine snapshots (restart without a replay)."),
]
KeysOption = Annotated[Path, typer.Option("--keys", help="Keystore holding the snapshot MAC key.")]


def _snapshots(store: FindingStore, keys: Path, policy: SnapshotPolicy) -> EngineSnapshots:
    return EngineSnapshots(store, policy, FileKeystore(keys).secret(KEY_NAME))


@app.command("rescan")
def rescan_command(
    db: DbOption = DEFAULT_DB,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="RFC 3339 time to judge as of (default: now).")
    ] = None,
    rules: RulesOption = None,
    save: Annotated[
        bool, typer.Option("--save", help="Store findings not stored yet (ids are stable).")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print every occurrence as JSON lines.")
    ] = False,
) -> None:
    """Re-evaluate every rule over the whole ledger, as of a time, with a progress bar.

    Given the same ledger and as-of time this prints exactly what the online engine found:
    per rule, the findings (groups, one per rule and subject) and their occurrences.
    ``--save`` stores the occurrences not stored yet ("new saved" counts them).
    """
    try:
        require_existing(db)
        moment = parse_utc(as_of) if as_of else datetime.now(UTC)
        engine = new_engine(rules)
        store = FindingStore(make_engine(db))
        last, _ = store.log_end(until_time=format_utc(moment))
    except LedgerError as exc:
        err.print(f"[red]cannot rescan:[/red] {exc.diagnostics()}")
        raise typer.Exit(2) from exc
    started = time.perf_counter()
    columns = (TextColumn("judging"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    try:
        with Progress(*columns, console=err, transient=True, disable=as_json) as bar:
            task = bar.add_task("entries", total=last + 1)
            found = rescan(
                store, engine, as_of=moment, progress=lambda read: bar.update(task, completed=read)
            )
    except TamperedEntryError as exc:  # judged forged bytes would be worse than no answer
        err.print(f"[red]cannot rescan:[/red] {exc.diagnostics()}; run `chemtrace verify-log`")
        raise typer.Exit(2) from exc
    elapsed = time.perf_counter() - started
    saved = len(store.save(found)) if save else 0
    if as_json:
        for finding in sorted(found, key=lambda f: f.id):
            print(json.dumps(finding.to_json(), ensure_ascii=False, sort_keys=True))
        return
    groups = group_findings(found)
    table = Table(title=f"Findings as of {format_utc(moment)} (rules {engine.config.version})")
    table.add_column("rule")
    table.add_column("findings", justify="right")
    table.add_column("occurrences", justify="right")
    per_rule = Counter(g.rule for g in groups.values())
    for rule, count in sorted(Counter(f.rule for f in found).items()):
        table.add_row(rule, str(per_rule[rule]), str(count))
    console.print(table)
    console.print(f"{len(groups)} findings ({len(found)} occurrences) over {last + 1} log "
                  f"entries in {elapsed:.1f} s ({(last + 1) / max(elapsed, 1e-9):,.0f} entries/s)"
                  + (f"; {saved} new saved" if save else ""))  # fmt: skip


@app.command("worker")
def worker_command(
    db: DbOption = DEFAULT_DB,
    rules: RulesOption = None,
    interval: Annotated[float, typer.Option("--interval", help="Seconds between rounds.")] = 0.25,
    redis_url: Annotated[
        str | None, typer.Option("--redis", help="Redis URL: wake on the relay's entry stream.")
    ] = None,
    namespace: Annotated[str, typer.Option("--namespace", help="Redis key prefix.")] = "chemtrace",
    snapshots: SnapshotsOption = None,
    keys: KeysOption = DEFAULT_KEYS_DIR,
    snapshot_every: Annotated[
        int, typer.Option("--snapshot-every", help="Snapshot after this many log entries.")
    ] = 50_000,
    snapshot_seconds: Annotated[
        float, typer.Option("--snapshot-seconds", help="...or after this many seconds.")
    ] = 300.0,
    verify_every: Annotated[
        int,
        typer.Option("--verify-every", help="Check every Nth snapshot by a full replay (0: off)."),
    ] = 0,
    parent_fd: Annotated[
        int | None,
        typer.Option("--parent-fd", hidden=True, help="Pipe from the server: stop at its end."),
    ] = None,
    log_format: Annotated[
        LogFormat,
        typer.Option(
            "--log-format",
            envvar=FORMAT_ENV,
            case_sensitive=False,
            help="Logs on stderr: json, text, or auto (text on a terminal).",
        ),
    ] = LogFormat.auto,
) -> None:
    """Run the online engine alone (``chemtrace serve`` runs it too, under the same lock)."""
    configure(log_format)  # as the server that started it does: it exports the format
    log = logging.getLogger("chemtrace.findings")
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    if parent_fd is not None:
        try:
            exit_with_parent(parent_fd, stopping.set)
        except OSError as exc:
            log.error("cannot start: no pipe from the server on --parent-fd: %s", exc)
            raise typer.Exit(2) from exc
    try:
        require_existing(db)
        engine = make_engine(db)
        waiter = None
        if redis_url is not None:
            waiter = redis_waiter(redis.Redis.from_url(redis_url), f"{namespace}:entries")
        store = FindingStore(engine)
        saved = None
        if snapshots is not None:
            policy = SnapshotPolicy(
                snapshots, snapshot_every, snapshot_seconds, verify_every=verify_every
            )
            saved = _snapshots(store, keys, policy)
        worker = FindingsWorker(store, lambda: new_engine(rules),
                                lock=SingletonLock(db, engine, name="findings"),
                                wait_for_entries=waiter, snapshots=saved)  # fmt: skip
    except (LedgerError, InvalidInputError) as exc:
        log.error("cannot start: %s", exc.diagnostics())
        raise typer.Exit(2) from exc
    except KeystoreError as exc:
        log.error("cannot start: %s", exc)
        raise typer.Exit(2) from exc
    log.info("findings worker running; Ctrl-C to stop")
    try:
        while not stopping.is_set():
            try:
                new = worker.step()
            except TamperedEntryError as exc:
                # the worker stays up (a restart would only read the same bytes again) and
                # judges nothing past them until the ledger is restored
                log.error("the ledger fails its integrity check, no findings past it: %s",
                          exc.diagnostics())  # fmt: skip
                stopping.wait(TAMPERED_RETRY_S)
                continue
            if new:
                log.info("%d new occurrence(s) of findings", new, extra={"new_findings": new})
            stopping.wait(interval)
    except KeyboardInterrupt:
        pass
    finally:
        worker.close()


@app.command("verify-snapshot")
def verify_snapshot_command(
    snapshots: Annotated[Path, typer.Option("--snapshots", help="Folder of engine snapshots.")],
    db: DbOption = DEFAULT_DB,
    rules: RulesOption = None,
    keys: KeysOption = DEFAULT_KEYS_DIR,
) -> None:
    """Replay the ledger from zero to each snapshot's position and compare the engine states
    byte for byte; a snapshot that differs or fails a check is reported and deleted.

    Exits 1 if any snapshot was discarded."""
    configure(LogFormat.auto)
    try:
        require_existing(db)
        store = FindingStore(make_engine(db))
        saved = _snapshots(store, keys, SnapshotPolicy(snapshots))
    except LedgerError as exc:
        err.print(f"[red]cannot verify:[/red] {exc.diagnostics()}")
        raise typer.Exit(2) from exc
    except KeystoreError as exc:
        err.print(f"[red]cannot verify:[/red] {exc}")
        raise typer.Exit(2) from exc
    paths = saved.paths()
    good = [path for path in paths if saved.verify(path, lambda: new_engine(rules))]
    console.print(f"{len(good)} of {len(paths)} snapshot(s) match a full replay")
    if len(good) != len(paths):
        raise typer.Exit(1)


if __name__ == "__main__":
    app()  # the findings worker's own entry point: it needs none of the other commands
