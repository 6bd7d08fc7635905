"""custody.unshipped_move: the holder acts on an item at another place with no shipment.

The threshold is ``shipping.unshipped_move_km`` (0.5 km). Sites and fixes are placed due
north of the lab, where a haversine distance is exactly the arc of latitude.
"""

from __future__ import annotations

import math
from datetime import timedelta
from decimal import ROUND_DOWN, Decimal

import pytest

from ledger.rules.world import EARTH_RADIUS_KM, distance_km
from tests.ledger.rules.scenario import City, delivered, site_point

RULE = "custody.unshipped_move"


def _north(metres: float) -> tuple[str, str]:
    """(lat, lon) ``metres`` due north of the lab, never further (rounded down)."""
    lat, lon = site_point("lab")
    degrees = Decimal(metres / 1000 * 180 / (math.pi * EARTH_RADIUS_KM))
    return str(lat + degrees.quantize(Decimal("0.000000001"), rounding=ROUND_DOWN)), str(lon)


def _site(city: City, name: str, metres: float, org: str = "user") -> None:
    lat, lon = _north(metres)
    city.record("site", name, org=org, name=name, address="2 Road", district="haidian",
                lat=lat, lon=lon, capacity_t="10", major_hazard=False)  # fmt: skip
    lab_lat, lab_lon = site_point("lab")
    km = distance_km((float(lab_lat), float(lab_lon)), (float(lat), float(lon)))
    assert metres / 1000 - 1e-6 < km <= metres / 1000


@pytest.mark.parametrize(("metres", "fires"), [(499.0, False), (500.0, False), (501.0, True)])
def test_the_holder_using_an_item_at_its_other_site_is_judged_at_half_a_km(
    metres: float, *, fires: bool
) -> None:
    city, received = delivered()
    _site(city, "store-b", metres)
    used = city.use("DRUM-1", "1", site="store-b")
    if not fires:
        city.clean()
        return
    found = city.only(RULE)
    assert found.evidence == (received, used)
    assert (found.org, found.site, found.item, found.chemical) == (
        "user",
        "store-b",
        "DRUM-1",
        "33",
    )
    assert "site lab" in found.message


@pytest.mark.parametrize(("metres", "fires"), [(499.0, False), (501.0, True)])
def test_a_count_by_the_holder_located_only_by_gps_is_judged_too(
    metres: float, *, fires: bool
) -> None:
    city, _ = delivered()
    lat, lon = _north(metres)
    city.event("stock_count", "user", ["DRUM-1"],
               {"count_id": "C-1", "quantity": {"value": "20", "unit": "kg"}},
               geo={"lat": lat, "lon": lon})  # fmt: skip
    assert city.rules() == ([RULE] if fires else [])


def test_a_store_in_at_a_depot_27_km_away_at_night_in_beijing_is_found_once() -> None:
    city, _ = delivered()
    night = city.clock.replace(hour=17, minute=30) + timedelta(days=1)  # 01:30 Beijing
    city.event("store_in", "user", ["DRUM-1"], {}, site="depot", at=night)
    city.event("store_out", "user", ["DRUM-1"], {}, site="depot", at=night + timedelta(hours=1))
    found = city.only(RULE)
    assert found.site == "depot"
    assert found.at.startswith("2026-03-03T17:30:00")


def test_the_holder_at_the_annex_next_door_is_one_premises() -> None:
    city, _ = delivered()
    city.use("DRUM-1", "1", site="lab-annex")  # 80 m away
    city.clean()


def test_a_delivered_item_used_where_it_was_delivered_is_fine() -> None:
    city, _ = delivered(to="store", to_site="depot")
    city.event("store_in", "store", ["DRUM-1"], {}, site="depot")
    city.clean()


def test_a_sale_recorded_at_the_office_is_paperwork_not_a_move() -> None:
    city = City()
    city.commission("CYL-1", chemical="17.1", packaging="cylinder")
    city.sell(["CYL-1"], to="clinic", site="office")
    city.clean()


# -- precedence -----------------------------------------------------------------------------------


def test_another_org_acting_elsewhere_is_double_holder_only() -> None:
    city, _ = delivered()
    city.use("DRUM-1", "1", org="clinic", site="ward")
    assert city.rules() == ["custody.double_holder"]


def test_a_move_faster_than_any_vehicle_is_a_clone_only() -> None:
    city, _ = delivered()
    city.use("DRUM-1", "1", site="shanghai", at=city.at(hours=1))  # 1080 km in 1 h
    assert city.rules() == ["clone.impossible_travel"]


def test_a_move_in_transit_is_not_judged_here() -> None:
    city = City()
    city.commission("DRUM-1")
    shipped = city.ship(["DRUM-1"])
    city.event("store_in", "carrier", ["DRUM-1"], {}, site="yard")
    assert RULE not in city.rules()
    assert shipped
