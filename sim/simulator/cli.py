"""``chemtrace simulate``: generate a seeded city (optionally evaluate), or evaluate one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from api.keystore import DEFAULT_KEYS_DIR
from sim.simulator import SIMULATION_RULES, Evaluation, Report, evaluate, simulate

app = typer.Typer(help="Simulate Beijing's hazardous-chemical flows with labelled anomalies.")
console = Console()

Db = Annotated[str, typer.Option("--db", help="Database URL (an empty SQLite file or PostgreSQL).")]
Labels = Annotated[Path, typer.Option("--labels", help="Ground-truth labels (JSON lines).")]
Rules = Annotated[Path, typer.Option("--rules", help="Rules configuration for the engine.")]


@app.callback(invoke_without_command=True)
def generate(
    ctx: typer.Context,
    db: Db = "sqlite:///var/simulation.db",
    items: Annotated[int, typer.Option("--items", help="About this many items.")] = 2000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 1,
    anomaly_rate: Annotated[
        float, typer.Option("--anomaly-rate", help="Injected anomalies per item (≥ 1 per rule).")
    ] = 0.01,
    labels: Labels = Path("var/simulation-labels.jsonl"),
    rules: Rules = SIMULATION_RULES,
    days: Annotated[int, typer.Option("--days", help="Simulated days.")] = 42,
    keys: Annotated[Path, typer.Option("--keys", help="Dev keystore folder.")] = DEFAULT_KEYS_DIR,
    then_evaluate: Annotated[
        bool, typer.Option("--evaluate", help="Rescan afterwards and score against the labels.")
    ] = False,
) -> None:
    """Generate a seeded city into an empty ledger (with --evaluate, then score the engine)."""
    if ctx.invoked_subcommand is not None:
        return
    with _progress() as bar:
        task = bar.add_task("events", total=None)
        report = simulate(db, items=items, seed=seed, anomaly_rate=anomaly_rate, labels=labels,
                          keys=keys, days=days,
                          progress=lambda n: bar.advance(task, n))  # fmt: skip
    print_report(report)
    if then_evaluate:
        print_evaluation(_evaluate(db, labels, rules, report.end))


@app.command("evaluate")
def evaluate_command(
    db: Db = "sqlite:///var/simulation.db",
    labels: Labels = Path("var/simulation-labels.jsonl"),
    rules: Rules = SIMULATION_RULES,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="RFC 3339 UTC (default: after the last entry).")
    ] = None,
) -> None:
    """Rescan an existing simulated ledger and score the findings against its labels."""
    result = _evaluate(db, labels, rules, as_of)
    print_evaluation(result)
    raise typer.Exit(0 if all(s.fp == 0 and s.fn == 0 for s in result.scores.rules) else 1)


def _evaluate(db: str, labels: Path, rules: Path, as_of: str | None) -> Evaluation:
    with _progress() as bar:
        task = bar.add_task("rescan", total=None)
        return evaluate(db, labels, rules=rules, as_of=as_of,
                        progress=lambda n: bar.update(task, completed=n))  # fmt: skip


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=True)  # fmt: skip


def print_report(report: Report) -> None:
    console.print(
        f"Simulated {report.items} items and {report.events} events "
        f"({report.records} registry records, {report.licences} licences, "
        f"{report.code_batches} code batches, {report.rejected} refused attempts journalled) "
        f"from {report.start} to {report.end}; {report.labels} anomalies labelled, "
        f"{report.near_misses} near misses; "
        f"{report.seconds:.1f} s, {report.events_per_second:.0f} events/s."
    )


def evaluation_table(result: Evaluation) -> Table:
    """Per rule, then per sub-check (the simulator's anomaly kinds) under its rule."""
    table = Table(title=f"Anomaly engine vs the simulator's labels (as of {result.as_of})")
    for column in ("rule / kind", "TP", "FP", "FN", "precision", "recall"):
        table.add_column(column, justify="left" if column == "rule / kind" else "right")
    kinds = result.scores.kinds
    for s in result.scores.rules:
        style = "bold" if s.name == "ALL" else ("red" if s.fp or s.fn else None)
        name = f"{s.name}  (no such rule: recall gap)" if s.gap else s.name
        table.add_row(name, str(s.tp), str(s.fp), str(s.fn), f"{s.precision:.3f}",
                      f"{s.recall:.3f}", style=style)  # fmt: skip
        for k in (k for k in kinds if k.rule == s.name):
            table.add_row(f"  {k.name}", str(k.tp), str(k.fp), str(k.fn), f"{k.precision:.3f}",
                          f"{k.recall:.3f}", style="red" if k.fp or k.fn else "dim")  # fmt: skip
    return table


def print_evaluation(result: Evaluation) -> None:
    console.print(evaluation_table(result))
    console.print(f"Rescan: {result.entries} log entries in {result.seconds:.1f} s "
                  f"({result.entries_per_second:.0f} entries/s).")  # fmt: skip
    for s in result.scores.rules:
        for what, examples in (("false positive", s.false_positives),
                               ("false negative", s.false_negatives)):  # fmt: skip
            for example in examples[:3]:
                console.print(f"  [red]{s.name} {what}[/red]: {example}")
