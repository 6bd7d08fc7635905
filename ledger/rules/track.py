"""``transport.track_lost``: an open shipment whose GPS track went silent. Pure. A deadline.

Source: R-TRN-5 (domain-rules §2.5): vehicles carry working satellite positioning, and
"a track ending away from the consignee" is an anomaly; the 危险化学品安全法's third
reading adds real-time monitoring of vehicles by the carrier. The condition: the track
(the ship, then each waypoint) has been silent for ``shipping.track_silence_hours`` while
the shipment is still open and nobody has signed a receive against it (a trip with no fix
at all counts from the ship). It is a live alarm, judged while the goods are unaccounted
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
exactly ``track_silence_hours`` of silence is not yet lost.
"""

from __future__ import annotations

from collections.abc import Iterator

from ledger.events import Waypoint
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
        _rearm(st, ship, ev.time.timestamp(), ev.known)


def fire_silence(st: RuleState, key: str, due: float) -> Iterator[Finding | None]:
    ship = st.ships.get(key)
    if ship is None or not ship.pending or ship.received_any or due != ship.silence_due:
        return
    hours = st.config.shipping.track_silence_hours
    item = min(ship.pending)
    state = st.projection.items.get(item)
    yield st.finding(
        "transport.track_lost", ship.hash, due,
        f"the GPS track of the trip from {ship.org} to {ship.consignee} has been silent "
        f"since {utc_text(ship.last_fix)} (more than {hours} h) and "
        f"{len(ship.pending)} of {ship.total} item(s) are not received",
        (ship.hash,), org=ship.carrier, site=ship.consignee_site, item=item,
        chemical=state.chemical if state else None,
    )  # fmt: skip


def _rearm(st: RuleState, ship: OpenShip, fix: float, known: float) -> None:
    ship.last_fix = fix
    silence = float(st.config.shipping.track_silence_hours) * 3600
    # The engine fires deadlines due at or before an entry's log time, before judging it:
    # the extra microsecond lets a fix logged exactly at the limit re-arm the timer first.
    ship.silence_due = max(fix, known) + silence + 1e-6
    st.schedule(ship.silence_due, SILENCE, ship.hash)
