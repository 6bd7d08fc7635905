"""``chemtrace scan tui``: the handheld terminal UI (handoff, outbox, verify).

The same device home as ``chemtrace scan record|outbox|sync|resolve`` and the same kit as
``chemtrace scan verify``; see :mod:`scanners.tui`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scanners.device.home import DEFAULT_HOME
from scanners.inspector import DEFAULT_HOME as DEFAULT_KIT


def tui_command(
    home: Annotated[Path, typer.Option("--home", help="The device's folder.")] = DEFAULT_HOME,
    kit: Annotated[
        Path, typer.Option("--kit", help="The inspector kit folder (for verify and GS1 keys).")
    ] = DEFAULT_KIT,
) -> None:
    """Scan, record handoffs, sync the outbox and verify items in a terminal UI."""
    # Imported here: Textual is only loaded by the one command that draws with it.
    from scanners.device.home import DeviceHome
    from scanners.inspector import InspectorKit
    from scanners.tui import HandheldApp

    HandheldApp(DeviceHome(home), InspectorKit(kit)).run()


def register(app: typer.Typer) -> None:
    """Add ``tui`` to ``chemtrace scan``."""
    app.command("tui")(tui_command)
