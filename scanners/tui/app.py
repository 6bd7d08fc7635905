"""The handheld application: three modes, each its own stack of screens.

``handoff`` (F1 or 1), ``outbox`` (F2 or 2) and ``verify`` (F3 or 3) keep their place when
the person switches between them: a half-filled form is still there on return. ctrl+q quits
anywhere, ``q`` too where no input has the focus. The digits and ``q`` go into a focused
input instead, since a scanner types codes there. Everything is drawn with plain keys and
colours, so it works in a 100×30 terminal or tmux pane with ``TERM=xterm-256color`` or
``screen-256color``.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType

from scanners.device.home import DeviceHome
from scanners.inspector import InspectorKit
from scanners.tui.actions import Handheld
from scanners.tui.handoff import ScanScreen
from scanners.tui.outbox import OutboxScreen
from scanners.tui.verify import VerifyScreen

# One stylesheet for every screen: a screen's DEFAULT_CSS would be scoped to that screen
# class, which the shared dialogs and status lines cannot use.
CSS = """
.prompt { margin: 1 1 0 1; text-style: bold; }
.hint { margin: 0 1; color: $text-muted; }
.device { margin: 1 1 0 1; color: $text-muted; }
.status { margin: 0 1; height: auto; }
.status.error { color: $error; text-style: bold; }
.status.warning { color: $warning; }
.status.ok { color: $success; }
#scan, #verify-scan { margin: 0 1; }
#types { margin: 0 1; height: 1fr; }
#form { height: 1fr; margin: 0 1; }
.field-rows { height: auto; }
.field-row { height: auto; }
.field-label { width: 20; padding: 1 1 0 0; }
.field-row Input { width: 1fr; }
.field-row Select { width: 1fr; }
.field-row .amount { width: 1fr; }
.field-row .unit { width: 16; }
#optional { height: auto; }
#review { margin: 1 0; }
#events { height: 1fr; margin: 0 1; }
#progress { margin: 0 1; }
#explanation { margin: 1 1; height: auto; }
#result { height: 1fr; margin: 0 1; }
#verdict { height: 3; content-align: center middle; text-style: bold; margin-top: 1; }
#verdict.verdict-genuine { background: $success; color: $text; }
#verdict.verdict-stale { background: $warning; color: $text; }
#verdict.verdict-fault { background: $error; color: $text; }
#verdict.verdict-reported_lost { background: $error; color: $text; }
#verdict.verdict-reported_stolen { background: $error; color: $text; }
#verdict.verdict-retired { background: $error; color: $text; }
#verdict.verdict-unknown_item { background: $warning-darken-2; color: $text; }
#messages { margin-top: 1; height: auto; }
#timeline { height: auto; }
ModalScreen { align: center middle; }
ModalScreen > Vertical {
    width: 90%; max-width: 96; height: auto; max-height: 90%;
    border: thick $accent; background: $surface; padding: 0 1;
}
ModalScreen .question { text-style: bold; margin-bottom: 1; }
ModalScreen .details { margin-bottom: 1; }
ModalScreen .problem { color: $error; }
ModalScreen Horizontal { height: auto; }
ModalScreen Button { margin-right: 2; }
"""


class HandheldApp(App[None]):
    """``chemtrace scan tui``."""

    TITLE = "chemtrace handheld"
    CSS = CSS
    DEFAULT_MODE = "handoff"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "switch_mode('handoff')", "Handoff", key_display="F1"),
        Binding("f2", "switch_mode('outbox')", "Outbox", key_display="F2"),
        Binding("f3", "switch_mode('verify')", "Verify", key_display="F3"),
        Binding("1", "switch_mode('handoff')", show=False),
        Binding("2", "switch_mode('outbox')", show=False),
        Binding("3", "switch_mode('verify')", show=False),
        Binding("q", "quit", "Quit", show=False),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(self, device: DeviceHome, kit: InspectorKit) -> None:
        super().__init__()
        self.handheld = Handheld(device, kit)
        self.add_mode("handoff", lambda: ScanScreen(self.handheld))
        self.add_mode("outbox", lambda: OutboxScreen(self.handheld))
        self.add_mode("verify", lambda: VerifyScreen(self.handheld))
