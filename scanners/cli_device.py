"""``chemtrace scan enrol | pull | record | outbox | sync | resolve``: handoffs on a device.

All state lives in the device home (``--home``, default ``var/device``; see
:mod:`scanners.device.home`). Events are signed on the device and kept in its outbox until
the log has them, so recording works with no network.

Exit codes:
  ``sync``: 0 everything sent; 1 something waits for a person (a conflict, a rejection, the
  events behind them, or a receipt that did not verify); 2 could not run (not enrolled, the
  server unreachable through every retry: the events stay in the outbox).
  ``resolve``: 0 done; 1 declined or refused; 2 could not run.
  ``enrol``, ``pull``, ``record``, ``outbox``: 0 done; 1 refused (an invalid event, an unknown
  head, the service said no); 2 could not run.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from ledger.errors import LedgerError
from ledger.store.catalog_files import load_registry
from ledger.timefmt import format_utc
from ledger.units import CatalogUnits
from scanners.client import ApiError, ChemtraceClient
from scanners.device.enrol import author, client_of, enrol
from scanners.device.home import DEFAULT_HOME, DeviceError, DeviceHome
from scanners.device.outbox import WAITING, Outbox
from scanners.device.sync import (
    FITTING,
    Resolution,
    RetryPolicy,
    explain,
    pull_heads,
    resolve,
    sync,
)

out = Console()
err = Console(stderr=True)

HomeOption = Annotated[Path, typer.Option("--home", help="The device's folder.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _fail(message: str, code: int) -> NoReturn:
    err.print(message, markup=False, highlight=False)
    raise typer.Exit(code)


def enrol_command(
    home: HomeOption = DEFAULT_HOME,
    server: Annotated[
        str | None, typer.Option("--server", help="The chemtrace service URL.")
    ] = None,
    token: Annotated[
        str | None,
        typer.Option("--token", envvar="CHEMTRACE_TOKEN", help="A token of the org's manager."),
    ] = None,
    org: Annotated[str | None, typer.Option("--org", help="The organisation id.")] = None,
    actor: Annotated[
        str | None, typer.Option("--actor", help="The operator's commitment (sha256:…).")
    ] = None,
    site: Annotated[str | None, typer.Option("--site", help="The default site.")] = None,
    valid_days: Annotated[int, typer.Option("--valid-days", min=1, max=3650)] = 365,
    rotate: Annotated[bool, typer.Option("--rotate", help="Enrol a new key.")] = False,
) -> None:
    """Generate this device's key and have the service certify it."""
    device = DeviceHome(home)
    if server is None and not device.enrolled():
        _fail("the first enrolment needs --server URL", 2)
    try:
        base = server or device.profile().server
        with ChemtraceClient(base, token=token or device.token()) as client:
            profile = enrol(device, client, server=base, org=org, actor=actor, site=site,
                            valid_days=valid_days, rotate=rotate)  # fmt: skip
    except ApiError as exc:
        _fail(f"the service refused the enrolment: {exc}", 1)
    except httpx.TransportError as exc:
        _fail(f"cannot reach {server}: {exc}", 2)
    except DeviceError as exc:
        _fail(f"{exc} ({exc.code})", 1)
    out.print(f"enrolled key {profile.key_id} for {profile.org}, valid until {profile.valid_until}")
    out.print(f"pinned log key: {profile.log_vkey}", markup=False)


