"""The outbox screens: what waits, sync, and the decisions a conflict or rejection needs.

``OutboxScreen`` shows the counts per state and the waiting events (``blocked`` when an
earlier event of one of their items waits for a decision) and syncs in a worker thread
(:func:`scanners.device.sync.sync`, with progress; an unreachable server leaves every event
where it was). Enter on a conflicted or rejected event opens ``ResolveScreen``: the
explanation from :func:`scanners.device.sync.explain`, and the one fix that fits (rebase,
re-sign or retry) or a discard with a reason, each only after an explicit yes.
"""

from __future__ import annotations

from typing import ClassVar

import httpx
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, ProgressBar, Static

from scanners.client import ApiError
from scanners.device.home import DeviceError
from scanners.device.outbox import WAITING
from scanners.device.sync import FITTING, Conflict, Resolution, SyncReport
from scanners.tui import actions
from scanners.tui.actions import Handheld
from scanners.tui.common import show
from scanners.tui.dialogs import ConfirmScreen, ReasonScreen

_VERBS: dict[Resolution, str] = {"rebase": "Rebase", "resign": "Re-sign", "retry": "Retry",
                                 "keep": "Keep", "discard": "Discard"}  # fmt: skip
_KEYS: dict[Resolution, str] = {"rebase": "b", "resign": "k", "retry": "t", "keep": "p",
                                "discard": "d"}  # fmt: skip
_CONSEQUENCES: dict[Resolution, str] = {
    "rebase": "It is re-linked onto the log's head and re-signed with this device's key; the "
    "old version stays in the outbox, marked superseded.",
    "resign": "It is re-signed with this device's current key; the old version stays in the "
    "outbox, marked superseded.",
    "retry": "It goes back to pending and is sent at the next sync.",
    "keep": "It stays in the outbox as this device's record, waiting; it is never sent.",
    "discard": "It is never sent. It stays in the outbox, marked discarded, with the reason.",
}


class OutboxScreen(Screen[None]):
    """Counts, the waiting events, and sync."""

    SUB_TITLE = "outbox"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "sync", "Sync"),
        Binding("a", "toggle_all", "All/waiting"),
        Binding("r", "refresh", "Refresh"),
    ]

    def __init__(self, handheld: Handheld) -> None:
        super().__init__()
        self.handheld = handheld
        self.everything = False
        self.syncing = False

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Static("", id="counts", classes="prompt")
        yield DataTable(id="events", cursor_type="row", zebra_stripes=True)
        yield ProgressBar(id="progress", show_eta=False)
        yield Static("Enter on a conflict or rejection to decide what to do with it.",
                     id="status", classes="status")  # fmt: skip
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#events", DataTable)
        table.add_columns("id", "type", "items", "time", "state", "problem")
        self.query_one("#progress", ProgressBar).display = False

    def on_screen_resume(self) -> None:
        self.action_refresh()
        self.query_one("#events", DataTable).focus()

    def action_refresh(self) -> None:
        view = actions.outbox_view(self.handheld.device, everything=self.everything)
        counts = view.counts
        waiting = " · ".join(f"{counts[state]} {state}" for state in WAITING)
        done = " · ".join(f"{counts[s]} {s}" for s in ("sent", "superseded", "discarded"))
        shown = "    (every event shown)" if self.everything else ""
        counted = f"waiting: {waiting}   done: {done}{shown}"
        self.query_one("#counts", Static).update(Content(counted))
        table = self.query_one("#events", DataTable)
        table.clear()
        for event in view.events:
            problem = (event.problem or {}).get("code", "") if event.state != "sent" else ""
            table.add_row(str(event.id), event.type, " ".join(event.codes), event.event_time,
                          view.state_of(event), str(problem), key=str(event.id))  # fmt: skip

    def action_toggle_all(self) -> None:
        self.everything = not self.everything
        self.action_refresh()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event_id = int(str(event.row_key.value))
        state = str(event.data_table.get_row(event.row_key)[4])
        if state not in ("conflict", "rejected"):
            show(self.query_one("#status", Static),
                 f"event {event_id} is {state}: nothing to decide")  # fmt: skip
            return
        self.app.push_screen(ResolveScreen(self.handheld, event_id), self._resolved)

    def _resolved(self, message: str | None) -> None:
        if message:
            show(self.query_one("#status", Static), message, "ok")
        self.action_refresh()

    # -- sync ----------------------------------------------------------------------------------

    def action_sync(self) -> None:
        if self.syncing:
            return
        self.syncing = True
        show(self.query_one("#status", Static), "syncing…")
        self._sync()

    @work(thread=True, exclusive=True, group="sync")
    def _sync(self) -> None:
        device = self.handheld.device
        try:
            report = actions.sync_outbox(
                device,
                on_progress=lambda done, total: self.app.call_from_thread(self._progress, done,
                                                                          total),
                on_wait=lambda why, delay: self.app.call_from_thread(
                    self._message, f"{why}; retrying in {delay:.1f} s", ""),
            )  # fmt: skip
        except (DeviceError, httpx.HTTPError) as exc:
            left = actions.waiting_count(device)
            self.app.call_from_thread(self._finished, f"could not sync: {exc}; {left} event(s) "
                                      "stay in the outbox", "error")  # fmt: skip
        except ApiError as exc:
            self.app.call_from_thread(self._finished, f"the server refused the sync: {exc}; "
                                      "every event stays in the outbox", "error")  # fmt: skip
        else:
            self.app.call_from_thread(self._finished, *_summary(report))

    def _progress(self, done: int, total: int) -> None:
        bar = self.query_one("#progress", ProgressBar)
        bar.display = True
        bar.update(total=total, progress=done)
        show(self.query_one("#status", Static), f"sending: {done} of {total}")

    def _message(self, message: str, kind: str) -> None:
        show(self.query_one("#status", Static), message, kind)

    def _finished(self, message: str, kind: str) -> None:
        self.syncing = False
        self.query_one("#progress", ProgressBar).display = False
        self._message(message, kind)
        self.action_refresh()


