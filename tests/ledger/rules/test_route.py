"""transport.route_deviation: GPS fixes outside the waybill's planned corridor.

The planned route runs plant -> (39.80, 116.00) -> (39.80, 116.20) -> lab. Fixes are put
due north of the east-west leg, where the distance to the route is the arc of latitude.
"""

from __future__ import annotations

import math
from datetime import timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

import pytest

from ledger.errors import MalformedEventError
from ledger.events import Ship, parse_body
from ledger.rules.route import offset_m
from ledger.rules.world import EARTH_RADIUS_KM
from tests.ledger.rules.scenario import DRIVER, ESCORT, City, site_point

RULE = "transport.route_deviation"
LEG_LAT = Decimal("39.80")


def _route(corridor_m: str | None = None) -> dict[str, Any]:
    plant, lab = site_point("plant"), site_point("lab")
    points = [plant, (LEG_LAT, Decimal("116.00")), (LEG_LAT, Decimal("116.20")), lab]
    route: dict[str, Any] = {"points": [{"lat": str(a), "lon": str(b)} for a, b in points]}
    if corridor_m is not None:
        route["corridor_m"] = corridor_m
    return route


def _ship(city: City, route: dict[str, Any] | None) -> str:
    data: dict[str, Any] = {"carrier": "carrier", "consignee": "user", "consignee_site": "lab",
                            "vehicle": "truck", "driver": DRIVER, "escort": ESCORT,
                            "waybill_no": "WB-1"}  # fmt: skip
    if route is not None:
        data["route"] = route
    return city.event("ship", "maker", ["DRUM-1"], data, site="plant", v=2)


def _north_of_leg(metres: float, lon: str = "116.10") -> dict[str, str]:
    degrees = Decimal(metres / 1000 * 180 / (math.pi * EARTH_RADIUS_KM))
    lat = LEG_LAT + degrees.quantize(Decimal("0.000000001"), rounding=ROUND_DOWN)
    return {"lat": str(lat), "lon": lon}


def _trip(route: dict[str, Any] | None, *fixes: dict[str, str]) -> tuple[City, str, list[str]]:
    city = City()
    city.commission("DRUM-1")
    shipped = _ship(city, route)
    start = city.clock
    points = [city.waypoint(["DRUM-1"], shipped, start + timedelta(minutes=20 * (i + 1)), fix)
              for i, fix in enumerate(fixes)]  # fmt: skip
    return city, shipped, points


@pytest.mark.parametrize(("metres", "fires"), [(499.0, False), (500.0, False), (501.0, True)])
def test_a_fix_is_judged_against_the_default_500_m_corridor(metres: float, *, fires: bool) -> None:
    city, shipped, (fix,) = _trip(_route(), _north_of_leg(metres))
    if not fires:
        city.clean()
        return
    found = city.only(RULE)
    assert found.evidence == (shipped, fix)
    assert (found.org, found.site, found.item) == ("carrier", "lab", "DRUM-1")
    assert "501 m" in found.message


@pytest.mark.parametrize(("metres", "fires"), [(1999.0, False), (2000.0, False), (2001.0, True)])
def test_the_waybill_s_own_corridor_replaces_the_default(metres: float, *, fires: bool) -> None:
    city, _, _ = _trip(_route("2000"), _north_of_leg(metres))
    assert city.rules() == ([RULE] if fires else [])


def test_a_trip_that_leaves_twice_is_one_finding_at_the_first_fix_outside() -> None:
    city, shipped, fixes = _trip(_route(), _north_of_leg(100), _north_of_leg(800),
                                 _north_of_leg(3000))  # fmt: skip
    assert city.only(RULE).evidence == (shipped, fixes[1])


def test_a_fix_beyond_the_route_s_end_is_measured_to_the_end() -> None:
    lat, lon = site_point("plant")
    west = {"lat": str(lat), "lon": str(lon - Decimal("0.01"))}  # ~856 m west of the start
    city, _, _ = _trip(_route(), west)
    assert city.rules() == [RULE]


