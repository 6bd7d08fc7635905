"""custody.*: shipments arrive in time, at the consignee, and one holder acts at a time.

Plant to lab is 38.9 km: 54.5 km by road at 40 km/h plus 6 h slack allows 7 h 21 min 46 s.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.ledger.rules.scenario import City

ALLOWANCE = timedelta(hours=7, minutes=21, seconds=46)
EVERY_20_MIN = [20.0 * step for step in range(1, 23)]  # up to 7 h 20 min


def _shipped(*codes: str) -> tuple[City, str]:
    city = City()
    for code in codes:
        city.commission(code)
    shipped = city.ship(list(codes))
    return city, shipped


# -- custody.transit_overdue -------------------------------------------------------------------


def test_a_shipment_never_received_is_overdue_with_no_further_event() -> None:
    city, shipped = _shipped("DRUM-1")
    city.advance(hours=7, minutes=21)
    assert city.rules() == ["transport.track_lost"]  # no fix at all for over 2 h
    city.advance(minutes=1)

    assert city.rules() == ["transport.track_lost", "custody.transit_overdue"]
    found = city.of("custody.transit_overdue")[0]
    assert found.evidence == (shipped,)
    assert (found.org, found.site, found.item) == ("carrier", "lab", "DRUM-1")
    assert found.severity == "high"


def test_a_late_arrival_is_overdue() -> None:
    city, shipped = _shipped("DRUM-1")
    start = city.clock
    city.track(["DRUM-1"], shipped, start, [*EVERY_20_MIN, 440.0])
    # signed after the allowance, logged before the deadline timer (5 s after it) fires
    received = city.receive(["DRUM-1"], shipped, at=start + ALLOWANCE + timedelta(seconds=2),
                            log_at=start + ALLOWANCE + timedelta(seconds=3))  # fmt: skip

    found = city.only("custody.transit_overdue")
    assert found.evidence == (shipped, received)
    assert found.item == "DRUM-1"


def test_an_arrival_just_inside_the_allowance_is_fine() -> None:
    city, shipped = _shipped("DRUM-1")
    start = city.clock
    city.track(["DRUM-1"], shipped, start, EVERY_20_MIN)
    city.receive(["DRUM-1"], shipped, at=start + ALLOWANCE - timedelta(seconds=30))
    city.advance(days=3)
    city.clean()


def test_a_receive_logged_before_the_deadline_disarms_it() -> None:
    city, shipped = _shipped("DRUM-1")
    start = city.clock
    city.track(["DRUM-1"], shipped, start, [20.0 * step for step in range(1, 9)])
    city.receive(["DRUM-1"], shipped, at=start + timedelta(hours=2, minutes=5))
    city.advance(days=10)
    city.clean()


def test_a_partial_receipt_leaves_the_rest_overdue() -> None:
    city, shipped = _shipped("DRUM-1", "DRUM-2")
    start = city.clock
    city.track(["DRUM-1", "DRUM-2"], shipped, start, [20.0, 40.0, 60.0, 80.0, 100.0])
    city.receive(["DRUM-1"], shipped, at=city.at(hours=2))
    city.advance(hours=6)

    found = city.only("custody.transit_overdue")
    assert found.evidence == (shipped,)
    assert found.item == "DRUM-2"
    assert "1 of 2" in found.message


# -- custody.wrong_receiver --------------------------------------------------------------------


def test_a_receive_by_another_org_than_the_consignee_is_found() -> None:
    city, shipped = _shipped("DRUM-1")
    city.track(["DRUM-1"], shipped, city.clock, [20.0, 40.0, 60.0, 80.0, 100.0])
    wrong = city.receive(["DRUM-1"], shipped, org="clinic", site="lab", at=city.at(hours=2))

    found = city.only("custody.wrong_receiver")
    assert found.evidence == (shipped, wrong)
    assert (found.org, found.site, found.item) == ("clinic", "lab", "DRUM-1")


def test_a_receive_against_a_shipment_the_item_is_not_on_is_found() -> None:
    city, shipped = _shipped("DRUM-1")
    city.commission("DRUM-2", at=city.clock - timedelta(minutes=5))
    wrong = city.receive(["DRUM-2"], shipped, at=city.at(hours=2))

    found = city.only("custody.wrong_receiver")
    assert found.evidence == (shipped, wrong)
    assert found.item == "DRUM-2"


def test_a_receive_with_an_item_added_to_the_shipment_is_found() -> None:
    city = City()
    city.commission("DRUM-1")
    city.commission("DRUM-2")
    shipped = city.ship(["DRUM-1"])
    city.track(["DRUM-1"], shipped, city.clock, [20.0, 40.0, 60.0, 80.0, 100.0])
    wrong = city.receive(["DRUM-1", "DRUM-2"], shipped, at=city.at(hours=2))

    found = city.only("custody.wrong_receiver")
    assert found.evidence == (shipped, wrong)
    assert found.item == "DRUM-2"


def test_a_shipment_received_in_two_parts_by_the_consignee_is_fine() -> None:
    city, shipped = _shipped("DRUM-1", "DRUM-2")
    start = city.clock
    city.track(["DRUM-1", "DRUM-2"], shipped, start, [20.0, 40.0, 60.0, 80.0, 100.0])
    city.receive(["DRUM-1"], shipped, at=start + timedelta(hours=2))
    city.receive(["DRUM-2"], shipped, at=start + timedelta(hours=2, minutes=5))
    city.advance(days=2)
    city.clean()


def test_a_receive_naming_an_unknown_shipment_is_found() -> None:
    city, _ = _shipped("DRUM-1")
    bogus = "sha256:" + "9" * 64
    wrong = city.receive(["DRUM-1"], bogus, at=city.at(hours=2))
    found = city.of("custody.wrong_receiver")
    assert [f.evidence for f in found] == [(bogus, wrong)]


# -- custody.double_holder ---------------------------------------------------------------------


def test_the_former_holder_acting_on_a_delivered_item_is_found() -> None:
    city = City()
    city.commission("DRUM-1")
    delivered = city.deliver(["DRUM-1"])
    city.at(days=1)
    moved = city.event("store_out", "maker", ["DRUM-1"], {}, site="plant")

    found = city.only("custody.double_holder")
    assert found.evidence == (delivered.receive, moved)
    assert (found.org, found.site, found.item) == ("maker", "plant", "DRUM-1")
    assert found.key == "DRUM-1:maker:user"


def test_the_holder_acting_on_its_own_item_is_fine() -> None:
    city = City()
    city.commission("DRUM-1")
    city.event("store_out", "maker", ["DRUM-1"], {}, site="plant")
    city.deliver(["DRUM-1"])
    city.event("store_in", "user", ["DRUM-1"], {}, site="lab")
    city.use("DRUM-1", "2")
    city.count("DRUM-1", "18")
    city.clean()


def test_an_invoice_after_delivery_does_not_move_custody() -> None:
    city = City()
    city.commission("DRUM-1", chemical="6.1")
    city.deliver(["DRUM-1"])
    city.at(hours=3)
    city.sell(["DRUM-1"], to="user")
    city.at(hours=3)
    city.use("DRUM-1", "1")
    city.clean()


def test_a_return_received_by_the_org_it_went_back_to_is_fine() -> None:
    city = City()
    city.commission("CYL-1", chemical="17.1", packaging="cylinder")
    city.deliver(["CYL-1"])
    city.at(hours=5)
    returned = city.event("return", "user", ["CYL-1"], {"to_org": "maker"}, site="lab")
    city.at(hours=3)
    city.receive(["CYL-1"], returned, org="maker", site="plant")
    city.clean()


def test_a_return_received_by_someone_else_is_the_wrong_receiver() -> None:
    city = City()
    city.commission("CYL-1", chemical="17.1", packaging="cylinder")
    city.deliver(["CYL-1"])
    returned = city.event("return", "user", ["CYL-1"], {"to_org": "maker"}, site="lab")
    city.at(hours=3)
    received = city.receive(["CYL-1"], returned, org="store", site="depot")
    assert city.only("custody.wrong_receiver").evidence == (returned, received)


# -- the deadline's own instant --------------------------------------------------------------
# The ship is logged 5 s after it is signed, so its timer is due 5 s after the allowance
# ends (the allowance is 26505 s: 7 h 21 min 45 s).


def _deadline(city: City) -> tuple[datetime, datetime]:
    """The shipment's due time (signed time plus allowance) and its timer (5 s later)."""
    due = next(due for due, kind, _ in city.engine.pending() if kind == "transit")
    timer = datetime.fromtimestamp(due, UTC)
    return timer - timedelta(seconds=5), timer


