"""What the console computes from the services' answers: chemical names, Σq/Q per site,
storage groups and clashes, and the enterprise risk grade.

Nothing here reads a store: it takes item states, findings and registry records the services
returned within the caller's scope, and the catalog and rules configuration.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Final

from api.catalogs import DEFAULT_RULES, load_rules
from ledger.catalog import Catalog
from ledger.catalog.registry import CatalogRegistry
from ledger.errors import LedgerError
from ledger.rules.config import RulesConfig
from ledger.rules.storage import clash, storage_groups
from ledger.rules.world import ChemicalFacts, Chemistry
from ledger.state import GONE, ItemState

SEVERITY_POINTS: Final[dict[str, int]] = {"critical": 40, "high": 15, "medium": 5, "low": 1}
"""Risk points per open finding, by severity (docs/console.md, "Risk grade")."""
RATIO_POINTS: Final[tuple[tuple[float, int], ...]] = ((1.0, 40), (0.5, 15), (0.1, 5))
"""Risk points for the largest Σq/Q among an enterprise's sites: at least 1 (a major
hazard source under GB 18218), at least 0.5, at least 0.1."""
GRADES: Final[tuple[tuple[int, str], ...]] = ((10, "A"), (30, "B"), (60, "C"))
"""Below 10 points A, below 30 B, below 60 C, else D."""


@dataclass(frozen=True, slots=True)
class ChemicalName:
    code: str
    name_cn: str
    name_en: str
    cas: str | None
    un: str | None
    categories: frozenset[str]

    def label(self, lang: str) -> str:
        return self.name_cn if lang == "zh" else self.name_en


@dataclass
class SiteHazard:
    """What one site holds, as GB 18218 and the segregation matrix see it."""

    site: str
    ratio: float = 0.0
    items: int = 0
    kilograms: Decimal = Decimal(0)
    by_chemical: Counter[str] = field(default_factory=Counter)
    groups: dict[str, frozenset[str]] = field(default_factory=dict)
    clashes: list[tuple[str, str, str]] = field(default_factory=list)
    """(chemical, chemical, the matrix's cell) for every pair the matrix does not allow."""
    unconverted: int = 0
    """Items whose quantity could not be converted to kilograms (left out of Σq/Q)."""


@dataclass(frozen=True, slots=True)
class Grade:
    grade: str
    points: int
    reasons: tuple[tuple[str, int], ...]
    """(reason, points) for every contribution, so the grade explains itself."""


class Insight:
    """The catalog and rules the console reads with (one per app)."""

    def __init__(self, catalogs: CatalogRegistry, rules: RulesConfig | None = None) -> None:
        self._catalogs = catalogs
        self._chemistry = Chemistry(catalogs)
        self.rules = rules or load_rules(DEFAULT_RULES)

    def catalog(self) -> Catalog:
        return self._catalogs.current(datetime.now(UTC).date())

    def facts(self, code: str | None) -> ChemicalFacts | None:
        return self._chemistry.facts(self.catalog().version, code)

    def name(self, code: str | None) -> ChemicalName | None:
        if code is None:
            return None
        try:
            chemical, form = self.catalog().resolve(code)
        except LedgerError:
            return None
        forms = (form,) if form is not None else self.catalog().forms_of(chemical.seq)
        uns = sorted({f.un_number for f in forms if f.un_number})
        return ChemicalName(
            code,
            chemical.name_cn,
            chemical.name_en,
            chemical.cas or None,
            "/".join(uns) or None,
            chemical.categories,
        )

    def kilograms(self, state: ItemState) -> Decimal | None:
        if state.quantity is None or state.unit is None:
            return None
        return Chemistry.kilograms(state.quantity, state.unit, self.facts(state.chemical))

    def site_hazards(self, states: Iterable[ItemState]) -> dict[str, SiteHazard]:
        """Σq/Q, kilograms, storage groups and clashes per site, from the items held there."""
        sites: dict[str, SiteHazard] = {}
        matrix = self.rules.storage.segregation
        for state in states:
            if state.site is None or state.status != "active":
                continue
            hazard = sites.setdefault(state.site, SiteHazard(state.site))
            hazard.items += 1
            facts = self.facts(state.chemical)
            kg = self.kilograms(state)
            if kg is None:
                hazard.unconverted += 1
            else:
                hazard.kilograms += kg
                if facts is not None and facts.critical_t:
                    hazard.ratio += float(kg / 1000 / facts.critical_t)
            if state.chemical is not None:
                hazard.by_chemical[state.chemical] += 1
                if facts is not None and state.chemical not in hazard.groups:
                    hazard.groups[state.chemical] = storage_groups(self.rules, facts)
        for hazard in sites.values():
            held = sorted(hazard.groups.items())
            for i, (one, mine) in enumerate(held):
                for other, theirs in held[i + 1 :]:
                    found = clash(matrix, mine, theirs)
                    if found is not None:
                        hazard.clashes.append((one, other, f"{found[0]}: {found[1]}"))
        return sites

    def holdings(
        self, states: Iterable[ItemState], district_of: Mapping[str, str]
    ) -> tuple[dict[str, tuple[int, Decimal]], dict[str, tuple[int, Decimal]]]:
        """Items and kilograms held, by catalog category and by district."""
        by_category: dict[str, tuple[int, Decimal]] = defaultdict(lambda: (0, Decimal(0)))
        by_district: dict[str, tuple[int, Decimal]] = defaultdict(lambda: (0, Decimal(0)))
        for state in states:
            if state.status in GONE or state.status == "lost":
                continue
            kg = self.kilograms(state) or Decimal(0)
            name = self.name(state.chemical)
            for category in sorted(name.categories) if name else ["unknown"]:
                count, total = by_category[category]
                by_category[category] = (count + 1, total + kg)
            district = district_of.get(state.site or "", "in_transit")
            count, total = by_district[district]
            by_district[district] = (count + 1, total + kg)
        return dict(by_category), dict(by_district)


def risk_grade(open_by_severity: Mapping[str, int], max_ratio: float) -> Grade:
    """The enterprise risk grade: points for open findings by severity and for its largest
    Σq/Q, graded A (least) to D. Every contribution is a reason."""
    reasons: list[tuple[str, int]] = []
    for severity, points in SEVERITY_POINTS.items():
        count = open_by_severity.get(severity, 0)
        if count:
            reasons.append((f"{count} open {severity} finding(s) × {points}", count * points))
    for floor, points in RATIO_POINTS:
        if max_ratio >= floor:
            reasons.append((f"largest site Σq/Q {max_ratio:.2f} ≥ {floor}", points))
            break
    total = sum(points for _, points in reasons)
    grade = next((g for limit, g in GRADES if total < limit), "D")
    return Grade(grade, total, tuple(reasons))
