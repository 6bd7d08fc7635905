"""``chemtrace bundle`` and ``chemtrace verify-bundle``: offline bundles from the command line.

``chemtrace bundle --db URL (--item CODE | --site SITE) --out FILE [--since SIZE] [--keys DIR]``
    Writes the bundle of one item, or of every item at a site, against the newest
    checkpoint. It needs the keystore's log key: items whose head is older than
    that checkpoint get a fresh log-signed item-head statement (see
    :mod:`ledger.store.bundles`). ``--since SIZE`` adds a consistency proof from
    a checkpoint the verifier already holds. Exit 0 written, 2 could not run.

``chemtrace verify-bundle FILE [--root-key FILE] [--log-key FILE] [--keys DIR] [--state FILE]
[--no-state] [--witness-policy FILE] [--json]``
    Verifies offline: no database, no network. Trusted keys are C2SP vkeys, from
    ``--root-key`` / ``--log-key`` or else ``root.vkey`` / ``log.vkey`` in the
    keystore folder (``--keys``, default ``var/keys``); no private key is read
    and nothing is created there. Exit 0 verified (warnings allowed), 1 faults,
    2 could not run.

    ``--witness-policy FILE`` (a C2SP tlog-policy file, ``docs/witness-policy.md``) also
    requires the checkpoint to carry the policy's quorum of witness cosignatures (fault
    ``checkpoint_unwitnessed`` names who is missing or bad); its ``log`` keys then decide
    which log keys may have signed, so the pinned log key is only used when it lists
    none. The report names the witnesses. A missing or malformed policy is exit 2.

    The verifier state (the largest checkpoint accepted so far, per log) lives in
    ``var/verifier-state.json`` under the working directory by default, like the
    keystore: the CLI's working directory is the deployment's (or the inspector
    kit's) home, and tests and several kits on one machine stay apart. ``--state``
    picks another file, ``--no-state`` neither reads nor writes one. The file is
    only written when a bundle without faults advances it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from api.deployment import DEFAULT_DB
from api.keystore import DEFAULT_KEYS_DIR, FileKeystore, KeystoreError, pinned_trust
from ledger.bundle import BundleReport, VerifierState, describe_witnesses, verify_bundle
from ledger.errors import LedgerError, NoteError
from ledger.note import NoteVerifier
from ledger.signing import ED25519
from ledger.store.bundles import build_item_bundle, build_site_bundle
from ledger.store.engine import require_existing
from ledger.store.files import write_bytes_atomic
from ledger.store.migrate import open_store
from ledger.witness_policy import WitnessPolicy, parse_policy_bytes

DEFAULT_STATE_FILE = Path("var/verifier-state.json")
EXIT_OK, EXIT_FAULTS, EXIT_CANNOT_RUN = 0, 1, 2

DbOption = Annotated[str, typer.Option("--db", help="Database URL (SQLite file or PostgreSQL).")]
KeysOption = Annotated[Path, typer.Option("--keys", help="Keystore folder.")]


class _CannotRunError(Exception):
    """The command could not run (exit code 2)."""


# -- chemtrace bundle -------------------------------------------------------------------------


def export_bundle(
    db: DbOption = DEFAULT_DB,
    keys: KeysOption = DEFAULT_KEYS_DIR,
    *,
    code: Annotated[
        str | None, typer.Option("--item", help="Bundle this item (its trace code).")
    ] = None,
    site: Annotated[
        str | None, typer.Option("--site", help="Bundle every item now at this site.")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Where to write the bundle (JSON).")],
    since_size: Annotated[
        int | None,
        typer.Option("--since", help="Add a consistency proof from this checkpoint size."),
    ] = None,
) -> None:
    """Write an offline bundle of one item or one site: exit 0 written, 2 could not run."""
    try:
        if (code is None) == (site is None):
            raise _CannotRunError("give exactly one of --item CODE or --site SITE")
        require_existing(db)
        if not (keys / "log.pem").exists():
            raise _CannotRunError(f"no log key in the keystore {keys}; pass --keys DIR")
        keystore = FileKeystore(keys)
        store = open_store(db, origin=keystore.origin, migrate=False)
        signer = keystore.signer("log")  # never the root key: export must not mint keys
        try:
            if code is not None:
                bundle = build_item_bundle(store, code, log_signer=signer, since_size=since_size)
            else:
                assert site is not None
                bundle = build_site_bundle(store, site, log_signer=signer, since_size=since_size)
        finally:
            store.engine.dispose()
        _write_json(out, bundle)
    except (_CannotRunError, LedgerError, OSError, ValueError) as exc:
        _cannot_run("could not write the bundle", exc)
    subject = f"item {code}" if code is not None else f"site {site}"
    typer.echo(
        f"Wrote the bundle of {subject}: {_count(bundle, 'items')} item(s), "
        f"{_count(bundle, 'events')} event(s), checkpoint size {_checkpoint_size(bundle)} -> {out}"
    )


def _count(bundle: Mapping[str, object], key: str) -> int:
    value = bundle[key]
    return len(value) if isinstance(value, list) else 0


def _checkpoint_size(bundle: Mapping[str, object]) -> str:
    return str(bundle["checkpoint"]).split("\n", 2)[1]


# -- chemtrace verify-bundle ------------------------------------------------------------------


def verify_bundle_command(
    file: Annotated[Path, typer.Argument(help="The bundle file (JSON).")],
    root_key: Annotated[
        Path | None, typer.Option("--root-key", help="Registry root key (C2SP vkey).")
    ] = None,
    log_key: Annotated[
        Path | None, typer.Option("--log-key", help="Log verifier key (C2SP vkey).")
    ] = None,
    keys_dir: Annotated[
        Path, typer.Option("--keys", help="Folder holding root.vkey and log.vkey.")
    ] = DEFAULT_KEYS_DIR,
    state_file: Annotated[
        Path | None,
        typer.Option("--state", help=f"Verifier state file (default {DEFAULT_STATE_FILE})."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON report.")] = False,
    no_state: Annotated[
        bool, typer.Option("--no-state", help="Neither read nor write a verifier state.")
    ] = False,
    witness_policy: Annotated[
        Path | None,
        typer.Option(
            "--witness-policy",
            help="Accept the checkpoint only with this C2SP tlog-policy file's witness quorum.",
        ),
    ] = None,
) -> None:
    """Verify a bundle offline: exit 0 verified (warnings allowed), 1 faults, 2 could not run."""
    state_path = None if no_state else (state_file or DEFAULT_STATE_FILE)
    try:
        policy = None if witness_policy is None else _read_policy(witness_policy)
        root_public, log_verifier = _trusted_keys(keys_dir, root_key, log_key)
        bundle = _read_json(file, "bundle")
        if not isinstance(bundle, dict):
            raise _CannotRunError(f"{file} does not hold a JSON object")
        state = _read_state(state_path)
        report = verify_bundle(
            bundle,
            root_algorithm=ED25519,
            root_public_key=root_public,
            log_verifier=log_verifier,
            state=state,
            now=datetime.now(UTC),
            policy=policy,
        )
        if report.state_advanced and state_path is not None and report.state is not None:
            _write_json(state_path, report.state.to_json())
    except (_CannotRunError, LedgerError, OSError, ValueError) as exc:
        if as_json:
            typer.echo(json.dumps({"verified": None, "error": _describe(exc)}))
        _cannot_run("could not verify the bundle", exc)
    if as_json:
        document = {
            **report.to_json(),
            "state_file": None if state_path is None else str(state_path),
            "witness_policy": None if witness_policy is None else str(witness_policy),
        }
        typer.echo(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        _print_report(report, state_path)
    raise typer.Exit(EXIT_OK if report.verified else EXIT_FAULTS)


def _trusted_keys(
    keys_dir: Path, root_key: Path | None, log_key: Path | None
) -> tuple[bytes, NoteVerifier]:
    try:
        trusted = pinned_trust(keys_dir, root_key=root_key, log_key=log_key)
    except KeystoreError as exc:
        raise _CannotRunError(str(exc)) from exc
    return trusted.root_public_key, trusted.log


def _read_policy(path: Path) -> WitnessPolicy:
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise _CannotRunError(f"no witness policy file at {path}") from exc
    except OSError as exc:
        raise _CannotRunError(f"cannot read the witness policy {path} ({exc})") from exc
    try:
        return parse_policy_bytes(data)
    except NoteError as exc:
        raise _CannotRunError(f"the witness policy {path} is malformed: {exc.message}") from exc


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise _CannotRunError(f"no {what} file at {path}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _CannotRunError(f"{path} is not a JSON {what} file ({exc})") from exc


def _read_state(path: Path | None) -> VerifierState | None:
    if path is None or not path.exists():
        return None
    try:
        return VerifierState.from_json(_read_json(path, "verifier state"))
    except LedgerError as exc:
        raise _CannotRunError(
            f"the verifier state {path} is unreadable ({exc.message}); fix or remove it"
        ) from exc


def _write_json(path: Path, document: object) -> None:
    """Write atomically and durably, indented so a person can read (and diff) it."""
    text = json.dumps(document, indent=1, ensure_ascii=False) + "\n"
    write_bytes_atomic(path, text.encode("utf-8"))


def _print_report(report: BundleReport, state_path: Path | None) -> None:
    where = (
        f"{report.subject or 'bundle'}: {len(report.items)} item(s), {report.events} event(s), "
        f"{report.certificates} key certificate(s)"
    )
    if report.checkpoint_size is not None:
        where += f"; checkpoint {report.checkpoint_size} of {report.origin}"
    if report.verified:
        typer.echo(f"VERIFIED: {where}")
    else:
        typer.echo(f"FAULTY ({len(report.faults)} fault(s)): {where}")
        for fault in report.faults:
            typer.echo(f"  FAULT {fault.code}: {fault.message}")
    for warning in report.warnings:
        typer.echo(f"  warning {warning.code}: {warning.message}")
    if report.witnesses is not None:
        typer.echo(f"witnesses: {describe_witnesses(report.witnesses)}")
    if state_path is None:
        typer.echo("state: not used (--no-state)")
    elif report.state_advanced:
        typer.echo(f"state: now at checkpoint {report.checkpoint_size} ({state_path})")
    else:
        typer.echo(f"state: unchanged ({state_path})")


def _describe(exc: BaseException) -> str:
    return exc.diagnostics() if isinstance(exc, LedgerError) else str(exc)


def _cannot_run(what: str, exc: BaseException) -> NoReturn:
    typer.echo(f"{what}: {_describe(exc)}", err=True)
    raise typer.Exit(EXIT_CANNOT_RUN)
