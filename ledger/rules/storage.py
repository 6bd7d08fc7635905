"""Storage: major-hazard sum, segregation, two-person custody, cylinder inspection. Pure.

- ``storage.major_hazard`` (R-MHI-1; GB 18218-2018 §4 for S = Σ qᵢ/Qᵢ, the unit as
  GB 18218-2009 §3.5): S over the live inventory of one unit of assessment (one
  enterprise's sites less than ``unit_distance_m`` apart, :mod:`ledger.rules.hazard_units`)
  reaches the warning level (0.8) or 1 while a site holding part of it is not registered
  as a major hazard source; one finding per upward crossing of each level.
  Key ``{org}|{site}+{site}...:{level}:{log index}``; the subject is ``{org}|{sites}``.
- ``storage.incompatible`` (R-TOX-5, GB 15603, 危险化学品安全管理条例 art. 24): an item
  arrives at a site holding another chemical that the configured segregation matrix
  (GHS classes and categories, :mod:`ledger.rules.segregation`) says must be kept apart
  from it. One finding per site and chemical pair: key ``{site}|{seq}+{seq}`` (sorted).
- ``storage.two_person`` (R-TOX-5): store-in or store-out of a highly toxic chemical
  without two distinct signers (actor and co-actor).
- ``storage.cylinder_overdue`` (R-CYL-1/2): a cylinder filled with an inspection date
  already past, or filled or used after its last known inspection date. Dates are
  Beijing dates (:mod:`ledger.localtime`) of the event's trusted time; the inspection
  date itself is still within the period.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from ledger.events import Fill
from ledger.localtime import local_date
from ledger.rules.config import RulesConfig
from ledger.rules.facts import EventView
from ledger.rules.findings import Finding
from ledger.rules.hazard_units import unit_of
from ledger.rules.segregation import Cell3, SegregationMatrix
from ledger.rules.state import Held, RuleState
from ledger.rules.world import ChemicalFacts, Chemistry, distance_km
from ledger.state import ItemState

TWO_PERSON_EVENTS = frozenset({"store_in", "store_out"})


def before(st: RuleState, ev: EventView) -> Iterator[Finding | None]:
    body = ev.body
    if body.type in TWO_PERSON_EVENTS:
        categories = st.config.storage.two_person_categories
        if (body.co_actor is None or body.co_actor == body.actor) and any(
            c is not None and c.in_any(categories) for c in ev.chemicals.values()
        ):
            yield st.finding(
                "storage.two_person", ev.hash, body.time,
                f"{body.type} of a highly toxic chemical at {body.site or body.org} "
                "was signed by one person only", (ev.hash,), org=body.org, site=body.site,
                item=body.items[0].code,
                chemical=next((c.seq for c in ev.chemicals.values() if c), None),
            )  # fmt: skip
    if body.type in ("fill", "use"):
        yield from _cylinders(st, ev)


def _cylinders(st: RuleState, ev: EventView) -> Iterator[Finding | None]:
    body = ev.body
    today = local_date(ev.trusted).isoformat()
    for link in body.items:
        state = ev.before[link.code]
        if state.packaging not in st.config.storage.cylinder_packaging:
            continue
        track = st.items[link.code]
        due = track.inspection_due
        if isinstance(body, Fill) and body.data.inspection_due is not None:
            due = body.data.inspection_due
            track.inspection_due = due
        if due is not None and due < today:
            yield st.finding(
                "storage.cylinder_overdue", f"{link.code}:{ev.hash}", body.time,
                f"cylinder {link.code} was {'filled' if body.type == 'fill' else 'used'} "
                f"by {body.org} on {today}, past its inspection date {due}", (ev.hash,),
                org=body.org, site=body.site, item=link.code, chemical=state.chemical,
            )  # fmt: skip


def after(st: RuleState, ev: EventView) -> Iterator[Finding | None]:
    touched: set[str] = set()
    for code, state in ev.after.items():
        _place(st, code, state, ev.chemicals[code], touched)
    for site in sorted(touched):
        yield from _hazard(st, ev, site)


def _place(
    st: RuleState, code: str, state: ItemState, chem: ChemicalFacts | None, changed: set[str]
) -> None:
    """Move the item's contribution to its new site; add the sites whose sum changed."""
    old_site = st.placement.pop(code, None)
    if old_site is not None:
        stock = st.sites[old_site]
        ratio, held = stock.items.pop(code)
        stock.ratio -= ratio
        stock.chemicals[held] -= 1
        changed.add(old_site)
    if state.status != "active" or state.site is None or chem is None:
        return
    ratio = 0.0
    if state.quantity is not None and state.unit is not None and chem.critical_t:
        kg = Chemistry.kilograms(state.quantity, state.unit, chem)
        ratio = float(kg / 1000 / chem.critical_t) if kg is not None else 0.0
    held = (chem.seq, _groups(st, chem))
    stock = st.sites[state.site]
    stock.items[code] = (ratio, held)
    stock.ratio += ratio
    stock.chemicals[held] += 1
    st.placement[code] = state.site
    changed.add(state.site)


def storage_groups(config: RulesConfig, chem: ChemicalFacts) -> frozenset[str]:
    """The segregation groups a chemical belongs to under the configured matrix."""
    return config.storage.segregation.groups_of(chem)


def _groups(st: RuleState, chem: ChemicalFacts) -> frozenset[str]:
    known = st.groups_of.get(chem.code)
    if known is None:
        known = st.groups_of[chem.code] = storage_groups(st.config, chem)
    return known


