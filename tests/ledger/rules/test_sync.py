"""Offline handhelds: deadlines judge signed times within the device clock trust window,
and ``device.late_sync`` reports late syncs and supersedes what they explain.

Plant to lab allows 26505 s; the ship is logged 5 s after it is signed, and its timer
fires 5 s after the allowance ends. The trust window is 72 h.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.events import EventBody
from ledger.rules.facts import EventFact, EventView
from ledger.timefmt import format_utc
from tests.ledger.rules.scenario import DRIVER, ESCORT, City, rules_config

WINDOW = timedelta(hours=72)
SECOND = timedelta(seconds=1)


def _shipment(*codes: str, city: City | None = None) -> tuple[City, str, datetime]:
    """A tracked shipment of ``codes``; and its due time."""
    city = city or City()
    for code in codes:
        city.commission(code)
    shipped = city.ship(list(codes))
    transit = next(due for due, kind, _ in city.engine.pending() if kind == "transit")
    due = datetime.fromtimestamp(transit, UTC) - timedelta(seconds=5)
    city.track(list(codes), shipped, city.clock, [20.0 * step for step in range(1, 23)])
    return city, shipped, due


def _until(city: City, moment: datetime) -> None:
    city.clock = max(city.clock, moment)
    city.found += city.engine.advance(moment)


def test_a_receive_signed_in_time_and_synced_after_the_deadline_supersedes_the_finding() -> None:
    city, shipped, due = _shipment("DRUM-1")
    synced = due + timedelta(days=2)
    _until(city, synced)
    raised = city.only("custody.transit_overdue")
    received = city.receive(["DRUM-1"], shipped, at=due - timedelta(minutes=1), log_at=synced)
    _until(city, synced + timedelta(days=3))

    assert city.rules() == ["custody.transit_overdue", "device.late_sync"], city.describe()
    late = city.found[1]
    assert late.supersedes == (raised.id,)
    assert late.severity == "low" and late.evidence == (received,)
    assert (late.org, late.site, late.item) == ("user", "lab", "DRUM-1")
    assert late.to_json()["supersedes"] == [raised.id]


def test_a_receive_signed_in_time_and_synced_before_the_timer_fires_is_quiet() -> None:
    city, shipped, due = _shipment("DRUM-1")
    city.receive(["DRUM-1"], shipped, at=due - timedelta(minutes=1), log_at=due + 4 * SECOND)
    _until(city, due + timedelta(days=5))
    city.clean()


@pytest.mark.parametrize(
    ("signed", "rules"),
    [
        (timedelta(0), ["custody.transit_overdue", "device.late_sync"]),  # exactly on time
        (SECOND, ["custody.transit_overdue"]),  # a second late: the breach stands
    ],
)
def test_a_late_synced_receive_supersedes_only_if_it_was_in_time(
    signed: timedelta, rules: list[str]
) -> None:
    city, shipped, due = _shipment("DRUM-1")
    _until(city, due + timedelta(hours=1))
    city.receive(["DRUM-1"], shipped, at=due + signed, log_at=due + timedelta(hours=1))
    _until(city, due + timedelta(days=5))
    assert city.rules() == rules, city.describe()
    assert all(not f.supersedes for f in city.found if f.rule != "device.late_sync")


@pytest.mark.parametrize(
    ("lag", "beyond"), [(WINDOW - SECOND, False), (WINDOW, False), (WINDOW + SECOND, True)]
)
def test_the_trust_window_bounds_how_late_a_signed_time_is_believed(
    lag: timedelta, beyond: bool
) -> None:
    city, shipped, due = _shipment("DRUM-1")
    signed = due - timedelta(hours=2)
    _until(city, signed + lag)
    city.receive(["DRUM-1"], shipped, at=signed, log_at=signed + lag)
    _until(city, signed + lag + timedelta(days=1))

    # inside the window or just beyond it the receive is believed in time (beyond it,
    # it counts as signed at the window's edge: 2 h - 1 s before the due time)
    assert city.rules() == ["custody.transit_overdue", "device.late_sync"], city.describe()
    late = city.of("device.late_sync")[0]
    assert late.supersedes == (city.of("custody.transit_overdue")[0].id,)
    assert ("beyond the 72-hour device clock trust window" in late.message) is beyond


def test_a_sync_far_beyond_the_window_is_a_late_sync_and_the_breach_stands() -> None:
    city, shipped, due = _shipment("DRUM-1")
    signed = due - timedelta(hours=2)
    synced = signed + WINDOW + timedelta(hours=3)  # counts as signed 1 h after the due time
    _until(city, synced)
    city.receive(["DRUM-1"], shipped, at=signed, log_at=synced)
    _until(city, synced + timedelta(days=1))

    assert city.rules() == ["custody.transit_overdue", "device.late_sync"], city.describe()
    late = city.of("device.late_sync")[0]
    assert late.supersedes == () and late.severity == "low"
    assert "beyond the 72-hour" in late.message


def test_a_device_clock_running_ahead_counts_as_the_log_time() -> None:
    city, shipped, due = _shipment("DRUM-1")
    # signed "five minutes late" by a clock that runs ahead, but logged before the due time
    city.receive(["DRUM-1"], shipped, at=due + timedelta(minutes=5), log_at=due - SECOND)
    _until(city, due + timedelta(days=5))
    city.clean()


def test_a_shipment_signed_in_the_future_gets_no_longer_allowance() -> None:
    city = City()
    city.commission("DRUM-1")
    shipped_at = city.at(minutes=10)
    shipped = city.event("ship", "maker", ["DRUM-1"], {
        "carrier": "carrier", "consignee": "user", "consignee_site": "lab", "vehicle": "truck",
        "driver": DRIVER, "escort": ESCORT, "waybill_no": "WB-1"}, site="plant",
        at=shipped_at + timedelta(days=1), log_at=shipped_at)  # fmt: skip
    allowance = timedelta(seconds=26505)
    city.track(["DRUM-1"], shipped, shipped_at, [20.0 * step for step in range(1, 23)])
    city.receive(["DRUM-1"], shipped, at=shipped_at + allowance + SECOND,
                 log_at=shipped_at + allowance + 2 * SECOND)  # fmt: skip
    assert city.rules() == ["custody.transit_overdue"], city.describe()


def test_a_late_sync_by_another_organisation_supersedes_nothing() -> None:
    city, shipped, due = _shipment("DRUM-1")
    _until(city, due + timedelta(hours=1))
    city.receive(["DRUM-1"], shipped, org="clinic", site="ward", at=due - SECOND,
                 log_at=due + timedelta(hours=1))  # fmt: skip
    assert "device.late_sync" not in city.rules()
    assert "custody.transit_overdue" in city.rules()


def test_a_split_shipment_is_superseded_once_every_missing_item_is_explained() -> None:
    city, shipped, due = _shipment("DRUM-1", "DRUM-2")
    _until(city, due + timedelta(hours=1))
    city.receive(["DRUM-1"], shipped, at=due - SECOND, log_at=due + timedelta(hours=1))
    assert city.rules() == ["custody.transit_overdue"]
    city.receive(["DRUM-2"], shipped, at=due, log_at=due + timedelta(hours=2))
    assert city.rules() == ["custody.transit_overdue", "device.late_sync"]
    assert city.found[1].supersedes == (city.found[0].id,)


def test_a_split_shipment_with_one_late_item_stays_a_breach() -> None:
    city, shipped, due = _shipment("DRUM-1", "DRUM-2")
    _until(city, due + timedelta(hours=1))
    city.receive(["DRUM-1"], shipped, at=due + SECOND, log_at=due + timedelta(hours=1))
    city.receive(["DRUM-2"], shipped, at=due, log_at=due + timedelta(hours=2))
    assert city.rules() == ["custody.transit_overdue"]


def test_any_event_synced_beyond_the_window_is_a_late_sync() -> None:
    city = City()
    city.commission("DRUM-1")
    used = city.use("DRUM-1", "1", org="maker", site="plant", at=city.clock,
                    log_at=city.clock + WINDOW + SECOND)  # fmt: skip
    assert city.only("device.late_sync").evidence == (used,)


def test_an_event_synced_at_the_windows_edge_is_quiet() -> None:
    city = City()
    city.commission("DRUM-1")
    city.use("DRUM-1", "1", org="maker", site="plant", at=city.clock,
             log_at=city.clock + WINDOW)  # fmt: skip
    city.clean()


def test_the_trust_window_is_configured() -> None:
    city = City(config=rules_config(device={"clock_trust_hours": "1"}))
    city.commission("DRUM-1")
    city.use("DRUM-1", "1", org="maker", site="plant", at=city.clock,
             log_at=city.clock + timedelta(hours=1, seconds=1))  # fmt: skip
    assert "beyond the 1-hour" in city.only("device.late_sync").message


@given(lag_s=st.integers(-10 * 86400, 10 * 86400), window_s=st.integers(0, 10 * 86400))
def test_the_trusted_time_is_the_signed_time_clamped_into_the_window(
    lag_s: int, window_s: int
) -> None:
    """``lag_s``: how long after it was signed the event was logged (negative: clock ahead)."""
    logged = datetime(2026, 3, 4, 16, 0, tzinfo=UTC)
    signed = logged - timedelta(seconds=lag_s)
    fact = EventFact(1, format_utc(logged), "sha256:" + "0" * 64, _any_body())
    view = EventView(fact, signed, {}, {}, {}, clock_trust_s=float(window_s))
    trusted = view.trusted
    assert logged.timestamp() - window_s <= trusted <= logged.timestamp() == view.known
    if 0 <= lag_s <= window_s:
        assert trusted == signed.timestamp()
    elif lag_s < 0:
        assert trusted == logged.timestamp()
    else:
        assert trusted == logged.timestamp() - window_s


def _any_body() -> EventBody:
    city = City()
    city.commission("DRUM-1")
    fact = city.facts[-1]
    assert isinstance(fact, EventFact)
    return fact.body
