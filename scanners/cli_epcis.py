"""``chemtrace epcis push``: capture an ERP's EPCIS 2.0 document, signed by this device."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, NoReturn

import httpx
import typer
from rich.console import Console

from ledger.epcis.mapping import CaptureContext
from ledger.signing import Signer
from scanners.client import ApiError, ChemtraceClient
from scanners.device.home import DEFAULT_HOME, DeviceError, DeviceHome
from scanners.epcis_push import PushError, push
from scanners.signed_capture import signed_capture_request

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


def _push_signed(
    body: bytes, server: str, token: str | None, signer: Signer, actor: str, catalog: str,
    as_json: bool,
) -> NoReturn:  # fmt: skip
    """One RFC 9421-signed request: exit 0 captured, 1 some event refused, 2 refused whole."""
    url, headers = signed_capture_request(signer, server, body, actor=actor,
                                          catalog_version=catalog)  # fmt: skip
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        answer = httpx.post(url, content=body, headers=headers, timeout=120)
    except httpx.HTTPError as exc:
        _fail(f"cannot reach {server}: {exc}", 2)
    found = answer.json() if answer.content else {}
    if answer.status_code != 202:
        _fail(f"the server refused the signed capture: {found.get('code')}: "
              f"{found.get('detail')}", 2)  # fmt: skip
    if as_json:
        out.print_json(json.dumps(found))
    else:
        out.print(f"signed capture job {found['captureID']}: "
                  f"{'captured' if found['success'] else 'refused'}", markup=False)  # fmt: skip
        for error in found["errors"]:
            out.print(f"event {error.get('index')}: {error.get('code')}: {error.get('detail')}",
                      markup=False)  # fmt: skip
    raise typer.Exit(0 if found["success"] else 1)


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
    sign_request: Annotated[
        bool,
        typer.Option(
            "--sign-request",
            help="Send the document as it is, the whole request signed with RFC 9421 "
            "(POST /epcis/capture/signed): the server derives the events.",
        ),
    ] = False,
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
    if sign_request:
        _push_signed(file.read_bytes(), server or profile.server, token or device.token(),
                     signer, profile.actor, profile.catalog_version, as_json)  # fmt: skip
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
