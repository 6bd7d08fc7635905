"""Quantities with units: pint where a quantity enters, exact decimals everywhere after. Pure.

Every chemical form has one canonical unit, the kilogram (GB 18218's thresholds, the
mass balance and the inventory are all masses). How a form's quantity may be written is
the form's *measure* (from the catalog): a liquid by mass or by volume at its reference
density; a liquefied or dissolved gas, a solid and a solution band by mass only; a
compressed gas by mass or by normal cubic metres (0 °C, 101.325 kPa) at its normal
density; a refrigerated liquid by mass, by liquid volume at its boiling-point density or
by normal cubic metres. A ``piece`` (a cylinder, a bag) has no mass until the form's
fill rule gives one, and no form has one yet; a cylinder's water capacity in litres is
not a quantity of gas.

pint is consulted once per (form, unit) when a :class:`Units` builds a
:class:`FormMeasure`; the measure then holds one exact :class:`~decimal.Decimal`
factor per convertible unit, so the fold and the rules multiply decimals only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Final, Literal, get_args

import pint

from ledger.catalog import (
    Catalog,
    CatalogError,
    CatalogRegistry,
    UnknownCatalogVersionError,
    UnknownChemicalError,
)
from ledger.errors import AppendRejectedError
from ledger.events import Commission, EventBody, Quantity, Transform, TransformData, Unit

Measure = Literal[
    "liquid",
    "solid",
    "solution_band",
    "liquefied_gas",
    "dissolved_gas",
    "compressed_gas",
    "refrigerated_liquid",
]
MEASURES: Final[frozenset[str]] = frozenset(get_args(Measure))
CANONICAL_UNIT: Final = "kg"
UNITS: Final[tuple[str, ...]] = get_args(Unit)

_BY_VOLUME: Final = frozenset({"liquid", "refrigerated_liquid"})
_BY_NORMAL_VOLUME: Final = frozenset({"compressed_gas", "refrigerated_liquid"})
_PINT_NAME: Final = {"m3": "m**3", "Nm3": "normal_cubic_metre", "t": "tonne"}
_WHY_NOT: Final = {
    "solid": "a solid is measured by mass",
    "solution_band": "a concentration band has no single density: write its mass",
    "liquefied_gas": "a liquefied gas is filled and measured by mass",
    "dissolved_gas": "a dissolved gas is measured by the mass of gas in the cylinder",
    "compressed_gas": "a compressed gas is measured by mass or in Nm3; litres would be the "
    "cylinder's water capacity, not the gas",
}


class UnitNotConvertibleError(AppendRejectedError):
    """A quantity cannot be expressed in its form's canonical unit (kg)."""

    code = "unit_not_convertible"


@dataclass(frozen=True, slots=True)
class FormMeasure:
    """How one form's (or one chemical's) quantities become kilograms."""

    form: str
    measure: str | None
    kg_per_unit: Mapping[str, Decimal] = field(default_factory=dict)
    reasons: Mapping[str, str] = field(default_factory=dict)

    def kilograms(self, value: Decimal, unit: str) -> Decimal | None:
        """``value unit`` in kg, exactly; ``None`` when it cannot be converted."""
        factor = self.kg_per_unit.get(unit)
        return None if factor is None else value * factor

    def require(self, value: Decimal, unit: str) -> Decimal:
        """``value unit`` in kg, or :class:`UnitNotConvertibleError` naming the form."""
        kg = self.kilograms(value, unit)
        if kg is None:
            why = self.reasons.get(unit, f"{unit!r} is not a unit of quantity")
            raise UnitNotConvertibleError(
                f"{value} {unit} of form {self.form} cannot be converted to kg: {why}",
                form=self.form,
                unit=unit,
            )
        return kg


