"""What the console computes from the services' answers: chemical names, Σq/Q per site,
storage groups and clashes. The enterprise risk grade is ``ledger.risk``'s
(:mod:`api.console.grading` gathers its inputs).

Nothing here reads a store: it takes item states, findings and registry records the services
returned within the caller's scope, and the catalog and rules configuration.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from api.catalogs import DEFAULT_RULES, load_risk_weights, load_rules
from ledger.catalog import Catalog
from ledger.catalog.registry import CatalogRegistry
from ledger.errors import LedgerError
from ledger.risk import RiskWeights
from ledger.rules.config import RulesConfig
from ledger.rules.storage import clash, storage_groups
from ledger.rules.world import ChemicalFacts, Chemistry
from ledger.state import GONE, ItemState


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


class Insight:
    """The catalog and rules the console reads with (one per app)."""

    def __init__(
        self,
        catalogs: CatalogRegistry,
        rules: RulesConfig | None = None,
        weights: RiskWeights | None = None,
    ) -> None:
        self._catalogs = catalogs
        self._chemistry = Chemistry(catalogs)
        self.rules = rules or load_rules(DEFAULT_RULES)
        self.weights = weights or load_risk_weights()
        """The risk grade's weights (``catalogs/risk-grade/``)."""

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
