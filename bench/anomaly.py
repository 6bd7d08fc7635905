"""Anomaly benchmark: a simulated city's generation speed, batch rescan speed, and the score.

Run from the project root::

    .venv/bin/python -m bench.anomaly [--items N] [--seed S] [--db PATH] [--keep]

Builds a simulated ledger of about ``--items`` items with ``chemtrace simulate`` (SQLite,
the ingest running in its own process beside the generator), or reuses the database and
labels at ``--db`` when they already exist, then rescans it as of its end with
``api.anomaly.rescan`` and prints: generation events/s (the whole run: registries, codes,
signing, ingest), rescan log entries/s (target ≥ 20,000/s), and the per-rule table of TP,
FP, FN, precision and recall against the ground-truth labels.
"""

from __future__ import annotations

import argparse
import platform
import sqlite3
import tempfile
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from bench._machine import header_lines
from sim.simulator import evaluate, simulate
from sim.simulator.cli import evaluation_table, print_report

out = Console()
RESCAN_TARGET = 20_000


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.anomaly", description=__doc__)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rate", type=float, default=0.01, help="anomalies per item")
    parser.add_argument("--db", type=Path, help="SQLite file to build, or reuse if it exists")
    args = parser.parse_args(argv)
    for line in header_lines("bench.anomaly"):
        out.print(line)
    out.print(f"python {platform.python_version()}, SQLite {sqlite3.sqlite_version}")
    with tempfile.TemporaryDirectory(prefix="bench-anomaly-") as tmp:
        path = args.db or Path(tmp) / "simulation.db"
        labels = path.with_suffix(".labels.jsonl")
        url = f"sqlite:///{path}"
        if path.exists() and labels.exists():
            out.print(f"reusing {path} and {labels} (generation not measured)")
        else:
            out.print(f"generating about {args.items:,} items into {path} (seed {args.seed})")
            report = simulate(url, items=args.items, seed=args.seed, anomaly_rate=args.rate,
                              labels=labels, keys=path.parent / f"{path.stem}-keys")  # fmt: skip
            print_report(report)
            out.print(f"generation: {report.events:,} events in {report.seconds:.1f} s = "
                      f"[bold]{report.events_per_second:,.0f} events/s[/bold]")  # fmt: skip
        result = evaluate(url, labels)
        verdict = "PASS" if result.entries_per_second >= RESCAN_TARGET else "FAIL"
        out.print(f"batch rescan: {result.entries:,} log entries in {result.seconds:.1f} s = "
                  f"[bold]{result.entries_per_second:,.0f} entries/s[/bold] "
                  f"(target ≥ {RESCAN_TARGET:,}/s: {verdict})")  # fmt: skip
        out.print(evaluation_table(result))
        total = result.scores.rules[-1]
        out.print(f"overall precision {total.precision:.3f}, recall {total.recall:.3f}")
        for s in result.scores.rules[:-1]:
            for example in (s.false_positives + s.false_negatives)[:3]:
                out.print(f"  [red]{s.rule}[/red]: {example}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
