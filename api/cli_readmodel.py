"""``chemtrace readmodel``: rebuild the read models (item states, search terms), or verify them
against the log."""

from __future__ import annotations

import typer
from rich.console import Console

from api.catalogs import load_registry
from api.cli_findings import DbOption
from api.deployment import DEFAULT_DB
from ledger.store.engine import make_engine, require_existing
from ledger.store.readmodel import ItemReadModel
from ledger.store.search_terms import SearchTerms
from ledger.units import CatalogUnits

app = typer.Typer(
    help="The read models (item states for inventory and the emergency view; the search "
    "terms): derived from the log, never evidence.",
    no_args_is_help=True,
)
console = Console()
err = Console(stderr=True)


def _models(db: str) -> tuple[ItemReadModel, SearchTerms]:
    require_existing(db)
    engine = make_engine(db)
    return ItemReadModel(engine, CatalogUnits(load_registry()).kilograms), SearchTerms(engine)


@app.command("rebuild")
def rebuild_command(db: DbOption = DEFAULT_DB) -> None:
    """Drop the read models and project the whole log into them again."""
    model, terms = _models(db)
    console.print(f"read model rebuilt from {model.rebuild()} events")
    console.print(f"search terms rebuilt from {terms.rebuild()} events")
    model.engine.dispose()


@app.command("verify")
def verify_command(db: DbOption = DEFAULT_DB) -> None:
    """Catch the models up, recompute them from the log and compare; exits 1 naming the
    first item that differs."""
    model, terms = _models(db)
    differences = [("read model", model.verify()), ("search terms", terms.verify())]
    model.engine.dispose()
    for name, difference in differences:
        if difference is not None:
            err.print(f"[bold red]DIFFERS[/bold red]: {name}: {difference}")
            raise typer.Exit(1)
    console.print("[bold green]AGREES[/bold green]: the read models are the log's fold")
