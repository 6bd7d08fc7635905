"""Offline bundle benchmark: how long a handheld takes to verify a 20-event item bundle.

Run from the project root::

    .venv/bin/python -m bench.bundle [--events 20] [--runs 200] [--background 2000]

A ledger is built on a SQLite file in a temp dir through the real ingest path (the
test :class:`tests.harness.Harness`): one registry-issued item with ``--events``
events (a commission, then uses) by one device, amid ``--background`` events on
other items by a second organisation, so inclusion proofs have a realistic depth.
After a checkpoint, ``build_item_bundle`` writes the bundle; then
``verify_bundle`` is timed ``--runs`` times after a warm-up (median, p90, p99,
max), alone and together with ``json.loads`` of the bundle file. Every timed run
must verify with no fault and no warning. Target: p99 of ``verify_bundle`` <= 10 ms.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table

from bench._machine import command_line, cpu_model, percentile
from ledger.append import Accepted
from ledger.bundle import verify_bundle
from ledger.canonical import JsonValue
from ledger.codes import issue_batch
from ledger.note import NoteVerifier
from ledger.signing import ED25519
from ledger.store.bundles import build_item_bundle
from tests.harness import ORIGIN, Harness

TARGET_MS = 10.0
WARMUP = 20
BUILD_RUNS = 20
NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


def timed(runs: int, action: Callable[[], object]) -> list[float]:
    """Milliseconds per call, sorted."""
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return sorted(samples)


def submit(harness: Harness, envelopes: list[dict[str, JsonValue]]) -> None:
    for start in range(0, len(envelopes), 200):
        outcomes = harness.submit(envelopes[start : start + 200])
        assert all(isinstance(outcome, Accepted) for outcome in outcomes), outcomes


def build_ledger(directory: Path, events: int, background: int) -> tuple[Harness, str]:
    harness = Harness.create(f"sqlite:///{directory / 'bench.db'}")
    device, other = harness.device("org-a"), harness.device("org-b")
    (signed,) = issue_batch("org-a", "26.3", "drum", "B1", "2026-09-28", 1, harness.root)
    harness.store.append_code_batch(
        [signed], root=(ED25519, harness.root.public_key), log_signer=harness.log
    )
    code = signed.code
    mine = [harness.commission(device, code)]
    mine += [harness.use(device, code, "0.1") for _ in range(events - 1)]
    items = [f"BG-{n:05d}" for n in range(max(background // 4, 1))]
    noise = [harness.commission(other, item) for item in items]
    noise += [harness.use(other, items[n % len(items)]) for n in range(background - len(items))]
    # Interleave so the item's events sit at scattered indices, as in a busy log.
    step = max(len(noise) // max(len(mine), 1), 1)
    ordered: list[dict[str, JsonValue]] = []
    for position, envelope in enumerate(mine):
        ordered += noise[position * step : (position + 1) * step]
        ordered.append(envelope)
    ordered += noise[len(mine) * step :]
    submit(harness, ordered)
    harness.checkpoint()
    return harness, code


def row(table: Table, what: str, samples: list[float]) -> None:
    table.add_row(
        what,
        str(len(samples)),
        f"{percentile(samples, 0.5):.2f}",
        f"{percentile(samples, 0.9):.2f}",
        f"{percentile(samples, 0.99):.2f}",
        f"{samples[-1]:.2f}",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=20, help="events of the bundled item")
    parser.add_argument("--runs", type=int, default=200, help="timed verifications")
    parser.add_argument("--background", type=int, default=2000, help="other events in the log")
    args = parser.parse_args(argv)
    console = Console()
    with tempfile.TemporaryDirectory(prefix="chemtrace-bundle-bench-") as folder:
        harness, code = build_ledger(Path(folder), args.events, args.background)
        try:
            bundle = build_item_bundle(harness.store, code, log_signer=harness.log, now=NOW)
            builds = timed(
                BUILD_RUNS,
                lambda: build_item_bundle(harness.store, code, log_signer=harness.log, now=NOW),
            )
            log_size = harness.store.log_size()
        finally:
            harness.store.engine.dispose()
    text = json.dumps(bundle)
    verifier = NoteVerifier.for_key(ORIGIN, harness.log.public_key)

    def verify(document: dict[str, JsonValue]) -> None:
        report = verify_bundle(
            document,
            root_algorithm=ED25519,
            root_public_key=harness.root.public_key,
            log_verifier=verifier,
            state=None,
            now=NOW,
        )
        assert report.verified, report.faults
        assert not report.warnings, report.warnings

    timed(WARMUP, lambda: verify(bundle))
    alone = timed(args.runs, lambda: verify(bundle))
    parsed = timed(args.runs, lambda: verify(json.loads(text)))
    events = bundle["events"]
    certificates = bundle["certificates"]
    assert isinstance(events, list)
    assert isinstance(certificates, list)
    depth = max(len(entry["inclusion"]) for entry in events if isinstance(entry, dict))

    table = Table(title="Offline bundle verification (ms per bundle)", box=box.SIMPLE_HEAVY)
    for column in ("operation", "runs", "median", "p90", "p99", "max"):
        table.add_column(column, justify="left" if column == "operation" else "right")
    row(table, f"verify_bundle ({len(events)} events)", alone)
    row(table, "json.loads + verify_bundle", parsed)
    row(table, "build_item_bundle (SQLite)", builds)
    console.print(f"[bold]$ {command_line('bench.bundle')}[/bold]")
    console.print(
        f"{cpu_model()}, Python {platform.python_version()}; log of {log_size} entries, "
        f"bundle of {len(events)} events + {len(certificates)} certificates + label, "
        f"{len(text):,} bytes, proofs of up to {depth} hashes"
    )
    console.print(table)
    p99 = percentile(alone, 0.99)
    verdict = "[green]PASS[/green]" if p99 <= TARGET_MS else "[red]MISS[/red]"
    console.print(f"target: p99 of verify_bundle <= {TARGET_MS:.0f} ms: {verdict} ({p99:.2f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
