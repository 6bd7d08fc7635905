"""Pieces every screen uses: the top of a scanning screen, and plain status lines."""

from __future__ import annotations

from collections.abc import Iterator

from textual.content import Content
from textual.widget import Widget
from textual.widgets import Header, Input, Static

SCAN_PROMPT = "Scan the item's label (or type its trace code) and press Enter."


def scan_top(input_id: str) -> Iterator[Widget]:
    """The header, the prompt and the scan input a keyboard-wedge scanner types into."""
    yield Header(show_clock=False)
    yield Static(SCAN_PROMPT, classes="prompt")
    yield Input(placeholder="scan here", id=input_id)


def show(widget: Static, message: str, kind: str = "") -> None:
    """Put a plain message (never read as markup) in a status line styled ``kind``
    (``error``, ``warning``, ``ok`` or plain)."""
    widget.update(Content(message))
    widget.set_classes(f"status {kind}".strip())
