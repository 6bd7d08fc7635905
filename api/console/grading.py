"""The inputs of the enterprise risk grade, gathered from the services within the caller's
scope; the grade itself is :func:`ledger.risk.risk_grade`.

One pass over the caller's open findings, item states, licences, permits and inspections
grades every organisation it sees (the map), or one (its page).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from api.console.insight import Insight, SiteHazard
from api.console.reads import ITEM_READERS, all_findings, live
from api.services.access import Principal
from api.services.findings import FindingFilter
from api.services.root import Service
from ledger.licences import Licence
from ledger.risk import RiskGrade, RiskInputs, inspection_history, licence_state, risk_grade
from ledger.rules.world import ChemicalFacts
from ledger.state import ItemState
from ledger.timefmt import format_utc


@dataclass(frozen=True, slots=True)
class Graded:
    """The grades of the organisations the caller sees, and what they were read from."""

    grades: dict[str, RiskGrade]
    hazards: dict[str, SiteHazard]
    """Σq/Q and holdings of every site the caller sees items at."""


def grade_orgs(
    service: Service,
    insight: Insight,
    principal: Principal,
    org: str | None = None,
    *,
    now: datetime | None = None,
) -> Graded:
    """Grade every organisation ``principal`` sees (or only ``org``, one it sees)."""
    moment = now or datetime.now(UTC)
    weights = insight.weights
    orgs = [
        rec
        for rec in service.registry.visible_records(principal, "org")
        if org is None or rec.record_id == org
    ]
    wanted = {rec.record_id for rec in orgs}
    sites_of: dict[str, list[str]] = defaultdict(list)
    for sid, record in service.registry.records("site").items():
        if str(record.attr("org")) in wanted:
            sites_of[str(record.attr("org"))].append(sid)

    open_by_org: dict[str, Counter[str]] = defaultdict(Counter)
    if principal.role in ITEM_READERS:
        found, _ = all_findings(service, principal, FindingFilter(status="open", org=org))
        for stored in found:
            if stored.finding.org in wanted:
                open_by_org[stored.finding.org][stored.finding.severity] += 1

    states = live(service.queries.visible_states(principal, None))
    hazards = insight.site_hazards(states)
    held = _held(states, insight, wanted)

    licences: dict[str, list[Licence]] = defaultdict(list)
    for lic in service.registry.licences(principal, org):
        licences[lic.org].append(lic)
    permits: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for record in service.registry.records("permit").values():
        if str(record.attr("org")) in wanted:
            permits[str(record.attr("org"))].append(record.attrs)

    since = format_utc(moment - timedelta(days=weights.inspection.window_days))
    site_org = {sid: o for o, sids in sites_of.items() for sid in sids}
    inspections: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for site, outcome, time in service.queries.inspections(site_org, since):
        inspections[site_org[site]].append((outcome, time))

    grades = {}
    for record in orgs:
        oid = record.record_id
        largest: tuple[float, str | None] = max(
            ((hazards[s].ratio, s) for s in sites_of[oid] if s in hazards), default=(0.0, None)
        )
        ratio, largest_site = largest
        chemicals = held.get(oid, [])
        # the rules' own exemption: licence.missing never judges a regulator's holdings
        exempt = record.attrs.get("type") in insight.rules.licence.exempt_org_types
        inputs = RiskInputs(
            open_findings=open_by_org[oid],
            largest_ratio=ratio,
            largest_site=largest_site,
            licences=licence_state(
                licences[oid],
                permits[oid],
                chemicals,
                {} if exempt else insight.rules.licence.holders,
                moment,
                expiring_days=weights.licence.expiring_days,
                organisation_status=str(record.attrs.get("status", "active")),
            ),
            categories=frozenset(c for chem in chemicals for c in chem.categories),
            inspections=inspection_history(
                inspections[oid], moment, window_days=weights.inspection.window_days
            ),
        )
        grades[oid] = risk_grade(inputs, weights)
    return Graded(grades, hazards)


def _held(
    states: Iterable[ItemState], insight: Insight, orgs: set[str]
) -> dict[str, list[ChemicalFacts]]:
    """The chemicals each organisation holds now (its active items), once each."""
    codes: dict[str, set[str]] = defaultdict(set)
    for state in states:
        if state.holder in orgs and state.status == "active" and state.chemical is not None:
            codes[state.holder].add(state.chemical)
    out: dict[str, list[ChemicalFacts]] = {}
    for holder, chemicals in codes.items():
        facts = (insight.facts(code) for code in sorted(chemicals))
        out[holder] = [f for f in facts if f is not None]
    return out
