"""Handoffs in the real terminal UI on a device that has never been online.

A plain 100×30 pane, as on a small handheld: scan, pick, fill, confirm, and the event is in
the outbox file exactly as entered; refused scans and refused events are shown plainly and
leave nothing behind; sync without a server says so and keeps everything.
"""

from __future__ import annotations

import pytest

from ledger.codes import generate_code
from scanners.device.enrol import author
from scanners.device.home import DeviceHome
from scanners.device.outbox import Outbox
from scanners.identifiers import ScanError, parse_scan
from scanners.tui.actions import now_utc
from tests.scanners.device._events import COMMISSION
from tests.scanners.tui.conftest import StartTui
from tests.scanners.tui.steps import choose, commission, fill, pick_event, sign, use


def refusal_of(text: str) -> ScanError:
    with pytest.raises(ScanError) as refused:
        parse_scan(text)
    return refused.value


def test_offline_handoffs_land_in_the_outbox_exactly_as_entered(
    tui: StartTui, offline_device: DeviceHome
) -> None:
    code = generate_code()
    pane = tui("--home", str(offline_device.root), "--kit", str(offline_device.root.parent / "kit"),
               width=100, height=30)  # fmt: skip

    mistyped = code[:-1] + ("X" if code[-1] != "X" else "Y")
    refused = refusal_of(mistyped)
    pane.scan(mistyped)
    pane.wait_for(f"cannot read this scan: {refused.message} ({refused.code})")

    commission(pane, code)
    with Outbox(offline_device.outbox_path) as outbox:
        (first,) = outbox.events()
    assert (first.type, first.codes, first.state) == ("commission", (code,), "pending")
    assert first.body["data"] == {"chemical": "1", "quantity": {"value": "40", "unit": "kg"},
                                  "lot": "L1", "packaging": "cylinder"}  # fmt: skip
    assert first.body["site"] == "p-chem-site"
    assert first.body["items"] == [{"code": code, "seq": 0, "prev": None, "role": "subject"}]

    pane.keys("F2")
    pane.wait_for("waiting: 1 pending", f"1 commission {code}", "pending")
    pane.keys("F1")
    use(pane, code, "2.5")
    pane.wait_for(f"(use of {code}) signed and waiting in the outbox")
    with Outbox(offline_device.outbox_path) as outbox:
        first_again, second = outbox.events()
    assert first_again == first
    assert second.body["data"] == {"quantity": {"value": "2.5", "unit": "kg"}}
    (link,) = second.links()
    assert (link["seq"], link["prev"]) == (1, first.event_hash)

    stranger = generate_code()
    pane.scan(stranger)
    pick_event(pane, stranger, "use")
    fill(pane, "quantity", "1")
    pane.keys("C-s")
    pane.wait_for("Sign this use?")
    pane.keys("y")
    pane.wait_for(f"not signed, nothing kept: this device does not know the chain head of "
                  f"{stranger}", "(head_unknown)")  # fmt: skip
    with Outbox(offline_device.outbox_path) as outbox:
        assert [event.id for event in outbox.events()] == [first.id, second.id]
        assert outbox.head(stranger) is None

    pane.keys("F2")
    pane.wait_for("waiting: 2 pending")
    pane.keys("s")
    pane.wait_for("could not sync: no connection", "2 event(s) stay in the outbox", timeout=30)
    with Outbox(offline_device.outbox_path) as outbox:
        assert outbox.counts()["pending"] == 2
    pane.keys("q")
    pane.wait_for_exit()


def test_a_form_says_what_is_missing_or_invalid_and_signs_nothing(
    tui: StartTui, offline_device: DeviceHome
) -> None:
    code = generate_code()
    pane = tui("--home", str(offline_device.root), "--kit", str(offline_device.root.parent / "kit"))
    pane.scan(code)
    pick_event(pane, code, "commission")
    pane.keys("C-s")
    pane.wait_for("not yet: fill in: chemical, quantity, lot, packaging")
    fill(pane, "chemical", "1")
    fill(pane, "quantity", "4..0")
    fill(pane, "lot", "L1")
    choose(pane, "packaging", "drum")
    pane.keys("C-s")
    pane.wait_for("not yet: quantity value: must be a non-negative decimal string like '25'")
    with Outbox(offline_device.outbox_path) as outbox:
        assert outbox.events() == []


def test_a_receive_is_offered_the_newest_ship_of_the_item(
    tui: StartTui, offline_device: DeviceHome
) -> None:
    code = generate_code()
    with Outbox(offline_device.outbox_path) as outbox:
        outbox.record(author(offline_device), "commission", [code], COMMISSION, time=now_utc())
    pane = tui("--home", str(offline_device.root), "--kit", str(offline_device.root.parent / "kit"))
    pane.scan(code)
    pick_event(pane, code, "ship")
    fill(pane, "carrier", "c-move")
    fill(pane, "consignee", "u-lab")
    fill(pane, "consignee site", "u-lab-site")
    sign(pane, code, "ship", "consignee site: u-lab-site")
    with Outbox(offline_device.outbox_path) as outbox:
        shipped = outbox.events()[-1]

    pane.scan(code)
    pick_event(pane, code, "receive")
    pane.wait_for(f"▶ ship * ▊ {shipped.event_hash[:40]}")  # offered, in the field being filled
    sign(pane, code, "receive", f"ship: {shipped.event_hash}")
    with Outbox(offline_device.outbox_path) as outbox:
        received = outbox.events()[-1]
    assert (received.type, received.body["data"]) == ("receive", {"ship": shipped.event_hash})
