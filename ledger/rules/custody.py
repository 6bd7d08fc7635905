"""Shipments: transit deadlines, the consignee check, and the trip's track (R-TRN-1..5). Pure.

- ``custody.transit_overdue``: a shipment not (fully) received within the expected transit
  time, from the road distance between the origin and the consignee's site at a
  configured speed, plus slack. A deadline fires it when no receive arrives at all. Both
  the shipment and the receive are judged at their trusted (signed) times, so a receive
  signed in time but synced after the deadline fired supersedes that finding
  (``device.late_sync``).
- ``custody.wrong_receiver``: a receive by anyone but the consignee (the sender and the
  carrier included), or against a shipment the item is not part of. A receive by anyone
  but the consignee does not deliver: the shipment stays open to the consignee, so its
  missing receive still raises ``custody.transit_overdue`` (R-TRN-1: the waybill names
  the consignee the goods are owed to). The ledger's custody follows the signed receive
  (``ledger.custody.advance``: the receiver holds, the consignee's involvement ends), so
  the goods reach the consignee only by a new shipment, and the old one is overdue once.
- ``transport.gps_gap``: a gap between the trip's start, its waypoints and its end
  longer than the configured threshold.
- ``transport.arrival_far``: a receive further than the radius from the consignee's site.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator

from ledger.events import Receive, Return, Ship, Waypoint
from ledger.rules.facts import EventView
from ledger.rules.findings import Finding
from ledger.rules.state import OpenShip, RuleState, utc_text
from ledger.rules.world import distance_km

TRANSIT = "transit"


def on_ship(st: RuleState, ev: EventView) -> None:
    body = ev.body
    assert isinstance(body, Ship)
    data, rules = body.data, st.config.transport
    origin = _origin(st, ev)
    target = st.registry.site_point(data.consignee_site)
    if origin is None or target is None:
        hours = float(rules.default_transit_hours)
    else:
        road_km = distance_km(origin, target) * float(rules.road_factor)
        hours = road_km / float(rules.speed_kmh) + float(rules.slack_hours)
    allowance = math.ceil(hours * 3600)
    codes = {link.code for link in body.items}
    ship = OpenShip(
        hash=ev.hash, time=ev.time.timestamp(), org=body.org, carrier=data.carrier,
        consignee=data.consignee, consignee_site=data.consignee_site,
        due=ev.trusted + allowance, pending=codes, total=len(codes),
    )  # fmt: skip
    st.ships[ev.hash] = ship
    for code in codes:
        track = st.items[code]
        track.ship, track.consignee = ev.hash, data.consignee
    st.schedule(ev.known + allowance, TRANSIT, ev.hash)


def on_return(st: RuleState, ev: EventView) -> None:
    """A return travels like a shipment to the organisation it goes back to."""
    body = ev.body
    assert isinstance(body, Return)
    codes = {link.code for link in body.items}
    allowance = math.ceil(float(st.config.transport.default_transit_hours) * 3600)
    st.ships[ev.hash] = OpenShip(
        hash=ev.hash, time=ev.time.timestamp(), org=body.org, carrier=body.org,
        consignee=body.data.to_org, consignee_site=None, due=ev.trusted + allowance,
        pending=codes, total=len(codes), checked_track=True,
    )  # fmt: skip
    for code in codes:
        track = st.items[code]
        track.ship, track.consignee = ev.hash, body.data.to_org
    st.schedule(ev.known + allowance, TRANSIT, ev.hash)


def on_waypoint(st: RuleState, ev: EventView) -> None:
    body = ev.body
    assert isinstance(body, Waypoint)
    ship = st.ships.get(body.data.ship)
    if ship is not None:
        ship.waypoints.append(ev.time.timestamp())


def on_receive(st: RuleState, ev: EventView) -> Iterator[Finding | None]:
    body = ev.body
    assert isinstance(body, Receive)
    codes = {link.code for link in body.items}
    chemical = ev.before[body.items[0].code].chemical
    ship = st.ships.get(body.data.ship)
    if ship is None or not codes & ship.pending:
        yield st.finding(
            "custody.wrong_receiver", ev.hash, body.time,
            f"{body.org} received item(s) {', '.join(sorted(codes))} against a shipment "
            "they are not open on",
            (body.data.ship, ev.hash), org=body.org, site=body.site, item=min(codes),
            chemical=chemical,
        )  # fmt: skip
        return
    if body.org != ship.consignee:
        # Not a delivery: the goods are still owed to the consignee, so the shipment stays
        # open and its transit deadline still runs (the projection records the receiver
        # as holder, because that is who signed for the goods; the finding says it is not
        # the right one). The track and arrival checks belong to the consignee's receive.
        ship.received_any = True
        yield st.finding(
            "custody.wrong_receiver", ev.hash, body.time,
            f"{body.org} received a shipment consigned to {ship.consignee}",
            (ship.hash, ev.hash), org=body.org, site=body.site, item=min(codes & ship.pending),
            chemical=chemical,
        )  # fmt: skip
        return
    received = codes & ship.pending
    ship.pending -= received
    ship.received_any = True
    for code in received:
        st.items[code].consignee = None
        st.items[code].handed_by = ship.org
    stray = sorted(code for code in codes - received
                   if (track := st.items.get(code)) is None or track.ship != ship.hash)  # fmt: skip
    if stray:
        yield st.finding(
            "custody.wrong_receiver", ev.hash, body.time,
            f"{body.org} received item(s) {', '.join(stray)} against a shipment they are "
            "not part of",
            (ship.hash, ev.hash), org=body.org, site=body.site, item=stray[0],
            chemical=chemical,
        )  # fmt: skip
    now = ev.trusted
    _explain(ship, ev, received, late=now > ship.due)
    if now > ship.due:
        yield st.finding(
            "custody.transit_overdue", ship.hash, body.time,
            f"shipment from {ship.org} to {ship.consignee} arrived "
            f"{(now - ship.due) / 3600:.1f} h after its expected transit time",
            (ship.hash, ev.hash), org=ship.carrier, site=ship.consignee_site,
            item=min(received), chemical=chemical,
        )  # fmt: skip
    yield from _track(st, ev, ship, ev.time.timestamp(), chemical)
    yield from _arrival(st, ev, ship, chemical)
    if not ship.pending:
        del st.ships[ship.hash]


def fire_transit(st: RuleState, key: str, due: float) -> Iterator[Finding | None]:
    ship = st.ships.get(key)
    if ship is None or not ship.pending:
        return
    missing = len(ship.pending)
    found = st.finding(
        "custody.transit_overdue", ship.hash, due,
        f"{missing} of {ship.total} item(s) shipped by {ship.org} to {ship.consignee} at "
        f"{utc_text(ship.time)} were not received within the expected transit time",
        (ship.hash,), org=ship.carrier, site=ship.consignee_site, item=min(ship.pending),
    )  # fmt: skip
    if found is not None:
        ship.raised, ship.unexplained = found.id, set(ship.pending)
    yield found


def _explain(ship: OpenShip, ev: EventView, received: set[str], *, late: bool) -> None:
    """A receive synced after the deadline fired, but signed in time by the consignee,
    explains the items it names; once every missing item is explained, the finding is
    superseded. A late or misdirected receive leaves it standing for good."""
    if ship.raised is None:
        return
    if late or ev.body.org != ship.consignee:
        ship.raised = None
        return
    ship.unexplained -= received
    if not ship.unexplained:
        ev.supersedes.append(ship.raised)
        ship.raised = None


def _track(
    st: RuleState, ev: EventView, ship: OpenShip, end: float, chemical: str | None
) -> Iterator[Finding | None]:
    if ship.checked_track:
        return
    ship.checked_track = True
    limit = float(st.config.transport.gps_gap_minutes) * 60
    points = [ship.time, *sorted(ship.waypoints), end]
    gaps = [b - a for a, b in itertools.pairwise(points)]
    worst = max(gaps)
    if worst > limit:
        yield st.finding(
            "transport.gps_gap", ship.hash, ev.body.time,
            f"the trip from {ship.org} to {ship.consignee} has a {worst / 60:.0f}-minute "
            f"gap in its GPS track (limit {limit / 60:.0f})",
            (ship.hash, ev.hash), org=ship.carrier, site=ship.consignee_site,
            item=min(ev.before), chemical=chemical,
        )  # fmt: skip


def _arrival(
    st: RuleState, ev: EventView, ship: OpenShip, chemical: str | None
) -> Iterator[Finding | None]:
    body = ev.body
    here = (float(body.geo.lat), float(body.geo.lon)) if body.geo else None
    km = st.registry.km_to_site(here or st.registry.site_point(body.site), ship.consignee_site)
    if km is not None and km > float(st.config.transport.arrival_radius_km):
        yield st.finding(
            "transport.arrival_far", ev.hash, body.time,
            f"received {km:.1f} km from the consignee's site {ship.consignee_site}",
            (ship.hash, ev.hash), org=body.org, site=body.site or ship.consignee_site,
            item=min(ev.before), chemical=chemical,
        )  # fmt: skip


def _origin(st: RuleState, ev: EventView) -> tuple[float, float] | None:
    body = ev.body
    if body.geo is not None:
        return float(body.geo.lat), float(body.geo.lon)
    site = body.site or ev.before[body.items[0].code].site
    return st.registry.site_point(site)