@pytest.mark.parametrize(("signed", "late"), [(-1, False), (0, False), (1, True)])
def test_a_receive_logged_at_the_deadlines_instant_is_judged_before_it(
    signed: int, late: bool
) -> None:
    city, shipped = _shipped("DRUM-1")
    due, timer = _deadline(city)
    city.track(["DRUM-1"], shipped, city.clock, EVERY_20_MIN)
    city.receive(["DRUM-1"], shipped, at=due + timedelta(seconds=signed), log_at=timer)
    city.advance(days=3)
    assert city.rules() == (["custody.transit_overdue"] if late else []), city.describe()


def test_every_entry_logged_at_the_deadlines_instant_is_judged_before_it() -> None:
    city, shipped = _shipped("DRUM-1")
    due, timer = _deadline(city)
    city.track(["DRUM-1"], shipped, city.clock, EVERY_20_MIN)
    city.commission("DRUM-9", at=timer, log_at=timer)  # another entry at the same instant first
    city.receive(["DRUM-1"], shipped, at=due, log_at=timer)
    city.advance(days=3)
    city.clean()


def test_advancing_to_exactly_the_deadline_does_not_fire_it() -> None:
    city, _ = _shipped("DRUM-1")
    _, timer = _deadline(city)
    city.found += city.engine.advance(timer)
    assert city.of("custody.transit_overdue") == []
    city.found += city.engine.advance(timer + timedelta(seconds=1))
    assert len(city.of("custody.transit_overdue")) == 1


