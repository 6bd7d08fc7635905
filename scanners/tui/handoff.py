"""The handoff screens: scan an item, pick what happened, fill the fields, confirm, sign.

``ScanScreen`` → ``EventTypeScreen`` → ``EventFormScreen`` → ``ConfirmScreen``; each is
pushed on the one before and answers it when done, so Escape always steps back and a
signed event returns straight to the scan input, ready for the next item. The event is
signed into the outbox by :meth:`scanners.device.outbox.Outbox.record` (now, UTC, at the
profile's site); when it refuses (an unknown chain head, an invalid event) the message is
shown and nothing is kept.
"""

from __future__ import annotations

from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Button, Collapsible, Footer, Header, Input, OptionList, Static
from textual.widgets.option_list import Option

from ledger.canonical import JsonValue
from ledger.errors import LedgerError
from scanners.device.home import DeviceError
from scanners.identifiers import ScanError
from scanners.tui import actions
from scanners.tui.actions import Handheld, ScanLookupError
from scanners.tui.common import scan_top, show
from scanners.tui.dialogs import ConfirmScreen
from scanners.tui.fields import NEXT_TO_FILL, FieldRows, entered_values
from scanners.tui.forms import FORMS, EventForm, FormError


class ScanScreen(Screen[None]):
    """The handoff's first step: the scan input, focused."""

    SUB_TITLE = "handoff"

    def __init__(self, handheld: Handheld) -> None:
        super().__init__()
        self.handheld = handheld

    def compose(self) -> ComposeResult:
        yield from scan_top("scan")
        yield Static("", id="status", classes="status")
        yield Static("", id="device", classes="device")
        yield Footer()

    def on_screen_resume(self) -> None:
        self.query_one("#device", Static).update(Content(self._device_line()))
        self.query_one("#scan", Input).focus()

    def _device_line(self) -> str:
        device = self.handheld.device
        try:
            profile = device.profile()
        except DeviceError as exc:
            return f"{exc}"
        return (f"{profile.org} · site {profile.site or '-'} · key {profile.key_id[:12]}… · "
                f"{actions.waiting_count(device)} event(s) waiting in the outbox")  # fmt: skip

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value
        event.input.clear()
        show(self.query_one("#status", Static), "reading the scan…")
        self._identify(text)

    @work(thread=True, exclusive=True, group="scan")
    def _identify(self, text: str) -> None:
        # A worker: a GS1 key the kit cannot map is asked of the server, which may be slow.
        try:
            code = actions.trace_code_of(text, self.handheld)
        except (ScanError, ScanLookupError) as exc:
            self.app.call_from_thread(self._refused, actions.scan_problem(exc))
            return
        self.app.call_from_thread(self._identified, code)

    def _refused(self, message: str) -> None:
        show(self.query_one("#status", Static), message, "error")

    def _identified(self, code: str) -> None:
        show(self.query_one("#status", Static), "")
        self.app.push_screen(EventTypeScreen(self.handheld, code), self._handoff_done)

    def _handoff_done(self, message: str | None) -> None:
        if message:
            show(self.query_one("#status", Static), message, "ok")


class EventTypeScreen(Screen[str | None]):
    """Pick what happened to the scanned item."""

    SUB_TITLE = "handoff: what happened?"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "Back")]

    def __init__(self, handheld: Handheld, code: str) -> None:
        super().__init__()
        self.handheld, self.code = handheld, code

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Static(Content(f"Item {self.code}: {self._chain_line()}"), classes="prompt")
        yield Static("What happened to it? (arrows, then Enter)", classes="hint")
        yield OptionList(*(Option(form.describe(), id=name) for name, form in FORMS.items()),
                         id="types")  # fmt: skip
        yield Footer()

    def _chain_line(self) -> str:
        head = actions.known_head(self.handheld.device, self.code)
        if head is None:
            starters = " or ".join(name for name, form in FORMS.items() if form.starts_chain)
            return f"new to this device; only a {starters} can start its chain here"
        return f"this device knows its chain up to step {head.seq}"

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        form = FORMS[str(event.option.id)]
        self.app.push_screen(EventFormScreen(self.handheld, self.code, form), self._form_done)

    def _form_done(self, message: str | None) -> None:
        if message:
            self.dismiss(message)

    def action_back(self) -> None:
        self.dismiss(None)