def _summary(report: SyncReport) -> tuple[str, str]:
    text = f"sync done: sent {report.sent}, already in the log {report.duplicates}"
    stuck = [*report.conflicts, *report.rejected]
    if stuck:
        listed = ", ".join(f"event {e.id} {(e.problem or {}).get('code')}" for e in stuck)
        text += f"; waiting for a decision: {listed} (select it and press Enter)"
    if report.blocked:
        text += f"; {report.blocked} event(s) blocked behind them"
    for fault in report.receipt_faults:
        text += f"; receipt fault: {fault}"
    return text, "ok" if report.clean else "warning"


class ResolveScreen(Screen[str | None]):
    """One conflicted or rejected event: why, and what can be done about it."""

    SUB_TITLE = "outbox: decide"
    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(key, f"decide('{action}')", _VERBS[action]) for action, key in _KEYS.items()),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, handheld: Handheld, event_id: int) -> None:
        super().__init__()
        self.handheld, self.event_id = handheld, event_id
        self.conflict: Conflict | None = None

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Static(f"Event {self.event_id}", classes="prompt")
        yield Static("asking the server what happened…", id="explanation")
        yield Static("", id="status", classes="status")
        yield Footer()

    def on_mount(self) -> None:
        self._explain()

    @work(thread=True, exclusive=True)
    def _explain(self) -> None:
        try:
            conflict = actions.explain_event(self.handheld.device, self.event_id)
        except DeviceError as exc:
            self.app.call_from_thread(self._failed, f"{exc} ({exc.code})")
            return
        self.app.call_from_thread(self._explained, conflict)

    def _failed(self, message: str) -> None:
        show(self.query_one("#status", Static), message, "error")

    def _explained(self, conflict: Conflict) -> None:
        self.conflict = conflict
        source = "checked with the server" if conflict.online else "offline"
        offered = FITTING[conflict.kind]
        self.query_one("#explanation", Static).update(Content(
            f"{conflict.message}\n({source})\n\nPress {_KEYS[offered]} to "
            f"{_VERBS[offered].lower()} it, d to discard it, Escape to leave it waiting."
        ))  # fmt: skip
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action != "decide":
            return True
        if self.conflict is None:
            return None  # shown disabled until the explanation is in
        return parameters[0] in ("discard", FITTING[self.conflict.kind])

    def action_decide(self, action: Resolution) -> None:
        conflict = self.conflict
        if conflict is None:
            return
        if action == "discard":
            question = ReasonScreen(f"Why is event {self.event_id} discarded?")
            self.app.push_screen(question, lambda why: self._confirm(conflict, action, why))
        else:
            self._confirm(conflict, action, None)

    def _confirm(self, conflict: Conflict, action: Resolution, reason: str | None) -> None:
        if action == "discard" and not reason:
            return
        behind = len(conflict.dependents)
        details = _CONSEQUENCES[action]
        if behind and action in ("rebase", "resign"):
            details += f" The {behind} later event(s) behind it are re-signed with it."
        if reason:
            details += f"\nReason: {reason}"
        self.app.push_screen(
            ConfirmScreen(f"{_VERBS[action]} event {self.event_id}?", details,
                          yes=_VERBS[action]),
            lambda yes: self._apply(conflict, action, reason) if yes else None,
        )  # fmt: skip

    def _apply(self, conflict: Conflict, action: Resolution, reason: str | None) -> None:
        try:
            done = actions.resolve(self.handheld.device, conflict, action, reason)
        except DeviceError as exc:
            show(self.query_one("#status", Static), f"nothing changed: {exc} ({exc.code})",
                 "error")  # fmt: skip
            return
        self.dismiss(done)

    def action_back(self) -> None:
        self.dismiss(None)