def pull_command(
    codes: Annotated[list[str], typer.Argument(help="Trace codes.")],
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Learn items' chain heads from the server, to handle them offline later."""
    device = DeviceHome(home)
    try:
        with client_of(device) as client, Outbox(device.outbox_path) as outbox:
            learned = pull_heads(outbox, client, codes)
    except DeviceError as exc:
        _fail(f"{exc} ({exc.code})", 2)
    except ApiError as exc:
        _fail(str(exc), 1)
    except httpx.TransportError as exc:
        _fail(f"cannot reach the server: {exc}", 2)
    for code in codes:
        head = learned.get(code)
        out.print(f"{code}: " + ("no chain yet" if head is None else f"step {head.seq}"))


def record_command(
    event_type: Annotated[str, typer.Argument(help="commission, ship, receive, use, …")],
    codes: Annotated[list[str], typer.Argument(help="Trace codes (CODE or CODE=ROLE).")],
    data: Annotated[str, typer.Option("--data", help="The event's data, as JSON.")] = "{}",
    site: Annotated[str | None, typer.Option("--site")] = None,
    when: Annotated[str | None, typer.Option("--time", help="RFC 3339 UTC; default now.")] = None,
    lat: Annotated[str | None, typer.Option("--lat")] = None,
    lon: Annotated[str | None, typer.Option("--lon")] = None,
    co_actor: Annotated[str | None, typer.Option("--co-actor")] = None,
    home: HomeOption = DEFAULT_HOME,
    as_json: JsonOption = False,
) -> None:
    """Sign an event on this device and keep it in the outbox (no network needed)."""
    device = DeviceHome(home)
    try:
        fields = json.loads(data)
    except ValueError as exc:
        _fail(f"--data is not JSON: {exc}", 1)
    if not isinstance(fields, dict):
        _fail("--data must be a JSON object", 1)
    items: list[str | tuple[str, str]] = [
        (code.split("=", 1)[0], code.split("=", 1)[1]) if "=" in code else code for code in codes
    ]
    geo = {"lat": lat, "lon": lon} if lat is not None and lon is not None else None
    try:
        profile = device.profile()
        with Outbox(device.outbox_path) as outbox:
            event = outbox.record(
                author(device), event_type, items, fields,
                time=when or format_utc(datetime.now(UTC).replace(microsecond=0)),
                site=site or profile.site, geo=geo, co_actor=co_actor,
                units=CatalogUnits(load_registry()),
            )  # fmt: skip
    except DeviceError as exc:
        _fail(f"{exc} ({exc.code})", 2 if exc.code == "not_enrolled" else 1)
    except LedgerError as exc:
        _fail(f"invalid event: {exc}", 1)
    if as_json:
        out.print_json(data=event.to_json())
    else:
        out.print(f"event {event.id} ({event.type}) signed and waiting in the outbox: "
                  f"{event.event_hash}")  # fmt: skip


def outbox_command(
    home: HomeOption = DEFAULT_HOME,
    show_all: Annotated[
        bool, typer.Option("--all", help="Include sent and closed events.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Show the outbox: what waits, what was sent, what needs a decision."""
    device = DeviceHome(home)
    with Outbox(device.outbox_path) as outbox:
        events = outbox.events() if show_all else outbox.events(*WAITING)
        counts = outbox.counts()
        blocked = {event.id for event in outbox.sendable()[1]}
    if as_json:
        payload = {"counts": counts, "blocked": sorted(blocked),
                   "events": [event.to_json() for event in events]}  # fmt: skip
        out.print_json(data=payload)
        return
    out.print("  ".join(f"{state}: {n}" for state, n in counts.items()))
    table = Table("id", "type", "items", "time", "state", "problem")
    for event in events:
        state = "blocked" if event.id in blocked else event.state
        problem = (event.problem or {}).get("code", "") if event.state != "sent" else ""
        table.add_row(str(event.id), event.type, " ".join(event.codes), event.event_time, state,
                      str(problem))  # fmt: skip
    out.print(table)


def sync_command(
    home: HomeOption = DEFAULT_HOME,
    batch: Annotated[int, typer.Option("--batch", min=1, max=5000)] = 50,
    attempts: Annotated[int, typer.Option("--attempts", min=1, max=50)] = 6,
    interactive: Annotated[
        bool, typer.Option("--interactive", help="Ask what to do about each conflict.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Upload the outbox: retries with backoff, idempotent, conflicts left for a decision."""
    device = DeviceHome(home)
    try:
        profile = device.profile()
    except DeviceError as exc:
        _fail(f"{exc} ({exc.code})", 2)
    with client_of(device) as client, Outbox(device.outbox_path) as outbox:
        waiting = len(outbox.sendable()[0])
        with Progress(TextColumn("sync"), BarColumn(), MofNCompleteColumn(), console=err,
                      disable=as_json or not waiting) as progress:  # fmt: skip
            task = progress.add_task("sync", total=waiting)
            try:
                report = sync(
                    outbox, client, log_vkey=profile.log_vkey, batch_size=batch,
                    retry=RetryPolicy(attempts=attempts),
                    on_progress=lambda done, _total: progress.update(task, completed=done),
                    on_wait=lambda why, s: err.print(f"{why}; retrying in {s:.1f} s"),
                )  # fmt: skip
            except DeviceError as exc:
                left = len(outbox.events(*WAITING))
                _fail(f"{exc}; {left} event(s) stay in the outbox ({exc.code})", 2)
        if interactive and sys.stdin.isatty():
            for event in [*report.conflicts, *report.rejected]:
                _decide(device, outbox, client, event.id)
        counts = outbox.counts()
    if as_json:
        out.print_json(data={**report.to_json(), "counts": counts})
    else:
        out.print(f"sent {report.sent}, already in the log {report.duplicates}; "
                  f"waiting: {counts['pending']} pending, {counts['conflict']} conflict(s), "
                  f"{counts['rejected']} rejected")  # fmt: skip
        for fault in report.receipt_faults:
            err.print(f"receipt fault: {fault}", markup=False)
        for event in [*report.conflicts, *report.rejected]:
            err.print(f"event {event.id}: {(event.problem or {}).get('code')}; "
                      f"see `chemtrace scan resolve {event.id}`", markup=False)  # fmt: skip
    raise typer.Exit(0 if report.clean else 1)


def _decide(device: DeviceHome, outbox: Outbox, client: ChemtraceClient, event_id: int) -> None:
    conflict = explain(outbox, client, outbox.get(event_id))
    err.print(conflict.message, markup=False)
    action = FITTING[conflict.kind]
    if typer.confirm(f"{action} event {event_id}?", default=False, err=True):
        err.print(resolve(outbox, conflict, action, device.active_signer(), None), markup=False)
    elif typer.confirm(f"discard event {event_id}?", default=False, err=True):
        reason = typer.prompt("why", err=True)
        err.print(resolve(outbox, conflict, "discard", device.active_signer(), reason),
                  markup=False)  # fmt: skip


def resolve_command(
    event_id: Annotated[int, typer.Argument(help="The outbox event id.")],
    rebase: Annotated[bool, typer.Option("--rebase", help="Re-link onto the log's head.")] = False,
    resign: Annotated[bool, typer.Option("--resign", help="Re-sign with the current key.")] = False,
    retry: Annotated[bool, typer.Option("--retry", help="Send a rejected event again.")] = False,
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep a not_holder event as a record, unsent.")
    ] = False,
    discard: Annotated[str | None, typer.Option("--discard", help="Discard, saying why.")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    home: HomeOption = DEFAULT_HOME,
) -> None:
    """Explain a conflict or rejection and, with consent, rebase, re-sign, retry, keep or
    discard."""
    options: tuple[tuple[Resolution, bool], ...] = (
        ("rebase", rebase), ("resign", resign), ("retry", retry), ("keep", keep),
        ("discard", discard is not None),
    )  # fmt: skip
    chosen = [name for name, on in options if on]
    device = DeviceHome(home)
    try:
        with Outbox(device.outbox_path) as outbox:
            with client_of(device) as client:
                conflict = explain(outbox, client, outbox.get(event_id))
            out.print(conflict.message, markup=False, highlight=False)
            out.print("(checked with the server)" if conflict.online else "(offline)")
            if len(chosen) != 1:
                _fail(
                    "choose one of --rebase, --resign, --retry, --keep, --discard REASON",
                    1 if chosen else 0,
                )
            if not yes and not typer.confirm(f"{chosen[0]} event {event_id}?", default=False):
                _fail("nothing changed", 1)
            done = resolve(outbox, conflict, chosen[0], device.active_signer(), discard)
            out.print(done, markup=False)
    except DeviceError as exc:
        _fail(f"{exc} ({exc.code})", 1)


def register(app: typer.Typer) -> None:
    """Add the device commands to ``chemtrace scan``."""
    app.command("enrol")(enrol_command)
    app.command("pull")(pull_command)
    app.command("record")(record_command)
    app.command("outbox")(outbox_command)
    app.command("sync")(sync_command)
    app.command("resolve")(resolve_command)
