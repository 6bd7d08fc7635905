"""Widgets for a form's fields (:mod:`scanners.tui.forms`): one row per field.

A text field is an input, a choice a drop-down (type to jump to an option), a quantity an
amount and a unit (kg unless changed). Enter in an input moves to the next field to fill
(:data:`NEXT_TO_FILL`), as a keyboard-wedge scanner ends every read with Enter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Input, Label, Select

from scanners.tui.forms import FieldSpec, FieldValue

NEXT_TO_FILL = "Input, Select.choice, #review"
"""What Enter in an input moves the focus to: the unit drop-downs are skipped."""


class FieldRow(Horizontal):
    """A label and the widget(s) that hold one field's value."""

    def __init__(self, spec: FieldSpec, prefill: str = "") -> None:
        super().__init__(classes="field-row")
        self.spec, self.prefill = spec, prefill

    def compose(self) -> ComposeResult:
        yield Label(self._label(focused=False), classes="field-label")
        name, spec = self.spec.name, self.spec
        if spec.kind == "quantity":
            yield Input(placeholder="amount", restrict=r"[0-9.]*", id=f"field-{name}",
                        classes="amount")  # fmt: skip
            options = [(unit, unit) for unit in spec.choices]
            yield Select(options, value=spec.choices[0], allow_blank=False, id=f"unit-{name}",
                         classes="unit")  # fmt: skip
        elif spec.kind == "choice":
            yield Select([(choice, choice) for choice in spec.choices],
                         prompt=f"choose the {spec.label}", id=f"field-{name}",
                         classes="choice")  # fmt: skip
        else:
            yield Input(value=self.prefill, placeholder=spec.hint or spec.label, id=f"field-{name}")

    def _label(self, *, focused: bool) -> str:
        return ("▶ " if focused else "  ") + self.spec.label + (" *" if self.spec.required else "")

    def on_descendant_focus(self) -> None:
        self._mark_focus()

    def on_descendant_blur(self) -> None:
        self._mark_focus()

    def _mark_focus(self) -> None:
        # A marker in the text, not only a colour: the field being filled must show on a
        # monochrome or sunlit handheld screen too. Asked afresh each time, because a
        # drop-down's list hands the focus back to it in either order of these events.
        self.query_one(".field-label", Label).update(self._label(focused=self.has_focus_within))

    @property
    def value(self) -> FieldValue:
        if self.spec.kind == "quantity":
            amount = self.query_one(f"#field-{self.spec.name}", Input).value
            unit = self.query_one(f"#unit-{self.spec.name}", Select).value
            return amount, str(unit)
        if self.spec.kind == "choice":
            choice = self.query_one(f"#field-{self.spec.name}", Select)
            return "" if choice.is_blank() else str(choice.value)
        return self.query_one(f"#field-{self.spec.name}", Input).value


class FieldRows(Vertical):
    """Rows for a group of fields."""

    def __init__(
        self, specs: Iterable[FieldSpec], prefill: Mapping[str, str], *, id: str | None = None
    ) -> None:
        super().__init__(classes="field-rows", id=id)
        self.specs, self.prefill = tuple(specs), prefill

    def compose(self) -> ComposeResult:
        for spec in self.specs:
            yield FieldRow(spec, self.prefill.get(spec.name, ""))


def entered_values(root: Widget) -> dict[str, FieldValue]:
    """Every field's value under ``root``, by field name."""
    return {row.spec.name: row.value for row in root.query(FieldRow)}
