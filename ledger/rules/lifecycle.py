"""Lifecycle order, custody holders and item-level clone signs (R-CYL-3, brief §5). Pure.

- ``lifecycle.second_commission``: a code commissioned twice (one item, one code).
- ``lifecycle.after_disposal``: anything but an inspection after the item was disposed of.
- ``clone.after_destruction``: any scan at all of a destroyed item's code.
- ``lifecycle.use_before_receipt``: the consignee acts on an item still in transit to it.
- ``custody.double_holder``: an organisation acts as holder while another holds the item.
- ``lifecycle.quantity_growth``: an item's quantity grows without a fill or commission.
- ``clone.impossible_travel``: two sightings further apart than travel time allows.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Final

from ledger.events import EventBody, Ship
from ledger.rules.facts import EventView
from ledger.rules.findings import Finding
from ledger.rules.state import RuleState
from ledger.rules.world import Chemistry, distance_km

HOLDER_ACTIONS: Final = frozenset({
    "store_in", "store_out", "stock_count", "ship", "use", "fill", "transform", "dispose",
    "destroy", "return", "aggregate", "disaggregate", "report_loss",
})  # fmt: skip
"""Acts only the holder performs. Trade records (sell, buy) transfer title, not custody."""
GROWTH_ALLOWED: Final = frozenset({"commission", "fill"})
_GRAIN: Final = Decimal("0.000001")
NOT_SIGHTINGS: Final = frozenset({"sell", "buy", "correct"})
"""Paperwork recorded at an office, not where the item is."""


def before(st: RuleState, ev: EventView) -> Iterator[Finding | None]:
    body = ev.body
    for link in body.items:
        code, track, state = link.code, st.items.get(link.code), ev.before[link.code]
        chemical = state.chemical
        if body.type == "commission" and track is not None and track.commission is not None:
            yield st.finding(
                "lifecycle.second_commission", code, body.time,
                f"item {code} was commissioned again by {body.org}; a code names one item",
                (track.commission, ev.hash), org=body.org, site=body.site, item=code,
                chemical=chemical or body.data.chemical,
            )  # fmt: skip
        if track is not None and track.ended is not None:
            how, ended_by = track.ended
            if how == "destroyed":
                yield st.finding(
                    "clone.after_destruction", code, body.time,
                    f"item {code} was destroyed, yet its code was scanned again "
                    f"({body.type} by {body.org}): the label has been copied",
                    (ended_by, ev.hash), org=body.org, site=body.site, item=code,
                    chemical=chemical,
                )  # fmt: skip
            elif body.type != "inspect":
                yield st.finding(
                    "lifecycle.after_disposal", code, body.time,
                    f"item {code} was disposed of, yet {body.org} recorded {body.type} on it",
                    (ended_by, ev.hash), org=body.org, site=body.site, item=code,
                    chemical=chemical,
                )  # fmt: skip
            continue
        if body.type not in HOLDER_ACTIONS or state.holder is None or link.seq == 0:
            continue
        if link.role == "output" or state.status in ("lost", "disposed", "destroyed"):
            continue
        if body.org == state.holder or _carrier_pickup(body):
            continue
        if state.status == "in_transit" and track is not None and body.org == track.consignee:
            yield st.finding(
                "lifecycle.use_before_receipt", f"{code}:{track.ship}", body.time,
                f"{body.org} recorded {body.type} on item {code} before receiving it "
                "(it is still in transit)",
                tuple(h for h in (track.ship, ev.hash) if h), org=body.org, site=body.site,
                item=code, chemical=chemical,
            )  # fmt: skip
            continue
        yield st.finding(
            "custody.double_holder", f"{code}:{body.org}:{state.holder}", body.time,
            f"{body.org} recorded {body.type} on item {code} while {state.holder} holds it",
            tuple(h for h in ((track.last_event if track else None), ev.hash) if h),
            org=body.org, site=body.site, item=code, chemical=chemical,
        )  # fmt: skip


def after(st: RuleState, ev: EventView) -> Iterator[Finding | None]:
    body = ev.body
    if body.type in GROWTH_ALLOWED:
        return
    allowed = 1 + st.config.mass.growth_tolerance
    for link in body.items:
        if link.role in ("output", "parent") or link.seq == 0:
            continue
        old, new = ev.before[link.code], ev.after[link.code]
        if old.quantity is None or new.quantity is None or old.unit is None or new.unit is None:
            continue
        chem = ev.chemicals[link.code]
        was = Chemistry.kilograms(old.quantity, old.unit, chem)
        same = new.quantity is old.quantity and new.unit == old.unit  # most events move none
        now = was if same else Chemistry.kilograms(new.quantity, new.unit, chem)
        if was is None or now is None or now <= was * allowed + _GRAIN:
            continue
        yield st.finding(
            "lifecycle.quantity_growth", f"{link.code}:{ev.hash}", body.time,
            f"item {link.code} grew from {old.quantity} {old.unit} to {new.quantity} "
            f"{new.unit} at {body.type} by {body.org}, without a fill",
            tuple(h for h in (st.items[link.code].last_event, ev.hash) if h), org=body.org,
            site=body.site, item=link.code, chemical=new.chemical,
        )  # fmt: skip


def travel(st: RuleState, ev: EventView) -> Iterator[Finding | None]:
    body = ev.body
    point = None if body.type in NOT_SIGHTINGS else _point(st, ev)
    if point is None:
        return
    seconds = ev.time.timestamp()
    limits = st.config.clone
    min_km = float(limits.min_distance_km)
    lat, lon = point
    for link in body.items:
        track = st.items[link.code]
        last = track.point
        track.point = (seconds, lat, lon, ev.hash)
        # the same place is 0 km away, under the (positive) minimum distance
        if last is None or (last[1] == lat and last[2] == lon):
            continue
        km = distance_km((last[1], last[2]), point)
        hours = abs(seconds - last[0]) / 3600
        if km <= min_km:
            continue
        if hours > 0 and km / hours <= float(limits.max_speed_kmh):
            continue
        speed = "at the same moment" if hours == 0 else f"{km / hours:.0f} km/h apart"
        yield st.finding(
            "clone.impossible_travel", f"{link.code}:{ev.hash}", body.time,
            f"item {link.code} was seen {km:.0f} km from its previous sighting {speed}: "
            "two labels carry this code",
            (last[3], ev.hash), org=body.org, site=body.site, item=link.code,
            chemical=ev.after[link.code].chemical,
        )  # fmt: skip


def _carrier_pickup(body: EventBody) -> bool:
    """A carrier may record the shipment it picks up: the ship names it as carrier."""
    return isinstance(body, Ship) and body.org == body.data.carrier


def _point(st: RuleState, ev: EventView) -> tuple[float, float] | None:
    geo = ev.body.geo
    if geo is not None:
        return float(geo.lat), float(geo.lon)
    return st.registry.site_point(ev.body.site)
