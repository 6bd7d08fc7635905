"""``chemtrace scan parse``: read labels, offline.

``chemtrace scan parse TEXT`` decodes one scanner read (``-`` reads it from
standard input, as a keyboard-wedge scanner or a pipe delivers it) and prints
one JSON document with every identifier found. It needs no database, server or
keys. Exit 0: parsed; exit 1: invalid, with the reason on standard error and
nothing on standard output.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from scanners.identifiers import ScanError, WedgeConfig, parse_scan

STDIN: str = "-"


def parse(
    text: Annotated[
        str,
        typer.Argument(
            help="The read: a trace code, label URL, GS1 element string (raw, bracketed or "
            "with an AIM prefix like ]d2), GS1 Digital Link or RFID EPC. '-' reads stdin."
        ),
    ],
    strip_prefix: Annotated[
        list[str] | None,
        typer.Option("--strip-prefix", help="A prefix the scanner adds (repeatable)."),
    ] = None,
    strip_suffix: Annotated[
        list[str] | None,
        typer.Option("--strip-suffix", help="A suffix the scanner adds (repeatable)."),
    ] = None,
    gs_substitute: Annotated[
        list[str] | None,
        typer.Option(
            "--gs-substitute",
            help="Extra text the scanner sends for the GS separator, e.g. '~' (repeatable).",
        ),
    ] = None,
) -> None:
    """Decode a scanner read and print every identifier in it as JSON."""
    read = sys.stdin.read() if text == STDIN else text
    try:
        config = WedgeConfig(
            prefixes=tuple(strip_prefix or ()),
            suffixes=tuple(strip_suffix or ()),
            gs_substitutes=tuple(gs_substitute or ()),
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--gs-substitute") from exc
    try:
        result = parse_scan(read, config)
    except ScanError as exc:
        print(f"invalid scan ({exc.code}): {exc.message}", file=sys.stderr)
        raise typer.Exit(1) from exc
    print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``chemtrace scan``."""
    app.command("parse")(parse)
