"""``transport.route_deviation``: a GPS fix outside the waybill's planned corridor. Pure.

Source: 危险货物道路运输安全管理办法 (交通运输部令2019年第29号): the carrier prepares a
waybill for each trip (Art. 24, R-TRN-1), whose trip part names the route (R-TRN-4,
domain-rules §2.5), and 剧毒 goods travel by the route their pass names (危险化学品安全管理
条例 Art. 50, R-TOX-7). A ship event (body v2) may carry that route as ``data.route``: a
polyline and the corridor half-width either side of it (``corridor_m``; absent: the
configured default). Each waypoint of the shipment is judged against it; the first fix
outside raises one finding per shipment, naming how far out it was. A fix exactly at the
corridor's edge is inside.

Distances use a local equirectangular projection centred on the fix: for corridors of
hundreds of metres to a few km and route legs up to some tens of km at Beijing's latitude
its error is far below GPS noise; a route should place a vertex at least every ~50 km.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence

from ledger.events import Ship, Waypoint
from ledger.rules.facts import EventView
from ledger.rules.findings import Finding
from ledger.rules.state import RuleState
from ledger.rules.world import EARTH_RADIUS_KM

EARTH_RADIUS_M = EARTH_RADIUS_KM * 1000

Point = tuple[float, float]
"""(lat, lon) in degrees."""


def on_ship(st: RuleState, ev: EventView) -> None:
    """Keep the planned route on the open shipment (after ``custody.on_ship`` opened it)."""
    body = ev.body
    assert isinstance(body, Ship)
    route, ship = body.data.route, st.ships.get(ev.hash)
    if route is None or ship is None:
        return
    ship.route = tuple((float(p.lat), float(p.lon)) for p in route.points)
    width = route.corridor_m or st.config.shipping.corridor_m
    ship.corridor_m = float(width)


def on_waypoint(st: RuleState, ev: EventView) -> Iterator[Finding | None]:
    body = ev.body
    assert isinstance(body, Waypoint)
    assert body.geo is not None
    ship = st.ships.get(body.data.ship)
    if ship is None or not ship.route:
        return
    fix = (float(body.geo.lat), float(body.geo.lon))
    off = offset_m(fix, ship.route)
    if off <= ship.corridor_m:
        return
    codes = sorted(link.code for link in body.items)
    chemical = ev.before[codes[0]].chemical if codes else None
    yield st.finding(
        "transport.route_deviation", ship.hash, body.time,
        f"the trip from {ship.org} to {ship.consignee} left its planned route: a fix "
        f"{off:.0f} m from it (corridor {ship.corridor_m:.0f} m)",
        (ship.hash, ev.hash), org=ship.carrier, site=ship.consignee_site,
        item=codes[0] if codes else None, chemical=chemical,
    )  # fmt: skip


def offset_m(fix: Point, line: Sequence[Point]) -> float:
    """The distance in metres from ``fix`` to the polyline ``line`` (>= 2 vertices)."""
    lat0 = math.radians(fix[0])
    scale = math.cos(lat0)

    def local(p: Point) -> tuple[float, float]:
        dx = math.radians(p[1] - fix[1]) * scale * EARTH_RADIUS_M
        dy = math.radians(p[0] - fix[0]) * EARTH_RADIUS_M
        return dx, dy

    projected = [local(p) for p in line]
    return min(_to_segment(a, b) for a, b in itertools.pairwise(projected))


def _to_segment(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Distance from the origin to segment ab."""
    (ax, ay), (bx, by) = a, b
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, -(ax * dx + ay * dy) / length2))
    return math.hypot(ax + t * dx, ay + t * dy)
