"""What the simulated city handles: chemical forms, their packages, and storage families.

A *family* is a set of forms that may share a store under the rules' segregation matrix
(``storage.groups`` / ``storage.incompatible``); every simulated site holds one family
only, so compliant flows never co-store incompatible groups. :func:`check_families` proves
that against the configuration at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from ledger.rules import storage
from ledger.rules.config import RulesConfig
from ledger.rules.world import ChemicalFacts, Chemistry

CATALOG: Final = "2026-draft.1"


@dataclass(frozen=True, slots=True)
class Product:
    form: str
    packaging: str
    kg: Decimal
    """A full package."""


def _p(form: str, packaging: str, kg: str) -> Product:
    return Product(form, packaging, Decimal(kg))


GASES: Final = {
    p.form: p
    for p in (
        _p("1.1", "cylinder", "50"), _p("2.1", "cylinder", "400"), _p("4.1", "cylinder", "0.6"),
        _p("8.1", "cylinder", "20"), _p("9.1", "cylinder", "7"), _p("13.1", "cylinder", "15"),
        _p("15.1", "cylinder", "8"), _p("16.1", "cylinder", "7"), _p("17.1", "cylinder", "25"),
        _p("18.1", "cylinder", "40"), _p("21.1", "cylinder", "5"), _p("22.1", "cylinder", "5"),
        _p("23.1", "cylinder", "10"), _p("24.1", "cylinder", "2"),
    )
}  # fmt: skip
PACKAGED: Final = {
    p.form: p
    for p in (
        _p("5.1", "drum", "180"), _p("6.1", "drum", "160"), _p("10.1", "drum", "170"),
        _p("12.1", "drum", "180"), _p("25.1", "bag", "50"), _p("26.2", "drum", "250"),
        _p("27.2", "drum", "200"), _p("29.1", "bag", "25"), _p("30.1", "drum", "50"),
        _p("31.1", "drum", "250"), _p("32.1", "drum", "240"), _p("33.1", "drum", "160"),
        _p("34.1", "drum", "250"), _p("35.1", "drum", "140"), _p("7.1", "drum", "160"),
    )
}  # fmt: skip
BOTTLE_KG: Final = {
    "26.2": "2.5", "27.2": "2.5", "30.1": "0.5", "31.1": "2.5", "32.1": "2.5", "33.1": "2",
    "34.1": "2.5", "35.1": "0.5", "10.1": "2", "6.1": "2",
}  # fmt: skip
"""Forms decanted into laboratory bottles at distribution hubs, and the bottle size."""

FAMILIES: Final[dict[str, tuple[str, ...]]] = {
    "flammable": ("4.1", "5.1", "6.1", "9.1", "10.1", "12.1", "13.1", "18.1", "23.1", "33.1",
                  "35.1", "16.1", "17.1", "31.1", "32.1", "2.1", "34.1", "7.1"),
    "oxidizing": ("15.1", "27.2", "29.1", "30.1", "1.1", "16.1", "17.1", "31.1", "32.1",
                  "26.2"),
    "toxic_gas": ("8.1", "21.1", "22.1", "16.1", "17.1"),
    "cyanide": ("25.1", "24.1"),
}  # fmt: skip
PROHIBITED_FORM: Final = "7.1"
"""Acrylonitrile: on the simulation-only prohibited list (``catalogs/rules/simulation.json``)."""


def product(form: str) -> Product:
    return GASES.get(form) or PACKAGED[form]


def family_of(form: str) -> str:
    """The first family holding ``form`` (forms in several families are neutral)."""
    return next(name for name, forms in FAMILIES.items() if form in forms)


def clash(config: RulesConfig, arriving: frozenset[str], present: frozenset[str]) -> bool:
    """Whether goods of groups ``arriving`` may not share a store with ``present`` (as
    ``ledger.rules.storage.clash`` judges it: through groups the two do not share)."""
    return storage.clash(config.storage.segregation, arriving, present) is not None


def _facts(chemistry: Chemistry, form: str) -> ChemicalFacts:
    found = chemistry.facts(CATALOG, form)
    assert found is not None, form
    return found


def check_families(config: RulesConfig, chemistry: Chemistry) -> None:
    """Raise unless every two different forms of each family may share a store."""
    for name, forms in FAMILIES.items():
        groups = {f: storage.storage_groups(config, _facts(chemistry, f)) for f in forms}
        for a in forms:
            for b in forms:
                if a != b and clash(config, groups[a], groups[b]):
                    raise ValueError(f"family {name}: {a} and {b} must be stored apart")
