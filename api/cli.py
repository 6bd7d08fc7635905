"""The ``chemtrace`` command line.

Exit codes for ``verify-log``: 0 intact, 1 damage found, 2 could not run.
Trusted keys come from the keystore (``--keys``) or from ``--log-key`` /
``--root-key`` files, never from the database under audit.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

if TYPE_CHECKING:  # typer runs on its own vendored click, not the click package
    from typer._click import Command, Context

from api.bundles import export_bundle, verify_bundle_command
from api.cli_failover import app as failover_app
from api.cli_findings import app as findings_app
from api.cli_logkey import app as logkey_app
from api.cli_readmodel import app as readmodel_app
from api.cli_tiles import app as tiles_app
from api.deployment import DEFAULT_DB, REPLICA_ENV, Deployment
from api.keystore import DEFAULT_KEYS_DIR, KeystoreError, pinned_trust
from api.logs import FORMAT_ENV, LogFormat
from api.witness.cli import app as witness_app
from ledger.checkpoint import claimed_size, open_checkpoint
from ledger.errors import CheckpointConflictError, LedgerError
from ledger.note import NoteVerifier, parse_vkey
from ledger.store.audit import SqlAuditSource
from ledger.store.engine import make_engine, require_existing
from ledger.store.witnessing import WitnessingStore
from ledger.verify import AuditReport, audit
from ledger.witness_audit import audit_witnessing
from ledger.witness_policy import parse_policy_bytes


class _LazyGroups(TyperGroup):
    """Command groups imported only when used: ``scan`` pulls in image decoding, GS1 and EPC
    parsing and the TUI, ``simulate`` the city generator and ``emergency`` the PDF writer;
    ``serve`` and the others start without them."""

    lazy: Final = {"scan": "scanners.cli", "simulate": "sim.simulator.cli",
                   "epcis": "scanners.cli_epcis", "emergency": "api.cli_emergency"}  # fmt: skip

    def list_commands(self, ctx: Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: Context, name: str) -> Command | None:
        if name not in self.lazy:
            return super().get_command(ctx, name)
        group = typer.main.get_command(importlib.import_module(self.lazy[name]).app)
        group.name = name
        return group


app = typer.Typer(
    cls=_LazyGroups,
    help="chemtrace: a tamper-evident traceability ledger for hazardous chemicals.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
err = Console(stderr=True)

DbOption = Annotated[str, typer.Option("--db", help="Database URL (SQLite file or PostgreSQL).")]
KeysOption = Annotated[Path, typer.Option("--keys", help="Dev keystore folder.")]
LogFormatOption = Annotated[
    LogFormat,
    typer.Option(
        "--log-format", envvar=FORMAT_ENV, case_sensitive=False,
        help="How logs are written to stderr: json (one JSON object a line), text (for "
        "people), or auto: text on a terminal, json otherwise. Each line logged while a "
        "request is handled has its request_id (also in the X-Request-ID header and in "
        "problem+json); one access line per request, with tokens redacted. Level: "
        "CHEMTRACE_LOG_LEVEL (default INFO).",
    ),
]  # fmt: skip
ReplicaOption = Annotated[
    list[str] | None,
    typer.Option(
        "--replica-db",
        help="A PostgreSQL standby of --db (repeatable; default: CHEMTRACE_REPLICA_DB, "
        "comma-separated). A primary that finds one of them promoted after it refuses writes "
        "(docs/operations.md, fencing).",
    ),
]


def _name_replicas(urls: list[str] | None) -> None:
    """Pass ``--replica-db`` on through the environment, so that every process this one
    starts (server workers, the findings worker) fences with the same cluster."""
    if urls:
        os.environ[REPLICA_ENV] = ",".join(urls)


@app.command()
def demo(
    db: DbOption = DEFAULT_DB,
    keys: KeysOption = DEFAULT_KEYS_DIR,
    seed_only: Annotated[bool, typer.Option("--seed-only", help="Seed and exit.")] = False,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Seed, write labels, audit, and exit.")
    ] = False,
) -> None:
    """Seed a realistic demo city through the API, verify it, then serve it."""
    from sim.showcase import offline_bundle, write_labels

    service, report = _seed_demo(db, keys, port)
    deployment = service.deployment
    # --seed-only writes nothing but the database (and keys on first use)
    if report is not None and not seed_only:
        sheet = write_labels(report.signed_codes, Path("var/labels"))
        console.print(f"Labels for {len(report.signed_codes)} codes: {sheet} (A4, 25 mm)")
        offline_bundle(deployment, report.showcase, Path("var/bundles"), console)
    if seed_only:
        service.close()
        return
    result = audit(SqlAuditSource(deployment.store.engine), deployment.trusted_keys())
    _print_report(result)
    service.close()
    if not result.intact or no_serve:
        raise typer.Exit(0 if result.intact else 1)
    _serve(db, keys, host, port, None, 1)


def _seed_demo(db: str, keys: Path, port: int) -> tuple[Any, Any]:
    """Open the service and, on an empty ledger, seed the demo through the typed client."""
    with warnings.catch_warnings():  # starlette's notice about a future httpx; not ours to fix
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from api.app import create_app
    from api.services.root import Service
    from api.settings import Settings
    from scanners.client import ChemtraceClient
    from sim.demo import seed

    settings = Settings(db=db, keys=keys, background=False, rate_limit_per_minute=0,
                        base_url=f"http://127.0.0.1:{port}")  # fmt: skip
    service = Service.open(settings)
    token_file = keys.parent / "admin.token"
    service.registry.bootstrap_admin(token_file)
    if service.log.size() > 1:
        console.print(f"[yellow]{db} already holds a ledger; not seeding it again.[/yellow]")
        return service, None
    catalog = service.deployment.catalogs.get("2026-draft.1")
    with TestClient(create_app(settings, service=service)) as http:
        admin = ChemtraceClient(http=http, token=token_file.read_text().strip())
        report = seed(admin, service.deployment.keys, catalog)
    report.checkpoint = service.deployment.checkpoint() or ""
    tokens = keys.parent / "demo-tokens.json"
    tokens.write_text(json.dumps(report.tokens, indent=2) + "\n")
    tokens.chmod(0o600)
    console.print(
        f"Seeded {report.events} events on {report.items} items "
        f"(+{report.certificates} key certificates, {report.code_batches} code batches, "
        f"{report.licences} licences, {report.records} registry records) into {db}. "
        f"Demo users' API tokens: {tokens}"
    )
    print(f"Checkpoint:\n{report.checkpoint}")
    return service, report


@app.command("verify-log")
def verify_log(
    db: DbOption = DEFAULT_DB,
    keys: KeysOption = DEFAULT_KEYS_DIR,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON report.")] = False,
    log_key: Annotated[
        Path | None, typer.Option("--log-key", help="Log verifier key (C2SP vkey).")
    ] = None,
    root_key: Annotated[
        Path | None, typer.Option("--root-key", help="Registry root key (C2SP vkey).")
    ] = None,
    trusted_checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--trusted-checkpoint", help="A checkpoint saved earlier, outside the database."
        ),
    ] = None,
    tiles: Annotated[
        str | None,
        typer.Option(
            "--tiles",
            help="Audit a C2SP tlog-tiles log instead of a database: an "
            "http(s) prefix (…/tlog), a file:// URL or an exported folder.",
        ),
    ] = None,
    witness_policy: Annotated[
        Path | None,
        typer.Option(
            "--witness-policy",
            help="A C2SP tlog-policy file: checkpoints count only with its witness quorum.",
        ),
    ] = None,
    retired_log_key: Annotated[
        list[str] | None,
        typer.Option(
            "--retired-log-key",
            help="VKEYFILE:SIZE, repeatable: an earlier log key and the last tree size it "
            "signed for (with --log-key; the keystore's log-retired-N files otherwise).",
        ),
    ] = None,
    document: Annotated[
        list[Path] | None,
        typer.Option(
            "--document",
            help="Repeatable: a signed-capture document disclosed to you (its exact bytes). "
            "It must re-derive exactly the events its signed capture logged.",
        ),
    ] = None,
) -> None:
    """Audit the whole ledger: exit 0 intact, 1 damage found, 2 could not run."""
    if tiles is not None:  # the log from its tiles alone, as any outside client sees it
        from scanners.tiles_audit import verify_log_tiles

        raise typer.Exit(verify_log_tiles(tiles, keys=keys, log_key=log_key,
                         trusted_checkpoint=trusted_checkpoint, as_json=as_json,
                         witness_policy=witness_policy))  # fmt: skip
    try:
        require_existing(db)
        trusted = pinned_trust(keys, root_key=root_key, log_key=log_key)
        if retired_log_key:
            trusted = replace(trusted, retired_logs=tuple(map(_retired, retired_log_key)))
        note = trusted_checkpoint.read_text() if trusted_checkpoint else None
        if note is not None:
            # a malformed trusted checkpoint: could not run
            open_checkpoint(note, trusted.log_keys_at(claimed_size(note)))
        policy = parse_policy_bytes(witness_policy.read_bytes()) if witness_policy else None
        engine = make_engine(db)
        source = SqlAuditSource(engine)
        documents = [path.read_bytes() for path in document or []]
        result = audit(source, trusted, trusted_checkpoint=note, documents=documents)
        if policy is not None:
            cosignatures = WitnessingStore(engine)
            cosigned = [(cp.size, cosignatures.cosigned_note(cp.size, cp.note))
                        for cp in source.checkpoints()]  # fmt: skip
            audit_witnessing(result, cosigned, policy, trusted_checkpoint=note,
                             now=int(time.time()))  # fmt: skip
    except Exception as exc:  # any failure to read keys or database: the audit could not run
        _fail(exc, as_json)
    if as_json:
        print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        _print_report(result)
    raise typer.Exit(0 if result.intact else 1)


@app.command()
def serve(
    db: DbOption = DEFAULT_DB,
    keys: KeysOption = DEFAULT_KEYS_DIR,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
    redis_url: Annotated[
        str | None, typer.Option("--redis", help="Redis URL (default: none, in-process).")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", help="Worker processes.")] = 1,
    log_format: LogFormatOption = LogFormat.auto,
    replica_db: ReplicaOption = None,
) -> None:
    """Run the HTTP service (default: SQLite under ./var, no Redis, dev keys on first use)."""
    _name_replicas(replica_db)
    _serve(db, keys, host, port, redis_url, workers, log_format)


def _serve(
    db: str, keys: Path, host: str, port: int, redis_url: str | None, workers: int,
    log_format: str | None = None,
) -> None:  # fmt: skip
    import os

    import uvicorn
    from sqlalchemy.engine import make_url

    from api import logs
    from api.services.root import Service
    from api.settings import Settings

    # Resolved once here, and exported: every worker process and the findings worker child
    # log in the same format (``api.asgi``, ``chemtrace findings worker``).
    os.environ[FORMAT_ENV] = logs.configure(log_format)
    log = logging.getLogger("chemtrace.serve")
    base_url = os.environ.get("CHEMTRACE_BASE_URL") or f"http://{host}:{port}"
    settings = Settings(db=db, keys=keys, redis_url=redis_url, base_url=base_url)
    service = Service.open(settings)  # migrates, and creates dev keys on first use
    token_file = keys.parent / "admin.token"
    if service.registry.bootstrap_admin(token_file):
        log.info("created user 'admin'; its API token is in %s", token_file)
    service.close()
    # Each worker process builds its own service from these variables.
    os.environ.update(CHEMTRACE_DB=db, CHEMTRACE_KEYS=str(keys), CHEMTRACE_BASE_URL=base_url)
    if redis_url:
        os.environ["CHEMTRACE_REDIS_URL"] = redis_url
    shown = make_url(db).render_as_string(hide_password=True)
    log.info("serving %s on %s", shown, base_url,
             extra={"db": shown, "url": base_url, "workers": workers})  # fmt: skip
    # proxy_headers=False: uvicorn would otherwise take X-Forwarded-For from any loopback
    # peer; api.routes._common.client_of decides, from Settings.trusted_proxies.
    # log_config=None: uvicorn's lines go through ours (``api.logs``); its access log, which
    # writes query strings as sent, stays off: the access line is api.logs.RequestContext's.
    uvicorn.run("api.asgi:app", host=host, port=port, workers=workers, log_level="warning",
                log_config=None, access_log=False, proxy_headers=False)  # fmt: skip


app.command("bundle")(export_bundle)
app.command("verify-bundle")(verify_bundle_command)
app.add_typer(findings_app, name="findings")
app.add_typer(logkey_app, name="log-key")
app.add_typer(witness_app, name="witness")
app.add_typer(tiles_app, name="tiles")
app.add_typer(failover_app, name="failover")
app.add_typer(readmodel_app, name="readmodel")


@app.command()
def checkpoint(
    db: DbOption = DEFAULT_DB, keys: KeysOption = DEFAULT_KEYS_DIR, replica_db: ReplicaOption = None
) -> None:
    """Print a checkpoint covering every entry (a C2SP signed note), signing one if needed.

    Save the output outside the database: it is what ``verify-log --trusted-checkpoint`` takes.
    """
    _name_replicas(replica_db)
    try:
        require_existing(db)
        if not (keys / "log.pem").exists():
            raise KeystoreError(f"no log key in the keystore {keys}; pass --keys DIR")
        deployment = Deployment.open(db, keys)
        note = deployment.checkpoint()
        latest = deployment.store.latest_checkpoint()
    except (LedgerError, KeystoreError) as exc:
        err.print(f"[red]could not sign a checkpoint:[/red] {_message(exc)}")
        raise typer.Exit(1 if isinstance(exc, CheckpointConflictError) else 2) from exc
    print(note or (latest[1] if latest else ""), end="")


@app.command()
def backup(
    out: Annotated[
        Path,
        typer.Argument(
            help="The backup: a new file (SQLite) or folder (PostgreSQL); never overwritten."
        ),
    ],
    db: DbOption = DEFAULT_DB,
) -> None:
    """Take an online backup of the live ledger (docs/operations.md): exit 0 taken, 2 not.

    Save a checkpoint (``chemtrace checkpoint``) outside the database as well: after a
    restore, ``verify-log --trusted-checkpoint`` with it shows whether anything acknowledged
    was lost.
    """
    from api.backup import BackupError
    from api.backup import backup as take_backup

    try:
        report = take_backup(db, out)
    except BackupError as exc:
        err.print(f"[red]could not back up ({exc.code}):[/red] {exc}")
        raise typer.Exit(2) from exc
    held = "entries" if report.kind == "sqlite" else "entries at least"
    print(f"Backed up {report.kind} to {report.path}: {report.entries} {held}, "
          f"checkpoint at {report.checkpoint_size}, {report.bytes} bytes")  # fmt: skip


def _retired(text: str) -> tuple[NoteVerifier, int]:
    path, _, size = text.rpartition(":")
    if not path or not size.isdigit():
        raise KeystoreError(f"--retired-log-key takes VKEYFILE:SIZE, not {text!r}")
    return parse_vkey(Path(path).read_text(encoding="utf-8").strip()), int(size)


def _message(exc: BaseException) -> str:
    return exc.diagnostics() if isinstance(exc, LedgerError) else str(exc)


def _fail(exc: BaseException, as_json: bool) -> None:
    message = _message(exc)
    if as_json:
        print(json.dumps({"intact": None, "error": message}))
    err.print(f"[red]could not run the audit:[/red] {message}")
    raise typer.Exit(2)


def _print_report(result: AuditReport) -> None:
    table = Table(title="Ledger integrity audit", show_header=False)
    for name in (
        "entries", "events", "certificates", "revocations", "code_batches", "licences", "records",
        "signed_captures", "rederived", "items",
        "checkpoints", "head_statements",
    ):  # fmt: skip
        table.add_row(name.replace("_", " "), str(getattr(result, name)))
    table.add_row("root", result.to_json()["root_hash"] or "-")  # type: ignore[arg-type]
    if result.witnessed_size is not None:
        table.add_row("witnessed size", str(result.witnessed_size))
    console.print(table)
    if result.intact:
        console.print(
            "[bold green]INTACT[/bold green]: entries, signatures, chains, checkpoints verified."
        )
        return
    console.print(f"[bold red]DAMAGED[/bold red]: {len(result.faults)} fault(s)")
    for fault in result.faults[:50]:
        where = ", ".join(
            f"{k}={v}" for k, v in fault.to_json().items() if k not in ("code", "message")
        )
        console.print(f"  [red]{fault.code}[/red] {fault.message} ({where})")


def main() -> None:
    """Entry point for ``python -m api.cli``."""
    app()


if __name__ == "__main__":
    main()
