"""What each console page shows, gathered from the services within the caller's scope.

Routes stay thin: each calls one function here. Every read goes through the same services
and the same principal as the ``/v1`` API, so a page shows exactly what the API would.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from api.console.grading import grade_orgs
from api.console.i18n import BEIJING
from api.console.insight import Insight
from api.console.reads import ITEM_READERS, all_findings, live
from api.services.access import Principal
from api.services.errors import ForbiddenError, NotFoundError
from api.services.findings import FindingFilter, StoredFinding
from api.services.root import Service
from ledger.canonical import format_hash
from ledger.catalog.model import Chemical
from ledger.codes import normalise_code
from ledger.errors import LedgerError
from ledger.risk import RiskGrade, RiskWeights
from ledger.state import ItemState, fold_item
from ledger.timefmt import parse_utc

OVERSIGHT: Final = frozenset({"admin", "regulator", "city_regulator"})
"""Who may move findings and read the security journal (the API's ``OVERSIGHT``)."""
EMERGENCY: Final = frozenset({"admin", "regulator", "city_regulator", "responder"})
"""Who may ask the emergency query (team contract)."""


def require_role(principal: Principal, roles: frozenset[str]) -> None:
    if principal.role not in roles:
        raise ForbiddenError(f"role {principal.role} may not open this page")


def site_districts(service: Service) -> dict[str, str]:
    return {sid: str(rec.attr("district")) for sid, rec in service.registry.records("site").items()}


# -- dashboard ---------------------------------------------------------------------------------


@dataclass
class Dashboard:
    by_severity: list[tuple[str, int]]
    by_rule: list[tuple[str, int]]
    by_district: list[tuple[str, int]]
    over_time: list[tuple[str, int]]
    findings_total: int
    capped: bool
    by_category: list[tuple[str, int, Decimal]]
    holdings_by_district: list[tuple[str, int, Decimal]]
    log_size: int
    checkpoint_size: int
    checkpoint_at: str | None
    journal: list[Any]
    shows_findings: bool
    shows_journal: bool

    def chart_json(self) -> str:
        """The charts' data, for the page's data attribute (no inline script)."""
        return json.dumps(
            {
                "over_time": self.over_time,
                "by_severity": self.by_severity,
            },
            ensure_ascii=False,
        )


def dashboard(service: Service, insight: Insight, principal: Principal) -> Dashboard:
    severity: Counter[str] = Counter()
    rule: Counter[str] = Counter()
    district: Counter[str] = Counter()
    per_day: Counter[str] = Counter()
    shows_findings = principal.role in ITEM_READERS
    findings: list[StoredFinding] = []
    total = 0
    if shows_findings:
        findings, total = all_findings(service, principal, FindingFilter())
    for stored in findings:
        f = stored.finding
        per_day[parse_utc(f.at).astimezone(BEIJING).strftime("%Y-%m-%d")] += 1
        if stored.status == "open":
            severity[f.severity] += 1
            rule[f.rule] += 1
            district[f.district or "—"] += 1
    states = live(service.queries.visible_states(principal, None))
    by_category, by_district = insight.holdings(states, site_districts(service))
    size, covered, at = service.log.checkpoint_freshness()
    shows_journal = principal.role in OVERSIGHT
    journal = service.journal.entries(principal, since=None, limit=10)[0] if shows_journal else []
    order = {"critical": 0, "high": 1, "medium": 2, "low": 3}
    return Dashboard(
        by_severity=sorted(severity.items(), key=lambda kv: order.get(kv[0], 9)),
        by_rule=rule.most_common(),
        by_district=district.most_common(),
        over_time=sorted(per_day.items()),
        findings_total=total,
        capped=total > len(findings),
        by_category=sorted(((k, n, kg) for k, (n, kg) in by_category.items()), key=lambda r: -r[1]),
        holdings_by_district=sorted(
            ((k, n, kg) for k, (n, kg) in by_district.items()), key=lambda r: -r[1]
        ),
        log_size=size,
        checkpoint_size=covered,
        checkpoint_at=at,
        journal=journal,
        shows_findings=shows_findings,
        shows_journal=shows_journal,
    )


# -- search ------------------------------------------------------------------------------------


@dataclass
class SearchResults:
    query: str
    item: str | None = None
    """A trace code that names a visible item (the page goes straight to it)."""
    chemicals: list[tuple[Chemical, int]] = field(default_factory=list)
    items: list[ItemState] = field(default_factory=list)
    records: list[tuple[str, str, str]] = field(default_factory=list)
    """(kind, id, name) of organisations and sites."""
    vehicles: list[tuple[str, str, str]] = field(default_factory=list)
    """(id, plate, organisation)."""
    found_by: list[tuple[str, int]] = field(default_factory=list)
    """(``lot`` or ``waybill``, how many visible items) when the query is one."""

    @property
    def empty(self) -> bool:
        return not (self.item or self.chemicals or self.items or self.records or self.vehicles)


def _squash(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def search(service: Service, insight: Insight, principal: Principal, query: str) -> SearchResults:
    """One box: a trace code, a CAS or UN number, a chemical's name, an organisation, a site
    or a vehicle plate, each answered within scope."""
    query = query.strip()
    results = SearchResults(query)
    if not query:
        return results
    if principal.role in ITEM_READERS:
        try:
            results.item = service.queries.visible_item(principal, normalise_code(query)).code
            return results
        except (LedgerError, NotFoundError, ForbiddenError):
            pass  # not a code of a visible item: search on
    if principal.role in ITEM_READERS:
        _items_by_document(service, principal, query, results)
    wanted = query.casefold()
    un = wanted.removeprefix("un").strip()
    catalog = insight.catalog()
    matched: list[Chemical] = []
    for chemical in catalog.chemicals:
        uns = {f.un_number for f in catalog.forms_of(chemical.seq)}
        if (
            str(chemical.seq) == query
            or chemical.cas == query
            or query in chemical.cas_alt
            or un in uns
            or wanted in chemical.name_cn.casefold()
            or wanted in chemical.name_en.casefold()
        ):
            matched.append(chemical)
    if matched:
        seqs = {str(c.seq) for c in matched}
        held: Counter[str] = Counter()
        for state in live(service.queries.visible_states(principal, None)):
            seq = (state.chemical or "").split(".")[0]
            if seq in seqs:
                held[seq] += 1
                if len(results.items) < 100:
                    results.items.append(state)
        results.chemicals = [(c, held[str(c.seq)]) for c in matched]
    for kind in ("org", "site"):
        for record in service.registry.visible_records(principal, kind):
            name = str(record.attr("name") or "")
            if wanted in record.record_id.casefold() or wanted in name.casefold():
                results.records.append((kind, record.record_id, name))
    plate = _squash(query)
    if plate:
        for record in service.registry.visible_records(principal, "vehicle"):
            if plate in _squash(str(record.attr("plate") or "")):
                results.vehicles.append(
                    (record.record_id, str(record.attr("plate")), str(record.attr("org")))
                )
    return results


def _items_by_document(
    service: Service, principal: Principal, query: str, results: SearchResults
) -> None:
    """The visible items whose events carry ``query`` as a production lot or a waybill."""
    shown = {state.code for state in results.items}
    for kind in ("lot", "waybill"):
        codes = service.queries.search(kind, [query])
        states = list(service.queries.visible_states(principal, None, codes=codes)) if codes else []
        if states:
            results.found_by.append((kind, len(states)))
        for state in states:
            if len(results.items) < 100 and state.code not in shown:
                shown.add(state.code)
                results.items.append(state)


# -- item --------------------------------------------------------------------------------------


@dataclass
class TimelineStep:
    seq: int
    index: int
    type: str
    time: str
    log_time: str
    org: str
    site: str | None
    holder: str | None
    status: str
    quantity: str | None
    unit: str | None
    event_hash: str
    data: str
    geo: tuple[float, float] | None


@dataclass
class ItemPage:
    code: str
    state: ItemState
    chemical: Any
    issued_to: str | None
    label: bool
    steps: list[TimelineStep]
    findings: list[StoredFinding]
    path: list[tuple[float, float]]
    verify: dict[str, Any] | None

    def path_json(self) -> str:
        return json.dumps(self.path)


def _point(attrs: Any) -> tuple[float, float] | None:
    try:
        return float(attrs["lat"]), float(attrs["lon"])
    except (KeyError, TypeError, ValueError):
        return None


def item_page(
    service: Service, insight: Insight, principal: Principal, code: str, verify: bool
) -> ItemPage:
    queries = service.queries
    queries.require_custody_reader(principal)
    view = queries.visible_item(principal, code)
    sites = service.registry.records("site")
    steps: list[TimelineStep] = []
    for logged, state in queries.chain_steps(view):
        body = logged.event.body
        geo = _point({"lat": body.geo.lat, "lon": body.geo.lon}) if body.geo else None
        if geo is None and body.site and body.site in sites:
            geo = _point(sites[body.site].attrs)
        steps.append(
            TimelineStep(
                seq=state.seq,
                index=logged.index,
                type=body.type,
                time=body.time,
                log_time=logged.log_time,
                org=body.org,
                site=body.site,
                holder=state.holder,
                status=state.status,
                quantity=None if state.quantity is None else str(state.quantity),
                unit=state.unit,
                event_hash=format_hash(logged.event.event_hash),
                data=json.dumps(
                    logged.event.raw_body.get("data", {}), ensure_ascii=False, indent=1
                ),
                geo=geo,
            )
        )
    state = fold_item(view.code, (e.event.body for e in view.known_prefix), queries.units.kilograms)
    signed = service.registry.signed_code(view.code)
    findings, _ = service.findings.search(
        principal, FindingFilter(item=view.code), limit=200, offset=0
    )
    path: list[tuple[float, float]] = []
    for step in steps:
        if step.geo and (not path or path[-1] != step.geo):
            path.append(step.geo)
    report = queries.verify_item(principal, view.code) if verify else None
    return ItemPage(
        view.code,
        state,
        insight.name(state.chemical),
        signed.facts.org if signed else None,
        signed is not None,
        steps,
        findings,
        path,
        report,
    )


# -- site and enterprise -----------------------------------------------------------------------


@dataclass
class SitePage:
    site: str
    record: Any
    at: str | None
    items: list[ItemState]
    hazard: Any
    warn: float
    alert: float
    findings: list[StoredFinding]
    bundle: bool


def site_page(
    service: Service, insight: Insight, principal: Principal, site: str, at: str | None
) -> SitePage:
    record = service.registry.visible_record(principal, "site", site)
    items = live(service.queries.visible_states(principal, at, site=site))
    hazard = insight.site_hazards(items).get(site)
    findings: list[StoredFinding] = []
    if principal.role in ITEM_READERS:
        org_findings, _ = all_findings(
            service, principal, FindingFilter(org=str(record.attr("org")))
        )
        findings = [f for f in org_findings if f.finding.site == site]
    storage = insight.rules.storage
    return SitePage(
        site,
        record,
        at,
        items,
        hazard,
        float(storage.hazard_warn),
        float(storage.hazard_alert),
        findings,
        bundle=principal.role != "responder",
    )


@dataclass
class OrgPage:
    org: str
    record: Any
    sites: list[tuple[Any, float]]
    licences: list[Any]
    holdings: list[ItemState]
    findings: list[StoredFinding]
    grade: RiskGrade
    scale: str
    """The grade ladder of the weights it was graded with, e.g. ``A < 10 ≤ B < 30 ≤ C``."""


def org_page(service: Service, insight: Insight, principal: Principal, org: str) -> OrgPage:
    record = service.registry.visible_record(principal, "org", org)
    sites = [s for s in service.registry.visible_records(principal, "site") if s.attr("org") == org]
    holdings = live(service.queries.visible_states(principal, None, holder=org))
    graded = grade_orgs(service, insight, principal, org)
    findings: list[StoredFinding] = []
    if principal.role in ITEM_READERS:
        findings, _ = all_findings(service, principal, FindingFilter(org=org))
    hazards = graded.hazards
    ratios = [(s, hazards[s.record_id].ratio if s.record_id in hazards else 0.0) for s in sites]
    return OrgPage(
        org, record, ratios, service.registry.licences(principal, org), holdings, findings,
        graded.grades[org], grade_scale(insight.weights),
    )  # fmt: skip


def grade_scale(weights: RiskWeights) -> str:
    steps = [f"{step.grade} < {step.below} ≤ " for step in weights.grades]
    return "".join(steps) + weights.last_grade


# -- map ---------------------------------------------------------------------------------------


def map_data(service: Service, insight: Insight, principal: Principal) -> dict[str, Any]:
    """Sites (with grade and Σq/Q), shipments in transit at their last fix, open findings."""
    graded = grade_orgs(service, insight, principal)
    grades = graded.grades
    ratios = {site: hazard.ratio for site, hazard in graded.hazards.items()}
    sites_out, points = [], {}
    for record in service.registry.visible_records(principal, "site"):
        point = _point(record.attrs)
        if point is None:
            continue
        points[record.record_id] = point
        org = str(record.attr("org"))
        grade = grades.get(org)
        sites_out.append(
            {
                "site": record.record_id,
                "name": record.attr("name"),
                "org": org,
                "lat": point[0],
                "lon": point[1],
                "ratio": round(ratios.get(record.record_id, 0), 4),
                "grade": grade.grade if grade else None,
                "points": grade.points if grade else None,
            }
        )
    shipments = []
    if principal.role in ITEM_READERS:
        for state in service.queries.visible_states(principal, None, status="in_transit"):
            fix = None
            for logged in reversed(service.queries.item_events(state.code)):
                geo = logged.event.body.geo
                if geo is not None:
                    fix = (float(geo.lat), float(geo.lon), logged.event.body.time)
                    break
            if fix is not None:
                shipments.append(
                    {
                        "code": state.code,
                        "holder": state.holder,
                        "destination": state.destination,
                        "chemical": state.chemical,
                        "lat": fix[0],
                        "lon": fix[1],
                        "at": fix[2],
                    }
                )
    findings = []
    if principal.role in ITEM_READERS:
        open_findings, _ = all_findings(service, principal, FindingFilter(status="open"))
        for stored in open_findings:
            f = stored.finding
            point = points.get(f.site or "")
            if point is not None:
                findings.append(
                    {
                        "id": f.id,
                        "rule": f.rule,
                        "severity": f.severity,
                        "site": f.site,
                        "lat": point[0],
                        "lon": point[1],
                    }
                )
    return {"sites": sites_out, "shipments": shipments, "findings": findings}
