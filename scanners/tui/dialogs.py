"""The two questions the handheld asks before it changes anything: "sure?" and "why?".

Signing an event, rebasing, re-signing, retrying and discarding each wait for an explicit
yes (:class:`ConfirmScreen`); a discard first asks for its reason (:class:`ReasonScreen`),
which the outbox keeps with the event.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question about one action; answers ``True`` only on an explicit yes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str, details: str, *, yes: str = "Yes", safe_no: bool = True):
        super().__init__()
        self.question, self.details, self.yes = question, details, yes
        self.safe_no = safe_no
        """Focus "no" first, so a stray Enter does not do something that cannot be undone."""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Content(self.question), classes="question")
            yield Static(Content(self.details), classes="details")
            with Horizontal():
                yield Button(f"{self.yes} (y)", variant="success", id="yes")
                yield Button("No (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#no" if self.safe_no else "#yes", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class ReasonScreen(ModalScreen[str | None]):
    """Asks why; answers the reason, or ``None`` when the person backs out."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Back")]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Content(self.question), classes="question")
            yield Input(placeholder="the reason, kept with the event", id="reason")
            yield Static("", classes="problem", id="problem")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not event.value.strip():
            self.query_one("#problem", Static).update("say why (a reason is required)")
            return
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)
