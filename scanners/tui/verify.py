"""The inspector's verify screen: scan, and read the verdict and the custody chain.

The scan goes to :meth:`scanners.inspector.ScanVerifier.verify` in a worker thread:
offline from the kit's stored bundles by default, online through the device profile's
server once the person switches it on (ctrl+o) and the server answers. The verdict comes
in large plain words (GENUINE, STALE, FAULT, UNKNOWN ITEM), then the faults, warnings and
notes as the verifier wrote them, the source it used, and the custody chain as a
timeline: one row per step saying when, what, who held it, where and how much.
"""

from __future__ import annotations

from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from ledger.errors import LedgerError
from ledger.timefmt import parse_utc
from scanners.errors import ScannerError
from scanners.inspector import ScanVerdict, ScanVerifier
from scanners.inspector.verify import OnlineAccess
from scanners.tui import actions
from scanners.tui.actions import Handheld
from scanners.tui.common import scan_top, show

_CANNOT_VERIFY = (ScannerError, LedgerError, OSError)


_HEADLINES = {"genuine": "GENUINE", "stale": "STALE", "fault": "FAULT",
              "unknown_item": "UNKNOWN ITEM", "reported_lost": "REPORTED LOST",
              "reported_stolen": "REPORTED STOLEN", "retired": "NOT IN CIRCULATION"}  # fmt: skip


def headline(verdict: ScanVerdict) -> str:
    """The verdict in large plain words; a stale one says how old its bundle is."""
    if verdict.verdict == "stale" and verdict.source.age:
        return f"STALE (downloaded {verdict.source.age} ago)"
    return _HEADLINES[verdict.verdict]


def when(time: str) -> str:
    """``2026-10-01 00:01 UTC``: to the minute, as people read a timeline."""
    try:
        return parse_utc(time).strftime("%Y-%m-%d %H:%M UTC")
    except LedgerError:
        return time  # shown as the bundle has it; the verdict says what is wrong with it


def messages(verdict: ScanVerdict) -> str:
    """What the verdict rests on, in the verifier's own words."""
    subject = f"{verdict.noun} {verdict.code}" if verdict.code else "this scan"
    lines = [f"{subject} ({verdict.scanned})"]
    if verdict.standing_message is not None:
        lines.append(verdict.standing_message)
    lines += [f"FAULT: {fault.message}" for fault in verdict.faults]
    lines += [f"warning: {warning.message}" for warning in verdict.warnings]
    lines += [f"note: {note}" for note in verdict.notes]
    lines.append(f"source: {verdict.source.description}")
    if verdict.label is not None:
        label = verdict.label
        lines.append(f"label: chemical {label.form}, {label.packaging}, issued to {label.org} "
                     f"(batch {label.batch})")  # fmt: skip
    return "\n".join(lines)


class VerifyScreen(Screen[None]):
    """Scan to verdict, with the custody chain."""

    SUB_TITLE = "verify"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+o", "toggle_online", "Online/offline")]

    def __init__(self, handheld: Handheld) -> None:
        super().__init__()
        self.handheld = handheld
        self.online: OnlineAccess | None = None

    def compose(self) -> ComposeResult:
        yield from scan_top("verify-scan")
        yield Static("offline: verifying from the kit's stored bundles (ctrl+o: online)",
                     id="mode", classes="status")  # fmt: skip
        with VerticalScroll(id="result"):
            yield Static("", id="verdict")
            yield Static("", id="messages")
            yield Static("", id="timeline-title", classes="prompt")
            yield DataTable(id="timeline", cursor_type="none", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#timeline", DataTable).add_columns(
            "step", "when", "what", "who held it", "where", "how much", "status"
        )
        self.query_one("#timeline", DataTable).display = False

    def on_screen_resume(self) -> None:
        self.query_one("#verify-scan", Input).focus()

    # -- online or offline -----------------------------------------------------------------

    def action_toggle_online(self) -> None:
        mode = self.query_one("#mode", Static)
        if self.online is not None:
            self.online = None
            show(mode, "offline: verifying from the kit's stored bundles (ctrl+o: online)")
            return
        access = actions.online_access(self.handheld.device)
        if access is None:
            show(mode, "offline: this device is not enrolled, so it has no server to ask",
                 "warning")  # fmt: skip
            return
        show(mode, f"checking {access.server}…")
        self._check_server(access)

    @work(thread=True, exclusive=True, group="online")
    def _check_server(self, access: OnlineAccess) -> None:
        up = actions.reachable(access)
        self.app.call_from_thread(self._server_checked, access, up)

    def _server_checked(self, access: OnlineAccess, up: bool) -> None:
        mode = self.query_one("#mode", Static)
        if up:
            self.online = access
            show(mode, f"online: verifying through {access.server} (ctrl+o: offline)", "ok")
        else:
            show(mode, f"offline: {access.server} does not answer; verifying from the kit's "
                       "stored bundles", "warning")  # fmt: skip

    # -- verifying -------------------------------------------------------------------------

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value
        event.input.clear()
        verdict = self.query_one("#verdict", Static)
        verdict.update("verifying…")
        verdict.set_classes("")
        self._verify(text, self.online)

    @work(thread=True, exclusive=True, group="verify")
    def _verify(self, text: str, online: OnlineAccess | None) -> None:
        try:
            verdict = ScanVerifier(self.handheld.kit).verify(text, online=online)
        except _CANNOT_VERIFY as exc:
            self.app.call_from_thread(self._cannot_verify, f"could not verify: {exc}")
            return
        self.app.call_from_thread(self._show_verdict, verdict)

    def _cannot_verify(self, message: str) -> None:
        banner = self.query_one("#verdict", Static)
        banner.update("NOT VERIFIED")
        banner.set_classes("verdict-unknown_item")
        self.query_one("#messages", Static).update(Content(message))
        self.query_one("#timeline-title", Static).update("")
        self.query_one("#timeline", DataTable).display = False

    def _show_verdict(self, verdict: ScanVerdict) -> None:
        banner = self.query_one("#verdict", Static)
        banner.update(Content(headline(verdict)))
        banner.set_classes(f"verdict-{verdict.verdict}")
        self.query_one("#messages", Static).update(Content(messages(verdict)))
        title = self.query_one("#timeline-title", Static)
        table = self.query_one("#timeline", DataTable)
        table.clear()
        table.display = bool(verdict.steps)
        if not verdict.steps:
            title.update("")
            return
        title.update(Content(
            "custody chain" if verdict.verdict != "fault"
            else "custody chain AS THE BUNDLE CLAIMS IT (not verified: do not rely on it)"
        ))  # fmt: skip
        for step in verdict.steps:
            amount = "" if step.quantity is None else f"{step.quantity} {step.unit or ''}".strip()
            table.add_row(str(step.seq), when(step.time), step.type, step.holder or "",
                          step.site or "", amount, step.status.replace("_", " "))  # fmt: skip
