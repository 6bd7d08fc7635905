"""``chemtrace scan trust|fetch|verify``: the inspector's on-the-spot verification.

The kit lives in one folder, ``--home`` (default ``var/inspector`` under the working
directory): pinned keys, the verifier state and downloaded bundles
(:mod:`scanners.inspector.kit`).

``chemtrace scan trust [--root-key FILE] [--log-key FILE] [--server URL --trust-on-first-use]
[--witness-policy FILE] [--replace] [--home DIR]``
    Pins the registry root key and the log key (C2SP vkey files the registry published).
    The log key can instead be taken from the server (``GET /v1/log/key``): its
    fingerprint is printed, and it is pinned only with ``--trust-on-first-use``. The
    server does not publish the root key, so it always comes from a file. A different
    key already pinned is refused unless ``--replace``. ``--witness-policy FILE`` pins a
    C2SP tlog-policy file the same way (``docs/witness-policy.md``): from then on every
    bundle's checkpoint must carry its quorum of witness cosignatures (fault
    ``checkpoint_unwitnessed`` otherwise), and verdicts name the witnesses. With nothing
    to pin, prints what is pinned. Exit 0 pinned (or shown), 2 could not run (or not
    pinned, or a malformed policy).

``chemtrace scan fetch (--site SITE | --item CODE) --server URL [--token T] [--tiles URL]
[--home DIR] [--json]``
    Downloads a site bundle before an inspection (or one item's bundle), verifies it at
    once with the pinned keys and the saved state, and stores it only if it verifies;
    the state moves forward when the bundle proves it extends the checkpoint the kit
    saw (the proof is fetched from the audit API when the bundle has none). Exit 0
    verified and stored (warnings allowed), 1 faults (refused, nothing stored), 2 could
    not run (no pinned keys, network, unknown site, bad token). With ``--tiles URL`` (the
    log's C2SP tlog-tiles: ``SERVER/tlog``, a static copy or an exported folder) every
    inclusion proof and the consistency proof are computed from the tiles instead.

``chemtrace scan verify TEXT [--offline] [--json] [--home DIR] [--server URL --token T]``
    Verifies one scanned item: ``TEXT`` is a label URL (its registry signature is
    checked offline first), a typed trace code, or a GS1 key such as
    ``(01)09506000134352(21)ABC`` (found through the stored bundles' label records).
    With ``--server`` (and without ``--offline``) the item's bundle is fetched and
    verified online; if the network or server fails the kit says so and verifies
    offline from the newest stored bundle holding the item. The answer names its
    source: "verified online (network: URL)" or "verified offline from the site bundle
    of SITE downloaded at T (age …)". Exit codes:

    * 0: genuine (warnings allowed, for example a stale bundle: "this bundle is 3 days
      older than the one you verified yesterday (stale)");
    * 1: fault: altered, incomplete or forged data, a label not issued by the registry,
      or a bundle that contradicts the log the kit verified before;
    * 2: could not run: unknown item (no bundle holds it offline and the network did
      not help), no pinned keys, unreadable scan or kit files.

The token may also come from the ``CHEMTRACE_TOKEN`` environment variable.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn

import httpx
import typer
from rich.console import Console

from ledger.codes import normalise_code
from ledger.errors import LedgerError
from ledger.note import NoteVerifier
from scanners.client import ApiError, ChemtraceClient
from scanners.errors import ScannerError
from scanners.inspector.fetch import TIME_FORMAT, fetch_bundle
from scanners.inspector.kit import DEFAULT_HOME, InspectorKit
from scanners.inspector.render import print_fetch, print_trust, print_verdict
from scanners.inspector.store import Kind
from scanners.inspector.tiles import open_tiles
from scanners.inspector.trust import (
    PinnedKey,
    TrustError,
    fingerprint,
    parse_vkey_text,
    read_policy_file,
    read_vkey_file,
)
from scanners.inspector.verdict import EXIT_CANNOT_RUN, EXIT_FAULT, EXIT_GENUINE
from scanners.inspector.verify import OnlineAccess, ScanVerifier

HomeOption = Annotated[
    Path, typer.Option("--home", help=f"The inspector kit folder (default {DEFAULT_HOME}).")
]
ServerOption = Annotated[
    str | None, typer.Option("--server", help="The chemtrace server, e.g. http://host:8000.")
]
TokenOption = Annotated[
    str | None,
    typer.Option("--token", envvar="CHEMTRACE_TOKEN", help="API token (inspector or regulator)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
_CANNOT_RUN = (ScannerError, LedgerError, OSError)
"""Exit 2: the kit (trust, state, files), the scan or the disk stopped the command. The
server's and the network's own refusals are caught first where they can happen."""


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``chemtrace scan``."""
    app.command("trust")(trust_command)
    app.command("fetch")(fetch_command)
    app.command("verify")(verify_command)


def _now() -> datetime:
    return datetime.now(UTC)


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True)


def _cannot_run(message: str, *, as_json: bool = False) -> NoReturn:
    if as_json:
        typer.echo(json.dumps({"verdict": None, "error": message}, ensure_ascii=False))
    typer.echo(message, err=True)
    raise typer.Exit(EXIT_CANNOT_RUN)


# -- chemtrace scan trust --------------------------------------------------------------------


