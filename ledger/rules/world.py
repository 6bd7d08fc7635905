"""The registry facts and chemical facts the rules read, kept current in log order. Pure.

Records and licences are applied in the order the log holds them, so a rule judging an
event sees exactly the registry as it stood when that event was logged: a licence
issued afterwards cannot excuse it, whatever its ``valid_from`` says.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from ledger.catalog import Catalog, CatalogError, CatalogRegistry, UnknownChemicalError
from ledger.catalog.ghs import parse_ghs
from ledger.licences import Licence
from ledger.records import RegistryRecord
from ledger.timefmt import parse_utc
from ledger.units import MASS_ONLY, CatalogUnits, FormMeasure

EARTH_RADIUS_KM = 6371.0088


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (lat, lon) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


@lru_cache(maxsize=65536)
def when(text: str) -> datetime:
    """Parse an RFC 3339 UTC time (cached: the same times recur across rules)."""
    return parse_utc(text)


@dataclass(frozen=True, slots=True)
class ChemicalFacts:
    """What the rules need to know about one catalog chemical or form."""

    code: str
    seq: str
    name: str
    categories: frozenset[str]
    classes: frozenset[str]
    """Transport class and subsidiary risks of the form (of every form for a bare seq)."""
    transport_class: str | None
    critical_t: Decimal | None
    measure: FormMeasure
    """How its quantities become kilograms (exact factors, built with pint at catalog load)."""
    ghs: frozenset[str] = frozenset()
    """GHS hazard classes of the chemical (``ledger.catalog.ghs``), for segregation."""

    def in_any(self, categories: Iterable[str]) -> bool:
        return not self.categories.isdisjoint(categories)


def class_matches(pattern: str, classes: Iterable[str]) -> bool:
    """``2`` matches 2, 2.1 and 2.3; ``2.1`` matches only 2.1 (and 2.1x divisions)."""
    return any(c == pattern or c.startswith(pattern + ".") for c in classes)


class Chemistry:
    """Chemical facts by (catalog version, code), and quantity conversion to kilograms."""

    def __init__(self, catalogs: CatalogRegistry) -> None:
        self._catalogs = catalogs
        self.units = CatalogUnits(catalogs)
        """The one pint registry of this engine, and every form's measure."""
        self._cache: dict[tuple[str, str], ChemicalFacts | None] = {}

    @property
    def catalogs(self) -> CatalogRegistry:
        """The catalog versions it reads (a snapshot is bound to them)."""
        return self._catalogs

    def facts(self, version: str, code: str | None) -> ChemicalFacts | None:
        """The facts of ``code`` under catalog ``version``; ``None`` if unknown."""
        if code is None:
            return None
        key = (version, code)
        try:
            return self._cache[key]
        except KeyError:  # once per chemical and catalog version
            known = self._cache[key] = self._load(version, code)
            return known

    def _load(self, version: str, code: str) -> ChemicalFacts | None:
        try:
            catalog: Catalog = self._catalogs.get(version)
            chemical, form = catalog.resolve(code)
        except (UnknownChemicalError, CatalogError, LookupError):
            return None
        forms = (form,) if form is not None else catalog.forms_of(chemical.seq)
        classes = frozenset(c for f in forms for c in (f.transport_class, *f.subsidiary_risks) if c)
        thresholds = [
            f.major_hazard_threshold_t
            for f in forms
            if f.major_hazard_threshold_t is not None and f.in_major_hazard_scope
        ]
        seq = str(chemical.seq)
        measure = self.units.measure(version, code)
        if measure is None:
            return None
        return ChemicalFacts(
            code=code,
            seq=seq,
            name=chemical.name_en,
            categories=chemical.categories,
            classes=classes,
            transport_class=forms[0].transport_class if forms else None,
            critical_t=min(thresholds) if thresholds else None,
            measure=measure,
            ghs=parse_ghs(chemical.ghs_hazards),
        )

    @staticmethod
    def kilograms(value: Decimal, unit: str, chem: ChemicalFacts | None) -> Decimal | None:
        """The mass of ``value unit`` of ``chem``; ``None`` when it cannot be known.

        A volume needs the form's density, normal cubic metres its normal density, and a
        piece a fill rule; an unknown chemical converts nothing but a mass. There is no
        default density: the rule ``quantity.unit_unknown`` reports what cannot be converted.
        """
        return (MASS_ONLY if chem is None else chem.measure).kilograms(value, unit)


