"""What the simulated city handles: every form of the 35 chemicals, its package and units.

A *family* is a set of forms that may share a store by the simulator's own reading of
GB 15603 / GHS (:func:`sim.simulator.regulation.may_share_store`); every simulated site
holds one family, so compliant flows never co-store what the regulation keeps apart.
:func:`check_families` proves that at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from sim.simulator import regulation

CATALOG: Final = "2026-draft.1"

GAS_FILL_KG: Final[dict[str, str]] = {
    "1": "50", "2": "400", "4": "0.6", "8": "20", "9": "7", "11": "10", "13": "15", "14": "8",
    "15": "8", "16": "7", "17": "25", "18": "40", "19": "30", "20": "40", "21": "5", "22": "5",
    "23": "10", "24": "2", "32": "20",
}  # fmt: skip
"""Typical fill of one cylinder (kg) per chemical: an engineering figure, not a rule."""


@dataclass(frozen=True, slots=True)
class Product:
    form: str
    packaging: str
    kg: Decimal
    """A full package, in kg (the simulator's own canonical mass)."""
    unit: str
    """The unit its commission and most of its events are written in."""
    per_unit_kg: Decimal
    """kg per one ``unit`` (exact: litres × the catalog's density)."""


def _product(form_id: str) -> Product:
    form = regulation.forms()[form_id]
    seq, density = form.chemical.seq, form.chemical.density_kg_per_l
    if form.transport_class.startswith("2") and "refrigerated" not in form.description:
        return Product(form_id, "cylinder", Decimal(GAS_FILL_KG.get(seq, "10")), "kg", Decimal(1))
    if form.transport_class.startswith("2"):
        return Product(form_id, "tank", Decimal(500), "kg", Decimal(1))
    if density is not None:  # a liquid with a catalog density: written in litres
        return Product(form_id, "drum", Decimal(200) * density, "L", density)
    solid = "solid" in form.description or seq in ("28", "29", "30")
    return Product(form_id, "bag" if solid else "drum", Decimal(25 if solid else 160), "kg",
                   Decimal(1))  # fmt: skip


PRODUCTS: Final[dict[str, Product]] = {f: _product(f) for f in regulation.forms()}
GASES: Final = {f: p for f, p in PRODUCTS.items() if p.packaging == "cylinder"}
PACKAGED: Final = {f: p for f, p in PRODUCTS.items() if p.packaging != "cylinder"}
BOTTLE_KG: Final = {
    f: "2.5" for f, p in PACKAGED.items() if p.packaging == "drum" and p.unit == "L"
}
"""Liquids decanted into laboratory bottles at distribution hubs (2.5 L bottles)."""


def _family(form_id: str) -> str:
    groups = regulation.storage_groups(form_id)
    if "highly_toxic" in groups:
        return f"toxic-{regulation.forms()[form_id].chemical.seq}"
    if "oxidizer" in groups:
        return "oxidizing"
    if "flammable" in groups:
        return "flammable"
    if "cyanide" in groups:
        return "toxic-25"
    return ""


def _families() -> dict[str, tuple[str, ...]]:
    own = {f: _family(f) for f in PRODUCTS}
    named = sorted({v for v in own.values() if v})
    neutral = [f for f, v in own.items() if not v]  # no §2.8 group: storable with any family
    out: dict[str, tuple[str, ...]] = {}
    for name in named:
        members = tuple(f for f, v in own.items() if v == name)
        extra = tuple(f for f in neutral if all(regulation.may_share_store(f, m) for m in members))
        out[name] = members + extra
    return out


FAMILIES: Final[dict[str, tuple[str, ...]]] = _families()
PROHIBITED_FORM: Final = "7.1"
"""Acrylonitrile: on the simulation-only prohibited list (``catalogs/rules/simulation.json``)."""


def product(form: str) -> Product:
    return PRODUCTS[form]


def family_of(form: str) -> str:
    """The first family holding ``form`` (forms in several families are neutral)."""
    return next(name for name, forms in FAMILIES.items() if form in forms)


def check_families() -> None:
    """Raise unless every two forms of each family may share a store (by §2.8)."""
    for name, forms in FAMILIES.items():
        for a in forms:
            for b in forms:
                if a != b and not regulation.may_share_store(a, b):
                    raise ValueError(f"family {name}: {a} and {b} must be stored apart")
