"""``transport.track_lost``: an open shipment whose GPS track went silent. Pure. A deadline.

Source: R-TRN-5 (domain-rules §2.5): vehicles carry working satellite positioning, and
"a track ending away from the consignee" is an anomaly; the 危险化学品安全法's third
reading adds real-time monitoring of vehicles by the carrier. The condition: the track
(the ship, then each waypoint) has been silent for ``shipping.track_silence_hours`` while
the shipment is still open and nobody has signed a receive against it (a trip with no fix
at all counts from the ship), and the last fix is not within ``transport.arrival_radius_km``
of the consignee's site: a vehicle that went dark at the gate has arrived, and its missing
receive is ``custody.transit_overdue``'s. It is a live alarm, judged while the goods are unaccounted
for:

- ``transport.gps_gap`` judges a *finished* trip at its receive: any gap between fixes
  longer than ``gps_gap_minutes``, even one the track recovered from;
- ``custody.transit_overdue`` judges the transit allowance from the distance, whatever
  the track did, and what a partial receipt left missing;
- this rule says the vehicle went dark and the goods have not arrived. Any receive
  against the shipment stops it: the trip has ended somewhere known (a shortfall is
  ``custody.transit_overdue``'s, a wrong receiver ``custody.wrong_receiver``'s).

Silence runs from when the ledger learned of the last fix (the later of its time and its
log time), as every deadline does, so a late-synced track is not judged silent at once;
exactly ``track_silence_hours`` of silence is not yet lost. A receive by the consignee
signed before the track counted as lost, but synced after the alarm was raised (an offline
handheld), shows the goods had arrived: it supersedes the alarm (``device.late_sync``).
"""

from __future__ import annotations

from collections.abc import Iterator

from ledger.events import Receive, Waypoint
from ledger.rules.facts import EventView
from ledger.rules.findings import Finding
from ledger.rules.state import OpenShip, RuleState, utc_text

SILENCE = "track_silence"


def on_ship(st: RuleState, ev: EventView) -> None:
    ship = st.ships.get(ev.hash)
    if ship is not None:
        _rearm(st, ship, ev.time.timestamp(), ev.known)


def on_waypoint(st: RuleState, ev: EventView) -> None:
    body = ev.body
    assert isinstance(body, Waypoint)
    ship = st.ships.get(body.data.ship)
    if ship is not None and ev.time.timestamp() >= ship.last_fix:
        ship.last_point = (float(body.geo.lat), float(body.geo.lon)) if body.geo else None
        _rearm(st, ship, ev.time.timestamp(), ev.known)


def on_receive(st: RuleState, ev: EventView) -> None:
    """Before custody judges the receive (it may close the shipment)."""
    body = ev.body
    assert isinstance(body, Receive)
    ship = st.ships.get(body.data.ship)
    if ship is None or ship.track_raised is None:
        return
    if body.org == ship.consignee and ev.trusted <= ship.silence_due:
        ev.supersedes.append(ship.track_raised)
    ship.track_raised = None


def fire_silence(st: RuleState, key: str, due: float) -> Iterator[Finding | None]:
    ship = st.ships.get(key)
    if ship is None or not ship.pending or ship.received_any:
        return
    if due < ship.silence_due:  # a fix came since it was armed: one timer, moved on lazily
        st.schedule(ship.silence_due, SILENCE, ship.hash)
        return
    if _at_the_gate(st, ship):
        return
    hours = st.config.shipping.track_silence_hours
    item = min(ship.pending)
    state = st.projection.items.get(item)
    found = st.finding(
        "transport.track_lost", ship.hash, due,
        f"the GPS track of the trip from {ship.org} to {ship.consignee} has been silent "
        f"since {utc_text(ship.last_fix)} (more than {hours} h) and "
        f"{len(ship.pending)} of {ship.total} item(s) are not received",
        (ship.hash,), org=ship.carrier, site=ship.consignee_site, item=item,
        chemical=state.chemical if state else None,
    )  # fmt: skip
    if found is not None:
        ship.track_raised = found.id
    yield found


def _at_the_gate(st: RuleState, ship: OpenShip) -> bool:
    """Within the arrival radius of the consignee's site, as a receive may be."""
    km = st.registry.km_to_site(ship.last_point, ship.consignee_site)
    return km is not None and km <= float(st.config.transport.arrival_radius_km)


def _rearm(st: RuleState, ship: OpenShip, fix: float, known: float) -> None:
    ship.last_fix = fix
    silence = float(st.config.shipping.track_silence_hours) * 3600
    armed = ship.silence_due > 0
    ship.silence_due = max(fix, known) + silence
    if not armed:
        st.schedule(ship.silence_due, SILENCE, ship.hash)