@dataclass(slots=True)
class Registry:
    """The latest version of every registry record, and every licence, as logged so far."""

    records: dict[tuple[str, str], RegistryRecord] = field(default_factory=dict)
    licences: dict[str, dict[str, Licence]] = field(default_factory=lambda: defaultdict(dict))
    vehicles_by_plate: dict[str, str] = field(default_factory=dict)
    crew_by_person: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    permits_by_org: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    sites_by_org: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    site_epoch: int = 0
    """Bumped whenever a site record changes (its org or place), to refresh derived units."""

    def apply_record(self, record: RegistryRecord) -> None:
        key = (record.kind, record.record_id)
        first = key not in self.records
        if record.kind == "site":
            old = self.records.get(key)
            if old is not None:
                self.sites_by_org[str(old.attrs["org"])].discard(record.record_id)
            self.sites_by_org[str(record.attrs["org"])].add(record.record_id)
            self.site_epoch += 1
        self.records[key] = record
        if record.kind == "vehicle":
            self.vehicles_by_plate[str(record.attrs["plate"])] = record.record_id
        elif first and record.kind == "crew":
            self.crew_by_person[str(record.attrs["person"])].append(record.record_id)
        elif first and record.kind == "permit":
            self.permits_by_org[str(record.attrs["org"])].append(record.record_id)

    def apply_licence(self, licence: Licence) -> None:
        self.licences[licence.org][licence.licence_no] = licence

    def attrs(self, kind: str, record_id: str | None) -> Mapping[str, Any] | None:
        if record_id is None:
            return None
        record = self.records.get((kind, record_id))
        return None if record is None else record.attrs

    def org_type(self, org: str | None) -> str | None:
        attrs = self.attrs("org", org)
        return None if attrs is None else str(attrs["type"])

    def site_point(self, site: str | None) -> tuple[float, float] | None:
        attrs = self.attrs("site", site)
        return None if attrs is None else (float(attrs["lat"]), float(attrs["lon"]))

    def km_to_site(self, point: tuple[float, float] | None, site: str | None) -> float | None:
        """Great-circle km from ``point`` to ``site``; ``None`` if either is not known."""
        target = self.site_point(site)
        return None if point is None or target is None else distance_km(point, target)

    def district_of(self, site: str | None, org: str | None) -> str | None:
        for kind, record_id in (("site", site), ("org", org)):
            attrs = self.attrs(kind, record_id)
            if attrs is not None:
                return str(attrs["district"])
        return None

    def vehicle(self, ref: str | None) -> Mapping[str, Any] | None:
        """A vehicle by record id or by plate."""
        if ref is None:
            return None
        return self.attrs("vehicle", ref) or self.attrs("vehicle", self.vehicles_by_plate.get(ref))

    def crew_valid(self, person: str, role: str, moment: datetime) -> bool:
        for crew_id in self.crew_by_person.get(person, ()):
            attrs = self.records[("crew", crew_id)].attrs
            if attrs["role"] == role and attrs["status"] == "active" and in_window(attrs, moment):
                return True
        return False

    def licensed(
        self, org: str, activities: Iterable[str], chem: ChemicalFacts | None, moment: datetime
    ) -> bool:
        """Whether ``org`` held, at ``moment``, a licence for one of ``activities`` on ``chem``."""
        wanted = activities if isinstance(activities, (set, frozenset)) else set(activities)
        return any(
            licence.covers(moment)
            and not wanted.isdisjoint(licence.activities)
            and covers_chemical(licence.chemicals, chem)
            for licence in self.licences.get(org, {}).values()
        )

    def permit(
        self,
        org: str,
        kinds: Iterable[str],
        chem: ChemicalFacts | None,
        moment: datetime,
        *,
        counterparty: str | None = None,
        number: str | None = None,
    ) -> RegistryRecord | None:
        """A permit or filing of ``org`` of one of ``kinds`` that covers ``chem`` at ``moment``."""
        wanted = set(kinds)
        for permit_id in self.permits_by_org.get(org, ()):
            record = self.records[("permit", permit_id)]
            attrs = record.attrs
            if (attrs["kind"] in wanted and attrs["status"] != "revoked"
                    and in_window(attrs, moment)
                    and covers_chemical(attrs["chemicals"], chem)
                    and (counterparty is None or attrs.get("counterparty") in (None, counterparty))
                    and (number is None or attrs["number"] == number)):  # fmt: skip
                return record
        return None


def in_window(attrs: Mapping[str, Any], moment: datetime) -> bool:
    """Whether ``moment`` is inside a record's ``[valid_from, valid_until)``."""
    return when(str(attrs["valid_from"])) <= moment < when(str(attrs["valid_until"]))


def covers_chemical(tokens: object, chem: ChemicalFacts | None) -> bool:
    """``all``, the chemical's seq or form code, or ``class:X`` matching its classes."""
    if not isinstance(tokens, (list, tuple)):
        return False
    for token in tokens:
        text = str(token)
        if text == "all":
            return True
        if chem is None:
            continue
        if text in (chem.seq, chem.code):
            return True
        if text.startswith("class:") and class_matches(text[6:], chem.classes):
            return True
    return False
