"""``chemtrace epcis push``: capture an ERP's EPCIS 2.0 document, signed by this device."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from ledger.epcis.mapping import CaptureContext
from scanners.client import ApiError, ChemtraceClient
from scanners.device.home import DEFAULT_HOME, DeviceError, DeviceHome
from scanners.epcis_push import PushError, push

app = typer.Typer(help="GS1 EPCIS 2.0: capture documents with this device's key.",
                  no_args_is_help=True, add_completion=False)  # fmt: skip
out = Console()
err = Console(stderr=True)


@app.callback()
def epcis() -> None:
    """GS1 EPCIS 2.0: capture documents with this device's key."""


def _fail(message: str, code: int) -> NoReturn:
    err.print(message, markup=False, highlight=False)
    raise typer.Exit(code)


@app.command("push")
def push_command(
    file: Annotated[
        Path,
        typer.Argument(
            help="An EPCIS 2.0 JSON-LD document.", exists=True, dir_okay=False, readable=True
        ),
    ],
    server: Annotated[
        str | None,
        typer.Option(
            "--server", help="The chemtrace service URL (default: the device's enrolment)."
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="CHEMTRACE_TOKEN",
            help="An API token of the device's organisation (default: the device's).",
        ),
    ] = None,
    home: Annotated[
        Path, typer.Option("--home", help="The device's folder (chemtrace scan enrol).")
    ] = DEFAULT_HOME,
    behaviour: Annotated[
        str, typer.Option("--behaviour", help="GS1-Capture-Error-Behaviour: rollback or proceed.")
    ] = "rollback",
    rebases: Annotated[int, typer.Option("--rebases", min=0, max=20)] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Validate, map, sign with the device key and capture; rebase on moved heads.

    Exit 0 when every event was captured, 1 when some were refused, 2 when nothing could be
    sent (an invalid document, an event that does not map, no device)."""
    if behaviour not in ("rollback", "proceed"):
        _fail("--behaviour is rollback or proceed", 2)
    device = DeviceHome(home)
    try:
        profile = device.profile()
        signer = device.active_signer()
    except DeviceError as exc:
        _fail(f"{exc} ({exc.code})", 2)
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except ValueError as exc:
        _fail(f"{file} is not JSON: {exc}", 2)
    context = CaptureContext(org=profile.org, device_key=signer.key_id, actor=profile.actor,
                             catalog_version=profile.catalog_version)  # fmt: skip
    with ChemtraceClient(server or profile.server, token=token or device.token()) as client:
        try:
            report = push(document, client, signer, context, behaviour=behaviour,
                          rebases=rebases)  # fmt: skip
        except PushError as exc:
            _fail(f"{exc} ({exc.code})", 2)
        except ApiError as exc:
            _fail(f"the server refused the capture: {exc}", 2)
    if as_json:
        out.print_json(json.dumps(report.to_json()))
    else:
        out.print(f"captured {report.captured} event(s) in job(s) {', '.join(report.jobs)}"
                  f" after {report.rebases} rebase(s)", markup=False)  # fmt: skip
        for refused in report.rejected:
            error = refused["error"]
            out.print(f"event {refused['index']}: {error.get('code')}: {error.get('detail')}",
                      markup=False)  # fmt: skip
    raise typer.Exit(1 if report.rejected else 0)
