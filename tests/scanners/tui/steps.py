"""What a person does on the handheld, as keys, each step waiting for the screen to answer.

Every key that moves the focus is followed by a wait for its visible effect (the ``▶``
marker on the field now being filled, the next screen's words) before the next key, so a
slow machine only makes the test slower, never wrong.
"""

from __future__ import annotations

from scanners.tui.forms import FORMS
from tests.scanners.tui.tmux import Pane


def pick_event(pane: Pane, code: str, event_type: str) -> None:
    """On the type list for ``code``: move to ``event_type`` and open its form."""
    pane.wait_for(f"Item {code}", "What happened to it?")
    pane.keys(*["Down"] * list(FORMS).index(event_type), "Enter")
    pane.wait_for(f"{event_type} of {code}")


def fill(pane: Pane, label: str, value: str) -> None:
    """Type into the field being filled, then Enter (on to the next field)."""
    pane.wait_for(f"▶ {label}")
    pane.type(value)
    pane.keys("Enter")


def choose(pane: Pane, label: str, option: str) -> None:
    """Open the drop-down being filled, jump to ``option`` by typing it, and take it."""
    pane.wait_for(f"▶ {label}")
    pane.keys("Enter")
    pane.wait_for("Dismiss menu")  # the footer's word that the open list has the focus
    pane.type(option)
    pane.keys("Enter")
    pane.wait_for(f"▶ {label} * ▊ {option}")


def sign(pane: Pane, code: str, event_type: str, *summary: str) -> str:
    """Review (ctrl+s), check the summary, say yes; returns the screen after signing."""
    pane.keys("C-s")
    pane.wait_for(f"Sign this {event_type}?", *summary)
    pane.keys("y")
    return pane.wait_for(f"({event_type} of {code}) signed and waiting in the outbox")


def commission(pane: Pane, code: str) -> str:
    """Scan a new item and commission it: chemical 1, 40 kg, lot L1, a cylinder."""
    pane.wait_for("Scan the item's label")
    pane.scan(code)
    pick_event(pane, code, "commission")
    fill(pane, "chemical", "1")
    fill(pane, "quantity", "40")
    fill(pane, "lot", "L1")
    choose(pane, "packaging", "cylinder")
    return sign(pane, code, "commission", "quantity: 40 kg", "packaging: cylinder")


def use(pane: Pane, code: str, kilograms: str) -> None:
    """Scan an item and start a ``use`` of ``kilograms`` kg, up to the confirmation."""
    pane.wait_for("Scan the item's label")
    pane.scan(code)
    pick_event(pane, code, "use")
    fill(pane, "quantity", kilograms)
    pane.keys("C-s")
    pane.wait_for("Sign this use?", f"quantity: {kilograms} kg")
    pane.keys("y")