# -- custody.wrong_receiver does not deliver (issue 13, class 9) --------------------------------


def _receive_by_other_then_wait(org: str, site: str) -> tuple[City, str, str, datetime]:
    city, shipped = _shipped("DRUM-1")
    start = city.clock
    city.track(["DRUM-1"], shipped, start, [20.0, 40.0, 60.0, 80.0, 100.0])
    wrong = city.receive(["DRUM-1"], shipped, org=org, site=site, at=start + timedelta(hours=2))
    return city, shipped, wrong, start


@pytest.mark.parametrize("site", ["plant", "lab"])
def test_a_receive_by_the_sender_leaves_the_consignee_s_receive_overdue(site: str) -> None:
    city, shipped, wrong, start = _receive_by_other_then_wait("maker", site)
    city.advance(seconds=(start + ALLOWANCE - city.clock).total_seconds() - 60)
    assert city.rules() == ["custody.wrong_receiver"]
    assert city.found[0].evidence == (shipped, wrong)
    assert city.found[0].org == "maker"
    # the projection records who signed for the goods; the shipment to the consignee stays open
    assert city.engine.state.projection.items["DRUM-1"].holder == "maker"
    assert city.engine.state.ships[shipped].pending == {"DRUM-1"}
    city.advance(minutes=2)

    assert city.rules() == ["custody.wrong_receiver", "custody.transit_overdue"]
    overdue = city.of("custody.transit_overdue")[0]
    assert overdue.evidence == (shipped,)
    assert (overdue.org, overdue.site, overdue.item) == ("carrier", "lab", "DRUM-1")
    assert "user" in overdue.message


def test_a_receive_by_the_carrier_leaves_the_consignee_s_receive_overdue() -> None:
    city, _, _, _ = _receive_by_other_then_wait("carrier", "yard")
    city.advance(hours=8)
    assert city.rules() == ["custody.wrong_receiver", "custody.transit_overdue"]


def test_the_consignee_receiving_after_a_wrong_receive_in_time_is_not_overdue() -> None:
    # the carrier signs at the consignee's gate, then the consignee signs for the goods
    city, shipped, _, start = _receive_by_other_then_wait("carrier", "lab")
    city.receive(["DRUM-1"], shipped, at=start + timedelta(hours=2, minutes=5))
    city.advance(days=2)
    assert city.rules() == ["custody.wrong_receiver"]
    assert city.engine.state.ships == {}
