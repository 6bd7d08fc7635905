"""``chemtrace scan image FILE...``: read the labels in photos, offline.

Each file is decoded with :func:`scanners.images.decode_image` (thoroughly: every
retry pass runs, since a pallet photo may hold one tiny or tilted label among many),
and every symbol found is parsed with :func:`scanners.identifiers.parse_scan` from
its AIM symbology identifier and content. One JSON document goes to standard
output::

    {"files": [{"file": "pallet.jpg",
                "symbols": [{"format": "QRCode", "symbology": "]Q1", "text": "HTTPS://…",
                             "position": [[x, y], …], "parsed": {…}},
                            {…, "error": {"code": "bad_check_digit", "message": "…"}}]},
               {"file": "broken.png", "symbols": [],
                "error": {"code": "image_unreadable", "message": "…"}}]}

Each problem is also named on standard error. Exit 0: every file held at least one
symbol and every symbol parsed; 1: a symbol did not parse or a file held no symbol;
2: a file could not be read (this wins over 1). It needs no database, server or keys.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Final

import typer

from scanners.identifiers import ScanError, parse_scan
from scanners.images import SUPPORTED_FORMATS, DecodedSymbol, ImageDecodeError, decode_image

EXIT_ALL_READ: Final = 0
EXIT_NOT_ALL_PARSED: Final = 1
EXIT_UNREADABLE_FILE: Final = 2

JsonObject = dict[str, object]


def image_command(
    files: Annotated[
        list[Path],
        typer.Argument(help="Photos to read (PNG, JPEG, WebP, TIFF, …).", metavar="FILE"),
    ],
    formats: Annotated[
        list[str] | None,
        typer.Option(
            "--format",
            help=f"Read only this format (repeatable): {', '.join(SUPPORTED_FORMATS)}.",
        ),
    ] = None,
) -> None:
    """Decode every label in the photos and parse each one; print the result as JSON."""
    wanted = tuple(formats) if formats else SUPPORTED_FORMATS
    unknown = sorted(set(wanted) - set(SUPPORTED_FORMATS))
    if unknown:
        raise typer.BadParameter(
            f"{', '.join(unknown)} is not one of {', '.join(SUPPORTED_FORMATS)}",
            param_hint="--format",
        )
    outcomes = [_read_file(file, wanted) for file in files]
    document = {"files": [report for report, _ in outcomes]}
    typer.echo(json.dumps(document, indent=2, ensure_ascii=False))
    raise typer.Exit(max(exit_code for _, exit_code in outcomes))


def _read_file(file: Path, formats: tuple[str, ...]) -> tuple[JsonObject, int]:
    """The file's report and its exit code; the command exits with the worst one."""
    try:
        symbols = decode_image(file, formats=formats, thorough=True)
    except ImageDecodeError as exc:
        typer.echo(f"{file}: cannot read ({exc.code}): {exc.message}", err=True)
        error = _error(exc.code, exc.message)
        return {"file": str(file), "symbols": [], "error": error}, EXIT_UNREADABLE_FILE
    if not symbols:
        typer.echo(f"{file}: no label found", err=True)
    reports = [_symbol_report(file, symbol) for symbol in symbols]
    all_parsed = bool(reports) and all("parsed" in report for report in reports)
    exit_code = EXIT_ALL_READ if all_parsed else EXIT_NOT_ALL_PARSED
    return {"file": str(file), "symbols": reports}, exit_code


def _symbol_report(file: Path, symbol: DecodedSymbol) -> JsonObject:
    report: JsonObject = {
        "format": symbol.format,
        "symbology": symbol.symbology,
        "text": symbol.text,
        "position": [list(corner) for corner in symbol.position],
    }
    try:
        report["parsed"] = parse_scan(symbol.symbology + symbol.text).to_json()
    except ScanError as exc:
        typer.echo(f"{file}: {symbol.format} not parsed ({exc.code}): {exc.message}", err=True)
        report["error"] = _error(exc.code, exc.message)
    return report


def _error(code: str, message: str) -> JsonObject:
    return {"code": code, "message": message}


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``chemtrace scan``."""
    app.command("image")(image_command)