class EventFormScreen(Screen[str | None]):
    """The event's fields, required first; then a summary to confirm before signing."""

    SUB_TITLE = "handoff: details"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "review", "Review and sign"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, handheld: Handheld, code: str, form: EventForm) -> None:
        super().__init__()
        self.handheld, self.code, self.form = handheld, code, form

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Static(Content(f"{self.form.event_type} of {self.code}"), classes="prompt")
        prefill = self._prefill()
        with VerticalScroll(id="form"):
            yield FieldRows((*self.form.required, *self.form.position), prefill)
            if self.form.optional:
                with Collapsible(title="more fields (optional)", id="optional"):
                    yield FieldRows(self.form.optional, prefill)
            yield Button("Review and sign (ctrl+s)", id="review", variant="primary")
        yield Static("", id="status", classes="status")
        yield Footer()

    def _prefill(self) -> dict[str, str]:
        """A field named after an event type takes that event's hash (``receive.ship``): the
        newest such event of this item the device knows is offered; it can be replaced."""
        prefill: dict[str, str] = {}
        for spec in self.form.fields:
            if spec.name in FORMS and spec.kind == "text":
                found = actions.newest_event(self.handheld.device, self.code, spec.name)
                if found is not None:
                    prefill[spec.name] = found.event_hash
        return prefill

    def on_mount(self) -> None:
        self.query(NEXT_TO_FILL).first().focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.focus_next(NEXT_TO_FILL)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "review":
            self.action_review()

    def action_review(self) -> None:
        values = entered_values(self)
        try:
            data, geo = self.form.data(values), self.form.geo(values)
        except FormError as exc:
            show(self.query_one("#status", Static), f"not yet: {exc}", "error")
            return
        self.app.push_screen(
            ConfirmScreen(f"Sign this {self.form.event_type}?", self._summary(data, geo),
                          yes="Sign", safe_no=False),
            lambda yes: self._sign(data, geo) if yes else None,
        )  # fmt: skip

    def _summary(self, data: dict[str, JsonValue], geo: dict[str, str] | None) -> str:
        lines = [f"{self.form.event_type} of {self.code}"]
        for name, value in data.items():
            shown = f"{value['value']} {value['unit']}" if isinstance(value, dict) else value
            lines.append(f"  {name.replace('_', ' ')}: {shown}")
        if geo is not None:
            lines.append(f"  position: {geo['lat']}, {geo['lon']}")
        try:
            profile = self.handheld.device.profile()
            lines.append(f"now (UTC), at site {profile.site or '-'}, signed for {profile.org} "
                         f"with key {profile.key_id[:12]}…")  # fmt: skip
        except DeviceError as exc:
            lines.append(str(exc))
        return "\n".join(lines)

    def _sign(self, data: dict[str, JsonValue], geo: dict[str, str] | None) -> None:
        status = self.query_one("#status", Static)
        try:
            event = actions.record(self.handheld.device, self.form.event_type, self.code, data,
                                   geo)  # fmt: skip
        except DeviceError as exc:
            show(status, f"not signed, nothing kept: {exc} ({exc.code})", "error")
            return
        except LedgerError as exc:
            show(status, f"not signed, nothing kept: invalid event: {exc.diagnostics()}",
                 "error")  # fmt: skip
            return
        self.dismiss(f"event {event.id} ({event.type} of {self.code}) signed and waiting in "
                     f"the outbox: {event.event_hash}")  # fmt: skip

    def action_back(self) -> None:
        self.dismiss(None)