class Units:
    """A pint registry (one per instance) and the measures built with it."""

    def __init__(self) -> None:
        self._registry: pint.UnitRegistry[Decimal] = pint.UnitRegistry(non_int_type=Decimal)
        # Normal cubic metres are their own dimension: only a form's normal density relates
        # them to mass, never pint's own notion of volume.
        self._registry.define("normal_cubic_metre = [normal_volume] = Nm3")
        self._kg = self._registry.Unit("kg")
        self._litre = self._registry.Unit("L")
        self._nm3 = self._registry.Unit("normal_cubic_metre")

    def factor(self, unit: str, target: str) -> Decimal | None:
        """The exact factor from ``unit`` to ``target`` (``kg``, ``L`` or ``Nm3``), if any."""
        try:
            quantity = self._registry.Quantity(Decimal(1), _PINT_NAME.get(unit, unit))
            goal = {"kg": self._kg, "L": self._litre, "Nm3": self._nm3}[target]
            if quantity.dimensionality != goal.dimensionality:
                return None
            magnitude = quantity.to(goal).magnitude
        except (pint.errors.PintError, KeyError, AttributeError):
            return None
        return _plain(Decimal(magnitude))

    def measure(
        self,
        form: str,
        measure: str | None,
        *,
        density_kg_per_l: Decimal | None = None,
        kg_per_nm3: Decimal | None = None,
    ) -> FormMeasure:
        """The measure of ``form``; a ``None`` measure (an old catalog) allows a volume only
        when a density is known.

        Raises:
            CatalogError: ``measure`` is not one of :data:`MEASURES`.
        """
        if measure is not None and measure not in MEASURES:
            raise CatalogError(f"unknown measure {measure!r}", form=form, measure=measure)
        by_volume = measure in _BY_VOLUME or measure is None
        by_normal = measure in _BY_NORMAL_VOLUME or measure is None
        factors: dict[str, Decimal] = {}
        reasons: dict[str, str] = {}
        for unit in UNITS:
            mass = self.factor(unit, "kg")
            litres = self.factor(unit, "L")
            normal = self.factor(unit, "Nm3")
            if mass is not None:
                factors[unit] = mass
            elif litres is not None and by_volume and density_kg_per_l is not None:
                factors[unit] = _plain(litres * density_kg_per_l)
            elif normal is not None and by_normal and kg_per_nm3 is not None:
                factors[unit] = _plain(normal * kg_per_nm3)
            elif unit == "piece":
                reasons[unit] = "a piece has no mass until the form has a fill rule"
            elif measure is not None and measure in _WHY_NOT:
                reasons[unit] = _WHY_NOT[measure]
            else:
                reasons[unit] = "the form has no " + (
                    "normal density" if normal is not None else "density"
                )
        return FormMeasure(form, measure, factors, reasons)


_KG_PER_MASS_UNIT: Final = {"kg": Decimal(1), "g": Decimal("0.001"), "t": Decimal(1000)}
MASS_ONLY: Final = FormMeasure(
    "-",
    None,
    MappingProxyType(_KG_PER_MASS_UNIT),
    MappingProxyType(
        dict.fromkeys(
            (u for u in UNITS if u not in _KG_PER_MASS_UNIT), "the item's chemical is not known"
        )
    ),
)
"""The measure of a quantity of no known chemical: a mass is a mass (the SI definitions of
the gram and the tonne, checked against pint in the tests); nothing else can be weighed.
The item fold and the rules both use it, so neither weighs what the other cannot."""


def _plain(number: Decimal) -> Decimal:
    """``1E+3`` as ``1000``: the same value, written as a quantity is (no exponent)."""
    number = number.normalize()
    return number.quantize(Decimal(1)) if number.as_tuple().exponent > 0 else number  # type: ignore[operator]


def common(form: str, measures: Iterable[FormMeasure]) -> FormMeasure:
    """A chemical named without its form: a unit converts only where every form agrees."""
    listed = list(measures)
    factors: dict[str, Decimal] = {}
    reasons: dict[str, str] = {}
    for unit in UNITS:
        seen = {m.kg_per_unit.get(unit) for m in listed}
        agreed = seen.pop() if len(seen) == 1 else None
        if agreed is not None:
            factors[unit] = agreed
        else:
            reasons[unit] = "its forms differ here: name the form (like 26.2)"
    only = listed[0].measure if len({m.measure for m in listed}) == 1 else None
    return FormMeasure(form, only, factors, reasons)


