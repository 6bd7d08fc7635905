"""``chemtrace failover``: promote a PostgreSQL standby and fence the former primary.

``promote`` makes a node the primary (``pg_promote`` when it is still a standby) and raises
its fence generation above every reachable node's, so a former primary that comes back
refuses writes from every chemtrace process that knows the cluster (ledger/store/fencing.py).
``status`` shows each node's role and generation, and whether a chemtrace process would
write to the first one.

Exit codes: 0 done (status: the node may take writes), 1 refused (status: fenced), 2 could
not run.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from ledger.errors import LedgerError
from ledger.store.fencing import FencedError, judge, node_state, promote

app = typer.Typer(help="Promote a standby and fence the former primary.", no_args_is_help=True)
err = Console(stderr=True)

NodeOption = Annotated[str, typer.Option("--db", help="The node (a PostgreSQL URL).")]
PeersOption = Annotated[
    list[str] | None,
    typer.Option("--replica-db", help="The cluster's other nodes (repeatable)."),
]


@app.command("promote")
def promote_command(db: NodeOption, replica_db: PeersOption = None, wait: int = 60) -> None:
    """Promote ``--db`` and raise its generation: the old primary is fenced from now on."""
    try:
        generation = promote(db, replica_db or [], wait_s=wait)
    except LedgerError as exc:
        err.print(f"[red]could not promote:[/red] {exc}")
        raise typer.Exit(1) from exc
    except Exception as exc:  # unreachable, not a ledger: could not run
        err.print(f"[red]could not promote:[/red] {exc}")
        raise typer.Exit(2) from exc
    print(f"{node_state(db).name} is the primary, generation {generation}")


@app.command("status")
def status_command(db: NodeOption, replica_db: PeersOption = None) -> None:
    """Each node's role and generation, and whether ``--db`` may take writes."""
    primary = node_state(db)
    peers = [node_state(url) for url in replica_db or []]
    for node in (primary, *peers):
        role = "unreachable" if not node.reachable else (
            "standby" if node.in_recovery else "primary")  # fmt: skip
        print(f"{node.name}: {role}, generation {node.generation}")
    if not primary.reachable:
        err.print(f"[red]{primary.name} is unreachable[/red]")
        raise typer.Exit(2)
    try:
        judge(primary, peers)
    except FencedError as exc:
        print(f"fenced: {exc}")
        raise typer.Exit(1) from exc
    print(f"{primary.name} may take writes")
