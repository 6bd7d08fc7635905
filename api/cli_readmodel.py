"""``chemtrace readmodel``: rebuild the item-state read model, or verify it against the log."""

from __future__ import annotations

import typer
from rich.console import Console

from api.catalogs import load_registry
from api.cli_findings import DbOption
from api.deployment import DEFAULT_DB
from ledger.store.engine import make_engine, require_existing
from ledger.store.readmodel import ItemReadModel
from ledger.units import CatalogUnits

app = typer.Typer(
    help="The item-state read model (inventory, item states, the emergency view): derived "
    "from the log, never evidence.",
    no_args_is_help=True,
)
console = Console()
err = Console(stderr=True)


def _model(db: str) -> ItemReadModel:
    require_existing(db)
    return ItemReadModel(make_engine(db), CatalogUnits(load_registry()).kilograms)


@app.command("rebuild")
def rebuild_command(db: DbOption = DEFAULT_DB) -> None:
    """Drop the read model and project the whole log into it again."""
    model = _model(db)
    applied = model.rebuild()
    console.print(f"read model rebuilt from {applied} events")
    model.engine.dispose()


@app.command("verify")
def verify_command(db: DbOption = DEFAULT_DB) -> None:
    """Catch the model up, recompute it from the log and compare; exits 1 naming the first
    item that differs."""
    model = _model(db)
    difference = model.verify()
    model.engine.dispose()
    if difference is not None:
        err.print(f"[bold red]DIFFERS[/bold red]: {difference}")
        raise typer.Exit(1)
    console.print("[bold green]AGREES[/bold green]: the read model is the log's fold")
