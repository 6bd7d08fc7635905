"""``custody.unshipped_move``: an item turns up at another place with no shipment. Pure.

Source: 危险货物道路运输安全管理办法 (交通运输部令2019年第29号) Art. 24 (R-TRN-1): every road
movement of dangerous goods has a waybill, which the ledger records as a ``ship`` and
closes with a ``receive``; 危险化学品安全管理条例 Art. 25 (R-TOX-5) asks storage units to
verify and register what goes in and out. So an item held at one place cannot be acted on
at another without a ship/receive between.

The rule fires when the item's holder itself acts on the item (store in or out, count,
use, fill, transform, dispose, destroy, ship, return, (dis)aggregate) at a place further
than ``shipping.unshipped_move_km`` from the site where the item was last placed, with no
shipment open on it. Places closer than that are one premises (GB 18218 counts one
enterprise's facilities less than 500 m apart as one unit): moving a drum across the yard
is not a road trip. Trade records (sell, buy) are paperwork at an office, not sightings,
and are not judged; nor are inspections, which test stations and inspectors record.

Precedence, so one fact raises one finding:

1. ``clone.impossible_travel``: the move is faster than any vehicle, so two labels carry
   the code; this rule stays quiet on that event.
2. ``custody.double_holder``: another organisation acts as holder, wherever it is; this
   rule judges only the holder's own acts.
3. ``custody.unshipped_move``: the holder moved the item between places without a
   shipment.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from ledger.rules.facts import EventView
from ledger.rules.findings import Finding
from ledger.rules.lifecycle import HOLDER_ACTIONS
from ledger.rules.state import RuleState
from ledger.rules.world import distance_km

PLACING: Final = HOLDER_ACTIONS - {"report_loss"}
"""The holder's acts that say where the item is (a loss report is made at an office)."""


def check(st: RuleState, ev: EventView) -> Iterator[Finding | None]:
    """Judge after ``lifecycle.travel``, so its clone finding on this event is known."""
    body = ev.body
    if body.type not in PLACING:
        return
    limit = float(st.config.shipping.unshipped_move_km)
    here: tuple[float, float] | None = None
    for link in body.items:
        state = ev.before[link.code]
        if link.seq == 0 or link.role == "output" or state.status != "active":
            continue
        if state.holder != body.org or state.site is None or state.site == body.site:
            continue
        here = here or _place(st, ev)
        there = st.registry.site_point(state.site)
        if here is None or there is None:
            continue
        km = distance_km(there, here)
        if km <= limit or st.found("clone.impossible_travel", f"{link.code}:{ev.hash}"):
            continue
        where = body.site or f"({here[0]:.4f}, {here[1]:.4f})"
        chem = ev.chemicals.get(link.code)
        yield st.finding(
            "custody.unshipped_move", f"{link.code}:{ev.hash}", body.time,
            f"{body.org} recorded {body.type} on item {link.code} at {where}, {km:.1f} km "
            f"from site {state.site} where it was, with no shipment between",
            tuple(h for h in (st.items[link.code].last_event, ev.hash) if h), org=body.org,
            site=body.site, item=link.code, chemical=chem.seq if chem else state.chemical,
        )  # fmt: skip


def _place(st: RuleState, ev: EventView) -> tuple[float, float] | None:
    body = ev.body
    if body.site is not None:
        return st.registry.site_point(body.site)
    if body.geo is not None:
        return float(body.geo.lat), float(body.geo.lon)
    return None
