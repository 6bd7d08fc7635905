"""Storage: major-hazard sum, segregation, two-person custody, cylinder inspection. Pure.

- ``storage.major_hazard`` (R-MHI-1): Σ qᵢ/Qᵢ over the live inventory at a site not
  registered as a major hazard source reaches the warning level (0.8) or 1; one finding
  per upward crossing of each level.
- ``storage.incompatible`` (R-TOX-5, GB 15603): an item arrives at a site holding another
  chemical that the configured group matrix says must be kept apart from it, judged on the
  groups the two do not share (see :func:`clash`); every such arrival is a finding.
- ``storage.two_person`` (R-TOX-5): store-in or store-out of a highly toxic chemical
  without two distinct signers (actor and co-actor).
- ``storage.cylinder_overdue`` (R-CYL-1/2): a cylinder filled with an inspection date
  already past, or filled or used after its last known inspection date. Dates are
  Beijing dates (:mod:`ledger.localtime`) of the event's trusted time; the inspection
  date itself is still within the period.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence

from ledger.events import Fill
from ledger.localtime import local_date
from ledger.rules.config import RulesConfig
from ledger.rules.facts import EventView
from ledger.rules.findings import Finding
from ledger.rules.state import Held, RuleState
from ledger.rules.world import ChemicalFacts, Chemistry, class_matches
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
        touched |= _place(st, code, state, ev.chemicals[code])
    for site in sorted(touched):
        yield from _hazard(st, ev, site)


def _place(st: RuleState, code: str, state: ItemState, chem: ChemicalFacts | None) -> set[str]:
    """Move the item's contribution to its new site; return the sites whose sum changed."""
    changed: set[str] = set()
    old_site = st.placement.pop(code, None)
    if old_site is not None:
        stock = st.sites[old_site]
        ratio, held = stock.items.pop(code)
        stock.ratio -= ratio
        stock.chemicals[held] -= 1
        changed.add(old_site)
    if state.status != "active" or state.site is None or chem is None:
        return changed
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
    return changed


def storage_groups(config: RulesConfig, chem: ChemicalFacts) -> frozenset[str]:
    """The configured storage groups a chemical belongs to (by code, seq or class)."""
    return frozenset(
        name for name, group in config.storage.groups.items()
        if chem.seq in group.chemicals or chem.code in group.chemicals
        or any(class_matches(c, chem.classes) for c in group.classes)
    )  # fmt: skip


def _groups(st: RuleState, chem: ChemicalFacts) -> frozenset[str]:
    known = st.groups_of.get(chem.code)
    if known is None:
        known = st.groups_of[chem.code] = storage_groups(st.config, chem)
    return known


def _hazard(st: RuleState, ev: EventView, site: str) -> Iterator[Finding | None]:
    stock = st.sites[site]
    rules = st.config.storage
    level = 2 if stock.ratio >= float(rules.hazard_alert) - 1e-9 else (
        1 if stock.ratio >= float(rules.hazard_warn) - 1e-9 else 0)  # fmt: skip
    previous, stock.level = stock.level, level
    attrs = st.registry.attrs("site", site)
    if level <= previous or attrs is None or attrs["major_hazard"]:
        return
    label = "reaches the major-hazard threshold" if level == 2 else "nears the threshold"
    yield st.finding(
        "storage.major_hazard", f"{site}:{level}:{ev.fact.index}", ev.body.time,
        f"site {site} holds Σq/Q = {stock.ratio:.2f} and {label} (GB 18218), but is not "
        "registered as a major hazard source", (ev.hash,), org=str(attrs["org"]), site=site,
        severity=None if level == 2 else rules.hazard_warn_severity,
    )  # fmt: skip


def clash(
    pairs: Iterable[Sequence[str]], mine: frozenset[str], theirs: frozenset[str]
) -> tuple[str, str] | None:
    """The incompatible pair between two chemicals' storage groups, from groups they do not
    share: ethylene oxide (toxic gas, flammable) clashes with chlorine (toxic gas, oxidizer)
    through flammable/oxidizer, but not with hydrogen sulfide (toxic gas, flammable)."""
    only_mine, only_theirs = mine - theirs, theirs - mine
    for a, b in pairs:
        for own, other in ((a, b), (b, a)):
            if own in only_mine and other in only_theirs:
                return own, other
    return None


def incompatible(st: RuleState, ev: EventView) -> Iterator[Finding | None]:
    """Judged before the items are placed: what arrives against what is already there."""
    pairs = st.config.storage.incompatible
    arriving: dict[str, Counter[Held]] = {}
    for code, state in ev.after.items():
        chem = ev.chemicals[code]
        if state.status != "active" or state.site is None or chem is None:
            continue
        if st.placement.get(code) == state.site:
            continue
        held = st.sites[state.site].chemicals + arriving.setdefault(state.site, Counter())
        mine = _groups(st, chem)
        arriving[state.site][(chem.seq, mine)] += 1
        found = {pair for (seq, theirs), count in held.items() if count > 0 and seq != chem.seq
                 and (pair := clash(pairs, mine, theirs)) is not None}  # fmt: skip
        for own, other in sorted(found):
            yield st.finding(
                "storage.incompatible", f"{state.site}:{own}+{other}:{code}:{ev.hash}",
                ev.body.time,
                f"item {code} ({own}) was put at {state.site}, which already holds "
                f"{other} goods that must be stored apart", (ev.hash,),
                org=ev.body.org, site=state.site, item=code, chemical=chem.seq,
            )  # fmt: skip
