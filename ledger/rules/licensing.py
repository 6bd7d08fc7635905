"""Licences: an actor needs a valid licence for the activity and chemical (R-LIC-1..6). Pure.

``licence.missing``: the event type's configured activity (produce, fill, sell, store,
ship, dispose...) is not covered, at the event's time, by any active licence of the
acting organisation (of the carrier, for a shipment) that names the chemical, ``all``,
or its transport class; or that organisation is suspended or closed.

Holders too (R-TOX-1, R-PRE-1; Decree 591 Art. 38, Decree 445 Arts. 14-17): a ``receive``
or ``use`` (``holder_events``) of goods of a regulated category (``holders``: 剧毒, 易制爆,
易制毒) by an organisation that holds neither a licence for one of the category's
activities nor a permit record of one of its kinds covering the chemical, at the event's
time, is ``licence.missing`` as well, so a holder with no recorded sale is still found.
A chemical of several categories (KMnO₄ is 易制毒 and 易制爆) needs what each asks. A
receive by the shipment's own carrier is not judged: it carries under its transport
licence, and ``custody.wrong_receiver`` judges that receive. A purchase permit or filing
authorises one acquisition, not a period of holding: goods received under one may be used
after it lapsed (while the organisation is active). A licence authorises while it is
valid, so goods held on a licence are judged against it at every use, and a use needs a
licence to use or produce them (``use_activities``): a storage or trading licence lets an
organisation hold regulated goods, not consume them (Decree 591 Arts. 29 and 38).
"""

from __future__ import annotations

from collections.abc import Iterator

from ledger.events import Receive, Ship
from ledger.rules.config import HolderRequirement
from ledger.rules.facts import EventView
from ledger.rules.findings import Finding
from ledger.rules.state import RuleState
from ledger.rules.world import ChemicalFacts


def check(st: RuleState, ev: EventView) -> Iterator[Finding | None]:
    body = ev.body
    rules = st.config.licence
    if body.type in rules.holder_events:
        yield from _holder(st, ev)
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
    # asked once per chemical: a many-item event mostly moves one chemical
    distinct = {id(c): c for c in ev.chemicals.values()}
    uncovered = sorted(
        {
            (c.seq if c else "?")
            for c in distinct.values()
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
    yield _missing(st, ev, org, why, next((c.seq for c in ev.chemicals.values() if c), None))


def _holder(st: RuleState, ev: EventView) -> Iterator[Finding | None]:
    body, rules, registry = ev.body, st.config.licence, st.registry
    org = body.org
    if registry.org_type(org) in rules.exempt_org_types or _own_carriage(st, ev):
        return
    status = (registry.attrs("org", org) or {}).get("status", "active")
    lacking: dict[str, set[str]] = {}
    for code, chem in ev.chemicals.items():
        if chem is None:
            continue
        regulated = sorted(chem.categories & rules.holders.keys())
        if not regulated or (status == "active" and (code, org) in st.permit_held):
            continue
        if status != "active":
            lacking.setdefault(chem.seq, set()).update(regulated)
            continue
        by = {c: _authority(st, org, rules.holders[c], chem, ev) for c in regulated}
        missing = {c for c, authority in by.items() if authority is None}
        if missing:
            lacking.setdefault(chem.seq, set()).update(missing)
        elif "permit" in by.values():
            st.permit_held.add((code, org))
    if not lacking:
        return
    seq = min(lacking)
    why = (
        f"{org} is {status}"
        if status != "active"
        else f"{org} holds no licence or permit to hold "
        + "; ".join(f"chemical {s} ({', '.join(sorted(c))})" for s, c in sorted(lacking.items()))
    )
    yield _missing(st, ev, org, why, seq)


def _missing(
    st: RuleState, ev: EventView, org: str, why: str, chemical: str | None
) -> Finding | None:
    """One ``licence.missing`` per event and organisation, whichever check found it."""
    body = ev.body
    return st.finding(
        "licence.missing", f"{ev.hash}:{org}", body.time, f"{body.type}: {why}", (ev.hash,),
        org=org, site=body.site, item=body.items[0].code, chemical=chemical,
    )  # fmt: skip


def _authority(
    st: RuleState, org: str, need: HolderRequirement, chem: ChemicalFacts, ev: EventView
) -> str | None:
    """What lets ``org`` hold ``chem`` now: ``licence``, ``permit`` or nothing (``None``)."""
    registry = st.registry
    activities = need.use_activities if ev.body.type == "use" else need.activities
    if registry.licensed(org, activities, chem, ev.time):
        return "licence"
    return "permit" if registry.permit(org, need.permits, chem, ev.time) else None


def _own_carriage(st: RuleState, ev: EventView) -> bool:
    body = ev.body
    if not isinstance(body, Receive):
        return False
    ship = st.ships.get(body.data.ship)
    return ship is not None and ship.carrier == body.org
