"""Quantities in mixed units (g, kg, t, mL, L, m³), written exactly.

The simulator keeps its own canonical mass (kg) per item; an event's quantity is first
chosen in a unit and its kg derived from it exactly (the SI prefixes, and litres times
the catalog density), so no rounding ever separates what was written from what is meant.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Final

from sim.simulator.products import Product

SCALES: Final[dict[str, dict[str, Decimal]]] = {
    "kg": {"kg": Decimal(1), "g": Decimal(1000), "t": Decimal("0.001")},
    "L": {"L": Decimal(1), "mL": Decimal(1000), "m3": Decimal("0.001")},
}
"""Per base unit: how many of each unit make one base unit."""


def text(value: Decimal) -> str:
    out = format(value.normalize(), "f")
    return out if "." not in out else out.rstrip("0").rstrip(".") or "0"


def in_base(product: Product, kg: Decimal) -> Decimal:
    """``kg`` in the product's base unit (exact for amounts built by :func:`amount`)."""
    return kg / product.per_unit_kg


def written(product: Product, kg: Decimal, rng: random.Random | None = None,
            unit: str | None = None) -> dict[str, str]:  # fmt: skip
    """A quantity of ``kg`` written in the product's base unit or, drawn, a scaled one."""
    base = in_base(product, kg)
    scales = SCALES[product.unit]
    chosen = unit or (rng.choice(sorted(scales)) if rng is not None else product.unit)
    for name in (chosen, product.unit):
        value = text(base * scales[name])
        if _fits(value):
            return {"value": value, "unit": name}
    return {"value": text(kg.quantize(Decimal("0.001"))), "unit": "kg"}


def _fits(value: str) -> bool:
    """The ledger's decimal strings: at most 15 integer and 9 fraction digits."""
    whole, _, fraction = value.partition(".")
    return len(whole) <= 15 and len(fraction) <= 9


def amount(product: Product, base_units: Decimal) -> Decimal:
    """kg of ``base_units`` of the product's base unit (e.g. litres × density)."""
    return base_units * product.per_unit_kg
