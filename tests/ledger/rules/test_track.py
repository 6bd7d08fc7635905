"""transport.track_lost: an open shipment whose GPS track has been silent for over 2 h.

Log times equal event times here (``lag=0``) unless a test syncs late, so the silence
runs from the fix's own time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.ledger.rules.scenario import T0, City

RULE = "transport.track_lost"
SILENCE = timedelta(hours=2)
FIXES = [20.0, 40.0, 60.0, 80.0, 100.0]
EN_ROUTE = 300.0
"""The fixes lie on the first third of the line to the lab: the vehicle is still on the road."""
NIGHT = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)  # 01:00 in Beijing


def _shipped(start: datetime = T0, *codes: str) -> tuple[City, str, datetime]:
    city = City(lag=timedelta(0))
    city.clock = start - timedelta(minutes=20)
    for code in codes or ("DRUM-1",):
        city.commission(code)
    shipped = city.ship(list(codes or ("DRUM-1",)))
    return city, shipped, city.clock


def _until(city: City, moment: datetime) -> None:
    city.advance(seconds=(moment - city.clock).total_seconds())


@pytest.mark.parametrize("start", [T0, NIGHT], ids=["afternoon", "night-beijing"])
def test_a_track_silent_for_just_over_2_h_with_nothing_received_is_lost(start: datetime) -> None:
    city, shipped, begun = _shipped(start)
    city.track(["DRUM-1"], shipped, begun, FIXES, total=EN_ROUTE)
    last = begun + timedelta(minutes=100)
    _until(city, last + SILENCE - timedelta(seconds=1))
    city.clean()
    _until(city, last + SILENCE)
    city.clean()  # exactly 2 h of silence is not yet lost
    city.advance(seconds=1)

    found = city.only(RULE)
    assert found.evidence == (shipped,)
    assert (found.org, found.site, found.item, found.chemical) == (
        "carrier",
        "lab",
        "DRUM-1",
        "33.1",
    )
    assert found.severity == "high"
    assert "1 of 1" in found.message


def test_a_shipment_with_no_fix_at_all_is_lost_2_h_after_the_ship() -> None:
    city, shipped, begun = _shipped()
    _until(city, begun + SILENCE)
    city.clean()
    city.advance(seconds=1)
    assert city.only(RULE).evidence == (shipped,)


def test_a_fix_at_the_limit_restarts_the_silence() -> None:
    city, shipped, begun = _shipped()
    city.track(["DRUM-1"], shipped, begun, FIXES, total=EN_ROUTE)
    resumed = begun + timedelta(minutes=100) + SILENCE
    city.waypoint(["DRUM-1"], shipped, resumed, {"lat": "39.9", "lon": "116.2"})
    _until(city, resumed + SILENCE)
    city.clean()
    city.advance(seconds=1)
    assert city.rules() == [RULE]


def test_a_fix_synced_late_is_silent_from_when_the_ledger_heard_it() -> None:
    city, shipped, begun = _shipped()
    fix, synced = begun + timedelta(minutes=20), begun + timedelta(hours=1)
    city.event("waypoint", "carrier", ["DRUM-1"], {"ship": shipped}, at=fix, log_at=synced,
               geo={"lat": "39.8", "lon": "116.1"})  # fmt: skip
    _until(city, fix + SILENCE + timedelta(seconds=1))
    city.clean()
    _until(city, synced + SILENCE)
    city.clean()
    city.advance(seconds=1)
    assert city.rules() == [RULE]
    assert "since 2026-03-02T08:20:00Z" in city.found[0].message


def test_a_receive_by_the_consignee_before_the_silence_is_fine() -> None:
    city, shipped, begun = _shipped()
    city.track(["DRUM-1"], shipped, begun, FIXES, total=EN_ROUTE)
    city.receive(["DRUM-1"], shipped, at=begun + timedelta(hours=2))
    city.advance(days=3)
    city.clean()


def test_a_partial_receipt_ends_the_trip_and_leaves_the_rest_to_transit_overdue() -> None:
    city, shipped, begun = _shipped(T0, "DRUM-1", "DRUM-2")
    city.track(["DRUM-1", "DRUM-2"], shipped, begun, FIXES, total=EN_ROUTE)
    city.receive(["DRUM-1"], shipped, at=begun + timedelta(hours=2))
    city.advance(days=1)
    assert city.rules() == ["custody.transit_overdue"]


def test_a_wrong_receiver_locates_the_goods() -> None:
    city, shipped, begun = _shipped()
    city.track(["DRUM-1"], shipped, begun, FIXES, total=EN_ROUTE)
    city.receive(["DRUM-1"], shipped, org="clinic", site="lab", at=begun + timedelta(hours=2))
    city.advance(days=1)
    assert city.rules() == ["custody.wrong_receiver", "custody.transit_overdue"]


def test_a_gap_the_track_recovers_from_is_a_gps_gap_not_a_lost_track() -> None:
    city, shipped, begun = _shipped()
    city.track(["DRUM-1"], shipped, begun, [20.0, 100.0], total=EN_ROUTE)  # 80 min without a fix
    city.receive(["DRUM-1"], shipped, at=begun + timedelta(hours=2))
    city.advance(days=1)
    assert city.rules() == ["transport.gps_gap"]


def test_a_track_that_goes_silent_at_the_consignee_s_gate_is_not_lost() -> None:
    # the vehicle arrived (last fix within the arrival radius); the missing receive is
    # custody.transit_overdue's, not a lost track
    city, shipped, begun = _shipped()
    city.track(["DRUM-1"], shipped, begun, FIXES)
    _until(city, begun + timedelta(minutes=100) + SILENCE + timedelta(seconds=1))
    city.clean()