class CatalogUnits:
    """Measures of every form of every catalog version, built once each."""

    def __init__(self, catalogs: CatalogRegistry, units: Units | None = None) -> None:
        self._catalogs = catalogs
        self.units = units or Units()
        self._cache: dict[tuple[str, str], FormMeasure | None] = {}

    def measure(self, version: str, code: str | None) -> FormMeasure | None:
        """The measure of chemical or form ``code`` under ``version``; ``None`` if unknown."""
        if code is None:
            return None
        key = (version, code)
        if key not in self._cache:
            try:
                self._cache[key] = measure_of(self._catalogs.get(version), code, self.units)
            except (UnknownChemicalError, UnknownCatalogVersionError, CatalogError, LookupError):
                self._cache[key] = None
        return self._cache[key]

    def kilograms(
        self, version: str, code: str | None, value: Decimal, unit: str
    ) -> Decimal | None:
        """``value unit`` of ``code`` in kg; ``None`` when it cannot be converted.

        A code the catalog does not know converts only a mass (:data:`MASS_ONLY`).
        """
        return (self.measure(version, code) or MASS_ONLY).kilograms(value, unit)

    def require(self, version: str, code: str, value: Decimal, unit: str) -> Decimal:
        """``value unit`` of ``code`` in kg, or :class:`UnitNotConvertibleError`."""
        measure = self.measure(version, code)
        if measure is None:
            raise UnitNotConvertibleError(
                f"chemical {code!r} is not in catalog version {version}", form=code, unit=unit
            )
        return measure.require(value, unit)


def measure_of(
    catalog: Catalog, code: str, units: Units, *, kg_per_nm3: Decimal | None = None
) -> FormMeasure:
    """The measure of ``code`` (``"26"`` or ``"26.2"``) in ``catalog``.

    ``kg_per_nm3`` stands in for a normal density the catalog does not give (old versions).
    """
    chemical, form = catalog.resolve(code)
    forms = (form,) if form is not None else catalog.forms_of(chemical.seq)
    measures = [
        units.measure(
            f.form_id,
            f.measure,
            density_kg_per_l=f.density_kg_per_l if f.measure else chemical.density_kg_per_l,
            kg_per_nm3=f.kg_per_nm3 or kg_per_nm3,
        )
        for f in forms
    ]
    return measures[0] if form is not None else common(code, measures)


def event_quantities(body: EventBody) -> list[tuple[tuple[str, ...], Quantity]]:
    """Every quantity an event states, with the codes of the items it is a quantity of.

    One quantity on a many-item event is their total: it is of every one of them.
    """
    data = body.data
    if isinstance(data, TransformData):
        return [((c.code,), c.quantity) for c in (*data.inputs, *data.outputs)]
    # the field's value, not ``getattr(data, "quantity", None)``: a model without the field
    # answers that through pydantic's ``__getattr__`` and an exception, on every event
    quantity = vars(data).get("quantity")
    if not isinstance(quantity, Quantity):
        return []
    return [(tuple(link.code for link in body.items), quantity)]


def check_event_units(
    body: EventBody, units: CatalogUnits, chemicals: Mapping[str, str | None]
) -> None:
    """Reject a quantity that cannot become kilograms of its item's form.

    ``chemicals`` holds what the caller knows of each item's chemical code; a commission
    names its own, and a transform's outputs are of its first input's chemical. An item
    whose chemical the caller does not know is not judged here (the engine reports it,
    ``quantity.unit_unknown``). The server's ingest and the handheld, before it signs,
    call this same function, so a device never queues an event the server would refuse.

    Raises:
        UnitNotConvertibleError: naming the form, the unit and why.
    """
    known = dict(chemicals)
    if isinstance(body, Commission):
        known[body.items[0].code] = body.data.chemical
    if isinstance(body.data, TransformData):
        source = known.get(body.data.inputs[0].code)
        for output in body.data.outputs:
            known.setdefault(output.code, source)
    for codes, quantity in event_quantities(body):
        for chemical in dict.fromkeys(known.get(code) for code in codes):
            if chemical is not None:
                value = Decimal(quantity.value)
                units.require(body.catalog_version, chemical, value, quantity.unit)


GENESIS_DEPTH: Final = 16
"""How many transforms back an item's chemical is looked for (a decant of a decant...)."""


def chemical_of(code: str, genesis: Callable[[str], EventBody | None]) -> str | None:
    """An item's chemical code from its first event: a commission names it, a transform's
    output has its first input's; ``None`` when unknown (a pallet, an unknown item)."""
    for _ in range(GENESIS_DEPTH):
        body = genesis(code)
        if isinstance(body, Commission):
            return body.data.chemical
        if not isinstance(body, Transform):
            return None
        code = body.data.inputs[0].code
    return None
