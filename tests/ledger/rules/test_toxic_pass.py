"""transport.toxic_pass_missing: a 剧毒 road shipment needs a valid pass (R-TOX-7).

The scenario city gives the producer a standing pass for everything; each test here
revokes it first and registers the pass it means to test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ledger.timefmt import format_utc
from tests.ledger.rules.scenario import City

RULE = "transport.toxic_pass_missing"


def _city(value: str = "50", unit: str = "kg", **pass_attrs: Any) -> City:
    city = City()
    city.permit("pass-maker", kind="transport_permit", org="maker", chemicals=["all"],
                status="revoked")  # fmt: skip
    if pass_attrs:
        pass_attrs.setdefault("kind", "transport_permit")
        pass_attrs.setdefault("org", "maker")
        pass_attrs.setdefault("chemicals", ["25"])
        city.permit("pass-1", **pass_attrs)
    city.commission("DRUM-1", chemical="25.1", value=value, unit=unit)
    return city


def test_cyanide_shipped_with_no_pass_is_critical() -> None:
    city = _city()
    shipped = city.ship(["DRUM-1"])
    found = city.only(RULE)
    assert found.evidence == (shipped,)
    assert (found.org, found.site, found.item, found.chemical) == ("maker", "plant", "DRUM-1", "25")
    assert found.severity == "critical"
    assert "revoked" in found.message  # the standing pass was revoked


def test_a_chemical_that_is_not_highly_toxic_needs_no_pass() -> None:
    city = City()  # no cyanide at the plant: 剧毒 beside other goods is a segregation finding
    city.permit("pass-maker", kind="transport_permit", org="maker", chemicals=["all"],
                status="revoked")  # fmt: skip
    city.commission("DRUM-2", chemical="33.1")
    city.ship(["DRUM-2"])
    city.clean()


def test_a_pass_for_the_chemical_the_consignee_and_the_quantity_is_fine() -> None:
    city = _city(quantity="50", counterparty="user")
    city.ship(["DRUM-1"])
    city.clean()


@pytest.mark.parametrize(
    ("value", "unit", "limit", "fires"),
    [
        ("50", "kg", "50", False),
        ("50", "kg", "49.999", True),
        ("50", "kg", "50.001", False),
        ("50000", "g", "50", False),
        ("50001", "g", "50", True),
        ("0.05", "t", "50", False),
        ("0.050001", "t", "50", True),
    ],
)
def test_the_shipped_mass_may_not_exceed_the_pass(
    value: str, unit: str, limit: str, *, fires: bool
) -> None:
    city = _city(value, unit, quantity=limit)
    city.ship(["DRUM-1"])
    assert city.rules() == ([RULE] if fires else [])
    if fires:
        assert f"allows {limit} kg" in city.found[0].message


def test_two_drums_count_together_against_the_pass() -> None:
    city = _city("30", quantity="50")
    city.commission("DRUM-2", chemical="25.1", value="30")
    city.ship(["DRUM-1", "DRUM-2"])
    assert "60 kg" in city.only(RULE).message


def _ship_at(city: City, moment: datetime) -> None:
    city.clock = moment - timedelta(minutes=10)
    city.ship(["DRUM-1"])


# 2026-03-02T16:00Z is midnight in Beijing: the pass's validity is an instant, not a date.
MIDNIGHT = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("offset", "fires"), [(timedelta(seconds=-1), True), (timedelta(0), False),
                          (timedelta(seconds=1), False)],
)  # fmt: skip
def test_a_pass_is_valid_from_its_first_instant(offset: timedelta, *, fires: bool) -> None:
    city = _city(valid_from=format_utc(MIDNIGHT))
    _ship_at(city, MIDNIGHT + offset)
    assert city.rules() == ([RULE] if fires else [])


@pytest.mark.parametrize(
    ("offset", "fires"), [(timedelta(seconds=-1), False), (timedelta(0), True),
                          (timedelta(seconds=1), True)],
)  # fmt: skip
def test_a_pass_ends_at_its_valid_until(offset: timedelta, *, fires: bool) -> None:
    city = _city(valid_until=format_utc(MIDNIGHT))
    _ship_at(city, MIDNIGHT + offset)
    assert city.rules() == ([RULE] if fires else [])
    if fires:
        assert "not valid at the ship time" in city.found[0].message


def test_the_carrier_s_pass_will_do_but_the_consignee_s_will_not() -> None:
    city = _city(org="carrier")
    city.ship(["DRUM-1"])
    city.clean()
    other = _city(org="user")
    other.ship(["DRUM-1"])
    assert other.rules() == [RULE]


def test_a_pass_for_delivery_elsewhere_does_not_cover_the_shipment() -> None:
    city = _city(counterparty="clinic")
    city.ship(["DRUM-1"])
    assert "for delivery to clinic" in city.only(RULE).message


def test_a_pass_for_another_chemical_or_of_another_kind_does_not_count() -> None:
    city = _city(chemicals=["16"])
    city.ship(["DRUM-1"])
    assert city.rules() == [RULE]
    other = _city(kind="purchase_permit")
    other.ship(["DRUM-1"])
    assert other.rules() == [RULE]
