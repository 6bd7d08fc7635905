"""``chemtrace emergency``: the offline responder pack of a district.

``chemtrace emergency pack --district D --out DIR [--db URL] [--keys DIR]``
    Writes ``pack.json`` (signed by the keystore's log key, cut from the newest
    checkpoint), ``pack.html`` and ``pack.pdf`` into DIR. Run by the operator, so every
    district is in scope. Exit 0 written, 2 could not run.

``chemtrace emergency verify-pack DIR [--log-key FILE] [--keys DIR] [--checkpoint FILE]``
    Verifies ``DIR/pack.json`` offline with the log's vkey (``--log-key``, else
    ``log.vkey`` in the keystore folder); with ``--checkpoint`` (a signed note the verifier
    already trusts) the pack must have been cut from it. Exit 0 valid, 1 invalid (the
    reason is printed), 2 could not run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from api.catalogs import load_registry
from api.deployment import DEFAULT_DB
from api.keystore import DEFAULT_KEYS_DIR, FileKeystore
from api.pack_sheet import render_html, render_pdf
from api.services.access import Principal
from api.services.emergency import EmergencyService
from api.services.emergency_pack import PackService
from api.services.errors import ServiceError
from ledger.emergency_pack import PackError, verify_pack
from ledger.errors import LedgerError
from ledger.note import parse_vkey
from ledger.store.engine import require_existing
from ledger.store.files import write_bytes_atomic
from ledger.store.migrate import open_store
from ledger.units import CatalogUnits

app = typer.Typer(help="The offline responder pack of a district.", no_args_is_help=True)
OPERATOR = Principal(user_id="cli", role="admin", org=None, districts=frozenset())
EXIT_OK, EXIT_INVALID, EXIT_CANNOT_RUN = 0, 1, 2


@app.command("pack")
def pack_command(
    district: Annotated[str, typer.Option("--district", help="The district to pack.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for pack.json, .html, .pdf.")],
    db: Annotated[str, typer.Option("--db", help="Database URL.")] = DEFAULT_DB,
    keys: Annotated[Path, typer.Option("--keys", help="Keystore folder.")] = DEFAULT_KEYS_DIR,
) -> None:
    """Write the signed responder pack of a district: exit 0 written, 2 could not run."""
    try:
        require_existing(db)
        if not (keys / "log.pem").exists():
            raise ValueError(f"no log key in the keystore {keys}; pass --keys DIR")
        keystore = FileKeystore(keys)
        store = open_store(db, origin=keystore.origin, migrate=False)
        try:
            catalogs = load_registry()
            emergency = EmergencyService(store, catalogs, CatalogUnits(catalogs))
            # never the root key, and never a fresh log key: export must not mint keys
            document = PackService(emergency, store, keystore.signer("log")).pack(
                OPERATOR, district
            )
        finally:
            store.engine.dispose()
        out.mkdir(parents=True, exist_ok=True)
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        write_bytes_atomic(out / "pack.json", text.encode("utf-8"))
        write_bytes_atomic(out / "pack.html", render_html(document).encode("utf-8"))
        write_bytes_atomic(out / "pack.pdf", render_pdf(document))
    except (LedgerError, ServiceError, OSError, ValueError) as exc:
        typer.echo(f"could not write the pack: {_describe(exc)}", err=True)
        raise typer.Exit(EXIT_CANNOT_RUN) from exc
    totals = document["district_totals"]
    typer.echo(
        f"Wrote the responder pack of {district}: {totals['sites']} site(s), "
        f"{totals['items']} item(s), checkpoint size {document['log_size']} -> {out}"
    )


@app.command("verify-pack")
def verify_pack_command(
    folder: Annotated[Path, typer.Argument(help="The pack's folder (or its pack.json).")],
    log_key: Annotated[
        Path | None, typer.Option("--log-key", help="Log verifier key (C2SP vkey).")
    ] = None,
    keys: Annotated[
        Path, typer.Option("--keys", help="Folder holding log.vkey.")
    ] = DEFAULT_KEYS_DIR,
    checkpoint: Annotated[
        Path | None,
        typer.Option("--checkpoint", help="A checkpoint already trusted (signed note)."),
    ] = None,
) -> None:
    """Verify a responder pack offline: exit 0 valid, 1 invalid, 2 could not run."""
    path = folder / "pack.json" if folder.is_dir() else folder
    try:
        vkey = log_key or keys / "log.vkey"
        verifier = parse_vkey(vkey.read_text(encoding="utf-8").strip())
        document = json.loads(path.read_text(encoding="utf-8"))
        trusted = None if checkpoint is None else checkpoint.read_text(encoding="utf-8")
        if not isinstance(document, dict):
            raise ValueError(f"{path} does not hold a JSON object")
    except (LedgerError, OSError, ValueError) as exc:
        typer.echo(f"could not verify the pack: {_describe(exc)}", err=True)
        raise typer.Exit(EXIT_CANNOT_RUN) from exc
    try:
        verified = verify_pack(document, verifier, trusted)
    except PackError as exc:
        typer.echo(f"INVALID {exc.reason}: {exc.diagnostics()}")
        raise typer.Exit(EXIT_INVALID) from exc
    typer.echo(
        f"VALID responder pack of {verified.district}: {verified.sites} site(s), cut from "
        f"checkpoint {verified.checkpoint.origin} size {verified.checkpoint.size}"
    )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, LedgerError):
        return exc.diagnostics()
    if isinstance(exc, ServiceError):
        return exc.detail
    return str(exc)


__all__ = ["app"]
