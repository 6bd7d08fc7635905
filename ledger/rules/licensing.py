"""Licences: an actor needs a valid licence for the activity and chemical (R-LIC-1..6). Pure.

``licence.missing``: the event type's configured activity (produce, fill, sell, store,
ship, dispose...) is not covered, at the event's time, by any active licence of the
acting organisation (of the carrier, for a shipment) that names the chemical, ``all``,
or its transport class; or that organisation is suspended or closed.
"""

from __future__ import annotations

from collections.abc import Iterator

from ledger.events import Ship
from ledger.rules.facts import EventView
from ledger.rules.findings import Finding
from ledger.rules.state import RuleState


def check(st: RuleState, ev: EventView) -> Iterator[Finding | None]:
    body = ev.body
    rules = st.config.licence
    need = rules.required.get(body.type)
    if need is None:
        return
    org = body.data.carrier if need.party == "carrier" and isinstance(body, Ship) else body.org
    org_type = st.registry.org_type(org)
    if org_type in rules.exempt_org_types:
        return
    if need.org_types is not None and org_type not in need.org_types:
        return
    status = (st.registry.attrs("org", org) or {}).get("status", "active")
    uncovered = sorted(
        {
            (c.seq if c else "?")
            for code, c in ev.chemicals.items()
            if not st.registry.licensed(org, need.activities, c, ev.time)
        }
    )
    if status == "active" and not uncovered:
        return
    why = (
        f"{org} is {status}"
        if status != "active"
        else f"{org} holds no valid licence to {' or '.join(need.activities)} "
        f"chemical {', '.join(uncovered)}"
    )
    yield st.finding(
        "licence.missing",
        f"{ev.hash}:{org}",
        body.time,
        f"{body.type}: {why}",
        (ev.hash,),
        org=org,
        site=body.site,
        item=body.items[0].code,
        chemical=next((c.seq for c in ev.chemicals.values() if c), None),
    )
