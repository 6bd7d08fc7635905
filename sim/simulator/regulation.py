"""The simulator's own reading of the regulations (``domain-rules.md``), from the catalog data.

Nothing here comes from the engine: categories, GHS hazards, densities and GB 18218
thresholds are read from the catalog CSVs with :mod:`csv`, and each judgement below
quotes the regulation it encodes. Compliant background stories are built to pass these
judgements; injected anomalies are built to fail exactly one of them.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

import chinese_calendar  # type: ignore[import-untyped]

CATALOG_DIR: Final = Path(__file__).resolve().parents[2] / "catalogs" / "2026-draft.1"
BEIJING: Final = ZoneInfo("Asia/Shanghai")

STRICT: Final = frozenset({"highly_toxic", "explosive_precursor"})
"""R-TOX-6: 剧毒 and 易制爆 losses are reported immediately: zero tolerance."""
HOLDER_LICENSED: Final = frozenset(
    {"highly_toxic", "explosive_precursor", "drug_precursor_cat1", "drug_precursor_cat2",
     "drug_precursor_cat3"}
)  # fmt: skip
"""R-TOX-1 / R-PRE-1: a holder of these needs a licence or a permit/filing."""
FILING_DAYS: Final = 5
"""R-TOX-4 (Decree 591 Art. 41): report the sale or purchase within 5 days."""
MHI_UNIT_M: Final = 500
"""GB 18218: one enterprise's facilities less than 500 m apart are one unit."""
MHI_LIMIT: Final = Decimal(1)
"""GB 18218 R-MHI-1: S = Σ q/Q ≥ 1 is a major hazard installation."""


@dataclass(frozen=True, slots=True)
class Chemical:
    seq: str
    name: str
    categories: frozenset[str]
    ghs: str
    density_kg_per_l: Decimal | None


@dataclass(frozen=True, slots=True)
class Form:
    form_id: str
    chemical: Chemical
    description: str
    transport_class: str
    subsidiary: tuple[str, ...]
    threshold_t: Decimal | None


@cache
def chemicals() -> dict[str, Chemical]:
    with (CATALOG_DIR / "key-chemicals.csv").open(encoding="utf-8") as handle:
        return {
            row["seq"]: Chemical(
                row["seq"], row["name_en"], frozenset(filter(None, row["categories"].split(";"))),
                row["ghs_hazards"],
                Decimal(row["density_kg_per_l"]) if row["density_kg_per_l"] else None,
            )
            for row in csv.DictReader(handle)
        }  # fmt: skip


@cache
def forms() -> dict[str, Form]:
    table = chemicals()
    with (CATALOG_DIR / "chemical-forms.csv").open(encoding="utf-8") as handle:
        return {
            row["form_id"]: Form(
                row["form_id"], table[row["chemical_seq"]], row["form"], row["transport_class"],
                tuple(filter(None, row["subsidiary_risks"].split(";"))),
                Decimal(row["major_hazard_threshold_t"]) if row["major_hazard_threshold_t"]
                else None,
            )
            for row in csv.DictReader(handle)
        }  # fmt: skip


def categories(form_id: str) -> frozenset[str]:
    return forms()[form_id].chemical.categories


def is_strict(form_id: str) -> bool:
    return bool(categories(form_id) & STRICT)


def needs_holder_licence(form_id: str) -> bool:
    return bool(categories(form_id) & HOLDER_LICENSED)


# -- GB 15603 / GHS storage segregation (domain-rules.md §2.8, provisional) ---------------

SEGREGATION: Final[tuple[tuple[str, str], ...]] = (
    ("oxidizer", "flammable"),  # oxidizers (incl. oxidising gases) apart from flammables
    ("acid", "cyanide"),  # acids apart from cyanides and sulfides
    ("highly_toxic", "*"),  # 剧毒 in a separate locked store
)
"""§2.8 [unverified] starting rules; a GHS class (not a UN class) decides the group."""


def storage_groups(form_id: str) -> frozenset[str]:
    """The §2.8 groups of a form, read from its GHS hazard statement and categories."""
    form = forms()[form_id]
    ghs, cats = form.chemical.ghs, form.chemical.categories
    groups: set[str] = set()
    if "Ox. " in ghs:
        groups.add("oxidizer")
    if "Flam. " in ghs or "Pyr. " in ghs:
        groups.add("flammable")
    if "Skin Corr." in ghs and "corrosive" in cats:
        groups.add("acid")
    if "cyanide" in form.chemical.name.lower() or "sulfide" in form.chemical.name.lower():
        groups.add("cyanide")
    if "highly_toxic" in cats:
        groups.add("highly_toxic")
    return frozenset(groups)


def may_share_store(a: str, b: str) -> bool:
    if forms()[a].chemical.seq == forms()[b].chemical.seq:
        return True
    ga, gb = storage_groups(a), storage_groups(b)
    for x, y in SEGREGATION:
        if y == "*":
            if (x in ga) != (x in gb):
                return False
        elif (x in ga and y in gb) or (y in ga and x in gb):
            return False
    return True


# -- GB 18218 --------------------------------------------------------------------------


def hazard_sum(holdings_kg: dict[str, Decimal]) -> Decimal:
    """S = Σ qᵢ/Qᵢ over forms (q in t) that have a critical quantity."""
    total = Decimal(0)
    for form_id, kg in holdings_kg.items():
        q = forms()[form_id].threshold_t
        if q:
            total += kg / 1000 / q
    return total


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine, mean Earth radius 6371.0088 km)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371008.8 * math.asin(math.sqrt(h))


# -- the local calendar and the Civil Code's day counting ------------------------------


def beijing_date(epoch: int) -> date:
    return datetime.fromtimestamp(epoch, UTC).astimezone(BEIJING).date()


def beijing_midnight(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=BEIJING).timestamp())


def filing_deadline(epoch: int, days: int = FILING_DAYS) -> int:
    """The end of a period of ``days`` days starting at ``epoch`` (Beijing): 24:00 of its
    last day, an instant at which an act is still in time.

    Civil Code art. 201: the day of the act is not counted; art. 203: the last day runs to
    24:00 and a last day that is a statutory holiday moves to the next working day
    (chinese-calendar's official holiday data). Issue 13: exactly on time is on time.
    """
    last = beijing_date(epoch) + timedelta(days=days)
    while chinese_calendar.is_holiday(last):
        last += timedelta(days=1)
    return beijing_midnight(last + timedelta(days=1))


def utc_text(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