def trust_command(
    home: HomeOption = DEFAULT_HOME,
    root_key: Annotated[
        Path | None, typer.Option("--root-key", help="Registry root key file (C2SP vkey).")
    ] = None,
    log_key: Annotated[
        Path | None, typer.Option("--log-key", help="Log key file (C2SP vkey).")
    ] = None,
    server: ServerOption = None,
    trust_on_first_use: Annotated[
        bool,
        typer.Option(
            "--trust-on-first-use",
            help="Pin the log key the server sends (its fingerprint is printed).",
        ),
    ] = False,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace a different key that is already pinned.")
    ] = False,
    witness_policy: Annotated[
        Path | None,
        typer.Option(
            "--witness-policy",
            help="Pin this C2SP tlog-policy file: checkpoints need its witnesses' cosignatures.",
        ),
    ] = None,
) -> None:
    """Pin the registry root key, the log key and a witness policy, or show what is pinned."""
    console = _console()
    kit = InspectorKit(home)
    stamp = _now().strftime(TIME_FORMAT)
    try:
        root = (
            None
            if root_key is None
            else PinnedKey(read_vkey_file(root_key), f"file {root_key}", stamp)
        )
        log = (
            None
            if log_key is None
            else PinnedKey(read_vkey_file(log_key), f"file {log_key}", stamp)
        )
        if server is not None and log is None:
            offered = _server_log_key(server)
            console.print(f"the server {server} offers the log key {offered.vkey()}")
            console.print(f"  fingerprint (SHA-256): {fingerprint(offered)}")
            if not trust_on_first_use:
                _cannot_run(
                    "not pinned: compare this fingerprint with the one your registry published, "
                    "then run again with --trust-on-first-use (or pin a file with --log-key)"
                )
            log = PinnedKey(offered, f"server {server} (trust on first use)", stamp)
        policy = (
            None
            if witness_policy is None
            else read_policy_file(witness_policy, f"file {witness_policy}", stamp)
        )
        if root is None and log is None and policy is None:
            print_trust(console, kit.trust())
            return
        trust = kit.trust_folder.pin(root=root, log=log, policy=policy, replace=replace)
    except _CANNOT_RUN as exc:
        _cannot_run(f"could not pin the keys: {exc}")
    console.print(f"pinned in {kit.trust_folder.folder}:")
    print_trust(console, trust)


def _server_log_key(server: str) -> NoteVerifier:
    try:
        with ChemtraceClient(server) as client:
            text = client.log_key()
    except (httpx.HTTPError, ApiError) as exc:
        raise TrustError(f"the server {server} did not give its log key ({exc})") from exc
    return parse_vkey_text(text, f"the log key from {server}")


# -- chemtrace scan fetch --------------------------------------------------------------------


def fetch_command(
    server: Annotated[str, typer.Option("--server", help="The chemtrace server URL.")],
    site: Annotated[
        str | None, typer.Option("--site", help="Download every item now at this site.")
    ] = None,
    code: Annotated[
        str | None, typer.Option("--item", help="Download one item (its code).")
    ] = None,
    token: TokenOption = None,
    home: HomeOption = DEFAULT_HOME,
    as_json: JsonOption = False,
    tiles: Annotated[
        str | None,
        typer.Option("--tiles", help="Build the proofs from the log's tlog-tiles (URL, folder)."),
    ] = None,
) -> None:
    """Download a site (or item) bundle, verify it at once, and keep it only if it verifies."""
    kit = InspectorKit(home)
    if (site is None) == (code is None):
        _cannot_run("give exactly one of --site SITE or --item CODE", as_json=as_json)
    try:
        kind: Kind = "site" if site is not None else "item"
        subject = site if site is not None else normalise_code(code or "")
        source = None if tiles is None else open_tiles(tiles)
        with ChemtraceClient(server, token=token) as client:
            try:
                outcome = fetch_bundle(kit, client, kind=kind, subject=subject, server=server,
                                       now=_now(), tiles=source)  # fmt: skip
            finally:
                if source is not None:
                    source.close()
    except ApiError as exc:
        _cannot_run(f"the server refused: {exc}", as_json=as_json)
    except httpx.HTTPError as exc:
        _cannot_run(f"could not reach {server}: {exc}", as_json=as_json)
    except _CANNOT_RUN as exc:
        _cannot_run(f"could not fetch: {exc}", as_json=as_json)
    if as_json:
        stored = outcome.stored
        document = {
            **outcome.report.to_json(),
            "kind": outcome.kind,
            "subject": outcome.subject,
            "server": outcome.server,
            "downloaded_at": outcome.downloaded_at,
            "stored": None
            if stored is None or stored.stored is None
            else str(stored.stored.folder),
            "proof_fetched": outcome.proof_fetched,
        }
        typer.echo(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        print_fetch(_console(), outcome)
    raise typer.Exit(EXIT_GENUINE if outcome.verified else EXIT_FAULT)


# -- chemtrace scan verify -------------------------------------------------------------------


def verify_command(
    text: Annotated[str, typer.Argument(help="A label URL, a trace code or a GS1 key.")],
    offline: Annotated[
        bool, typer.Option("--offline", help="Do not use the network, even with --server.")
    ] = False,
    server: ServerOption = None,
    token: TokenOption = None,
    home: HomeOption = DEFAULT_HOME,
    as_json: JsonOption = False,
) -> None:
    """Verify one scanned item online or offline: 0 genuine, 1 fault, 2 unknown / could not run."""
    online = None if offline or server is None else OnlineAccess(server, token)
    try:
        verdict = ScanVerifier(InspectorKit(home)).verify(text, online=online)
    except _CANNOT_RUN as exc:
        _cannot_run(f"could not verify: {exc}", as_json=as_json)
    if as_json:
        typer.echo(json.dumps(verdict.to_json(), indent=2, ensure_ascii=False))
    else:
        print_verdict(_console(), verdict)
    raise typer.Exit(verdict.exit_code)
