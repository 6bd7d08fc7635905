"""``chemtrace scan``: the scanner's and the inspector's commands.

Each group of commands lives beside the code it drives and registers itself here.
"""

from __future__ import annotations

import typer

from scanners import cli_device, cli_images, cli_inspect, cli_labels, cli_tui

app = typer.Typer(
    help="Read labels, record handoffs offline, sync them, and verify items on the spot.",
    no_args_is_help=True,
    add_completion=False,
)

for module in (cli_labels, cli_images, cli_device, cli_inspect, cli_tui):
    module.register(app)