def test_fixes_along_the_route_are_fine() -> None:
    lab = site_point("lab")
    city, _, _ = _trip(_route(), _north_of_leg(0, "116.00"), _north_of_leg(300, "116.15"),
                       {"lat": str(lab[0]), "lon": str(lab[1])})  # fmt: skip
    city.clean()


def test_a_shipment_without_a_planned_route_is_not_judged() -> None:
    city, _, _ = _trip(None, _north_of_leg(5000))
    city.clean()


def test_offset_is_the_perpendicular_distance_on_a_leg() -> None:
    leg = [(39.8, 116.0), (39.8, 116.2)]
    arc = 1000 * math.pi * EARTH_RADIUS_KM / 180  # metres per degree of latitude
    assert offset_m((39.8 + 1 / arc * 250, 116.1), leg) == pytest.approx(250, abs=1e-6)
    assert offset_m((39.8, 116.1), leg) == pytest.approx(0, abs=1e-9)


# -- the route field: ship body version 2 ---------------------------------------------------------


def _body(v: int, route: dict[str, Any] | None) -> dict[str, Any]:
    data: dict[str, Any] = {"carrier": "carrier", "consignee": "user", "consignee_site": "lab"}
    if route is not None:
        data["route"] = route
    return {"v": v, "type": "ship", "time": "2026-03-02T08:00:00Z", "org": "maker",
            "device_key": "0" * 32, "actor": "sha256:" + "a" * 64,
            "items": [{"code": "DRUM-1", "seq": 1, "prev": "sha256:" + "1" * 64}],
            "catalog_version": "2026-draft.1", "data": data}  # fmt: skip


def test_a_v2_ship_carries_a_route_and_a_v1_ship_cannot() -> None:
    parsed = parse_body(_body(2, _route("750")))
    assert isinstance(parsed, Ship)
    assert parsed.data.route is not None
    assert parsed.data.route.corridor_m == "750"
    assert isinstance(parse_body(_body(1, None)), Ship)
    assert isinstance(parse_body(_body(2, None)), Ship)
    with pytest.raises(MalformedEventError, match="version 2"):
        parse_body(_body(1, _route()))
    with pytest.raises(MalformedEventError):
        parse_body(_body(3, None))


def test_a_route_needs_two_points_and_a_decimal_corridor() -> None:
    one = {"points": [{"lat": "39.8", "lon": "116.0"}]}
    with pytest.raises(MalformedEventError) as short:
        parse_body(_body(2, one))
    assert short.value.context["field"] == "ship.data.route.points"
    with pytest.raises(MalformedEventError) as negative:
        parse_body(_body(2, {**_route(), "corridor_m": "-5"}))
    assert negative.value.context["field"] == "ship.data.route.corridor_m"


def test_the_builder_signs_a_routed_ship_as_v2_and_anything_else_as_v1() -> None:
    from ledger.builder import DeviceSession
    from ledger.signing import Ed25519Signer

    session = DeviceSession(Ed25519Signer.generate(), "maker", "sha256:" + "a" * 64, "2026-draft.1")
    for code in ("DRUM-1", "DRUM-2", "DRUM-3"):
        session.learn(code, 3, b"\x01" * 32)
    data: dict[str, Any] = {"carrier": "carrier", "consignee": "user", "consignee_site": "lab"}
    routed = session.event(
        "ship", ["DRUM-1"], {**data, "route": _route()}, time="2026-03-02T08:00:00Z"
    )
    plain = session.event("ship", ["DRUM-2"], data, time="2026-03-02T08:00:00Z")
    used = session.event("use", ["DRUM-3"], {"quantity": {"value": "1", "unit": "kg"}},
                         time="2026-03-02T08:00:00Z")  # fmt: skip
    bodies = [envelope["body"] for envelope in (routed, plain, used)]
    assert all(isinstance(body, dict) for body in bodies)
    assert [body["v"] for body in bodies if isinstance(body, dict)] == [2, 1, 1]
    first = bodies[0]
    assert isinstance(first, dict)
    assert isinstance(parse_body(first), Ship)
