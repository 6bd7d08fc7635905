"""``chemtrace log-key``: rotate the log's signing key without breaking a single old proof.

1. ``begin``: a new key is created beside the old one. From the next checkpoint on, every
   checkpoint carries both signatures, so verifiers and witnesses pinning either accept it.
   Give the printed vkey to the witnesses (``witness serve --log-key old --log-key new``)
   and to verifiers (a ``log`` line in their witness policy).
2. ``finish``, with the service stopped: the newest checkpoint is made to cover the whole log
   and carry both signatures; then the new key becomes ``log.pem`` and the old one is kept as
   ``log-retired-N`` with the last size it signed for. Audits keep accepting it for entries
   and checkpoints up to that size, and never beyond. Witnesses drop the old key once they
   have cosigned a checkpoint carrying both signatures (their state must verify at start).

After a compromise, the same two steps run at once, and the verifiers' policies mark the old
key ``valid <vkey> until <time of compromise>`` (``docs/witness-policy.md``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from api.background import SingletonLock
from api.deployment import DEFAULT_DB, Deployment
from api.keystore import DEFAULT_KEYS_DIR, FileKeystore, KeystoreError
from ledger.errors import LedgerError
from ledger.store.engine import require_existing

app = typer.Typer(help="Rotate the log's signing key.", no_args_is_help=True)
err = Console(stderr=True)
Db = Annotated[str, typer.Option("--db", help="Database URL (SQLite file or PostgreSQL).")]
Keys = Annotated[Path, typer.Option("--keys", help="Keystore folder.")]


@app.command("begin")
def begin(keys: Keys = DEFAULT_KEYS_DIR, db: Db = DEFAULT_DB) -> None:
    """Create the incoming log key and print its vkey; checkpoints are now signed by both."""
    try:
        require_existing(db)
        deployment = Deployment.open(db, keys)
        print(deployment.keys.begin_log_rotation())
    except (KeystoreError, LedgerError) as exc:
        err.print(f"[red]could not begin the rotation:[/red] {exc}")
        raise typer.Exit(2) from exc


@app.command("finish")
def finish(keys: Keys = DEFAULT_KEYS_DIR, db: Db = DEFAULT_DB) -> None:
    """With the service stopped: hand over to the incoming key and print its vkey."""
    try:
        require_existing(db)
        resumed = FileKeystore(keys).resume_log_rotation()
        if resumed is not None:  # a crash cut the last handover short: it is complete now
            print(resumed)
            err.print("completed an interrupted handover; restart the service")
            return
        deployment = Deployment.open(db, keys)
        incoming = deployment.keys.next_log_signer()
        if incoming is None:
            raise KeystoreError("no log key rotation is under way: run 'log-key begin' first")
        lock = SingletonLock(db, deployment.store.engine)
        if not lock.acquire():  # a running service would go on signing with the old key
            raise KeystoreError("the service is running on this database: stop it first")
        try:
            deployment.checkpoint()  # covers every entry, signed by both keys
            size, _ = deployment.store.countersign_latest(
                signer=incoming, note_name=deployment.keys.origin
            )
            if size != deployment.store.log_size():
                raise KeystoreError("the log grew during the handover; stop the service first")
            print(deployment.keys.finish_log_rotation(size))
        finally:
            lock.release()
        err.print(f"the retired key signed up to tree size {size}; restart the service")
    except (KeystoreError, LedgerError) as exc:
        err.print(f"[red]could not finish the rotation:[/red] {exc}")
        raise typer.Exit(2) from exc