def _unit(st: RuleState, site: str, actor: str) -> tuple[str, frozenset[str]]:
    """The (org, unit) of ``site``; an unregistered site is its own unit, of ``actor``."""
    registry = st.registry
    cached = st.units.get(site)
    if cached is not None and cached[0] == registry.site_epoch:
        return cached[1], cached[2]
    attrs = registry.attrs("site", site)
    if attrs is None:
        return actor, frozenset((site,))
    org = str(attrs["org"])
    unit = unit_of(
        site, registry.sites_by_org.get(org, ()), registry.site_point, distance_km,
        float(st.config.storage.unit_distance_m) / 1000,
    )  # fmt: skip
    for member in unit:
        st.units[member] = (registry.site_epoch, org, unit)
    return org, unit


def _hazard(st: RuleState, ev: EventView, site: str) -> Iterator[Finding | None]:
    org, unit = _unit(st, site, ev.body.org)
    ratio = sum(st.sites[s].ratio for s in sorted(unit) if s in st.sites)
    rules = st.config.storage
    level = 2 if ratio >= float(rules.hazard_alert) - 1e-9 else (
        1 if ratio >= float(rules.hazard_warn) - 1e-9 else 0)  # fmt: skip
    previous, st.unit_levels[(org, unit)] = st.unit_levels.get((org, unit), 0), level
    if level <= previous:
        return
    # a registration covers its own sites; a unit is judged when an unregistered member
    # holds part of the sum (an empty neighbour does not make a registered plant a finding)
    unregistered = [s for s in sorted(unit) if not _registered(st, s)
                    and s in st.sites and st.sites[s].ratio > 0]  # fmt: skip
    if not unregistered:
        return
    label = "reaches the major-hazard threshold" if level == 2 else "nears the threshold"
    members = "+".join(sorted(unit))
    if st.registry.site_point(site) is None:
        where = f"site {site} (no registered location: assessed as its own unit)"
    elif len(unit) == 1:
        where = f"site {site}"
    else:
        where = (f"the unit of {org}'s sites {', '.join(sorted(unit))} (less than "
                 f"{rules.unit_distance_m} m apart)")  # fmt: skip
    yield st.finding(
        "storage.major_hazard", f"{org}|{members}:{level}:{ev.fact.index}", ev.body.time,
        f"{where} holds Σq/Q = {ratio:.2f} and {label} (GB 18218-2018), but "
        f"{', '.join(unregistered)} is not registered as a major hazard source", (ev.hash,),
        org=org, site=site, severity=None if level == 2 else rules.hazard_warn_severity,
    )  # fmt: skip


def _registered(st: RuleState, site: str) -> bool:
    attrs = st.registry.attrs("site", site)
    return attrs is not None and bool(attrs["major_hazard"])


def clash(
    matrix: SegregationMatrix, mine: frozenset[str], theirs: frozenset[str]
) -> tuple[str, str] | None:
    """The strictest non-compatible cell between two chemicals' segregation groups."""
    cells = matrix.between(mine, theirs)
    return (cells[0][0], cells[0][1]) if cells else None


def _pair(a: str, b: str) -> str:
    return "+".join(sorted((a, b), key=lambda seq: (len(seq), seq)))


def incompatible(st: RuleState, ev: EventView) -> Iterator[Finding | None]:
    """Judged before the items are placed: what arrives against what is already there."""
    matrix = st.config.storage.segregation
    table: dict[tuple[frozenset[str], frozenset[str]], tuple[Cell3, ...]] | None = None
    arriving: dict[str, Counter[Held]] = {}
    for code, state in ev.after.items():
        chem = ev.chemicals[code]
        if state.status != "active" or state.site is None or chem is None:
            continue
        if st.placement.get(code) == state.site:
            continue
        stock = st.sites[state.site].chemicals
        table = matrix.table() if table is None else table
        here = arriving.setdefault(state.site, Counter())
        mine = _groups(st, chem)
        seq = chem.seq
        # what the site holds with what arrived before in this event (``stock + here``,
        # in that order, without building the sum)
        found: dict[str, tuple[Cell3, ...]] = {}
        also = here.get  # Counter's own lookup of a missing key runs in Python
        for held, count in stock.items():
            if held[0] != seq and count + also(held, 0) > 0:
                cells = table.get((mine, held[1]))
                if cells is None:
                    cells = matrix.cells_between(table, mine, held[1])
                if cells:
                    found[held[0]] = cells
        for held, count in here.items():
            if held[0] != seq and held not in stock and count > 0:
                cells = matrix.cells_between(table, mine, held[1])
                if cells:
                    found[held[0]] = cells
        here[(seq, mine)] += 1
        for other_seq, cells in sorted(found.items()):
            own, other, level = cells[0]
            key = f"{state.site}|{'+'.join(sorted((own, other)))}|{_pair(seq, other_seq)}"
            if st.found("storage.incompatible", key):
                continue  # a clash the site already showed: most arrivals repeat one
            yield st.finding(
                "storage.incompatible", key, ev.body.time,
                f"item {code} (chemical {seq}, {own}) was put at {state.site}, which "
                f"already holds chemical {other_seq} ({other}): {level.replace('_', ' ')} under "
                f"{matrix.name}", (ev.hash,),
                org=ev.body.org, site=state.site, item=code, chemical=seq,
            )  # fmt: skip
