"""Quantities with units: pint-built exact factors per form, no default density."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.catalog.loader import MEASURES as LOADER_MEASURES
from ledger.events import parse_body
from ledger.store.catalog_files import load_registry
from ledger.units import (
    MEASURES,
    CatalogUnits,
    FormMeasure,
    UnitNotConvertibleError,
    Units,
    check_event_units,
    chemical_of,
)

OLD, NEW = "2026-draft.1", "2027-draft.1"
HASH = "sha256:" + "ab" * 32
CATALOGS = CatalogUnits(load_registry())
UNITS = CATALOGS.units
ACETONE = CATALOGS.measure(NEW, "33.1")
NITROGEN_GAS = CATALOGS.measure(NEW, "16.1")
LIQUID_NITROGEN = CATALOGS.measure(NEW, "16.2")


def _measure(version: str, code: str) -> FormMeasure:
    measure = CATALOGS.measure(version, code)
    assert measure is not None
    return measure


def test_the_loader_and_the_units_agree_on_the_measures() -> None:
    assert LOADER_MEASURES == MEASURES


@pytest.mark.parametrize(
    ("value", "unit", "kg"),
    [
        ("1500", "g", "1.5"),
        ("1.5", "kg", "1.5"),
        ("0.0015", "t", "1.5"),
        ("2000", "mL", "1.5690000"),
        ("2", "L", "1.5690"),
        ("0.002", "m3", "1.5690000"),
    ],
)
def test_every_unit_of_acetone_is_exact_kilograms(value: str, unit: str, kg: str) -> None:
    # CRC: acetone 0.7845 kg/L at 25 °C (catalog 2027-draft.1, form 33.1)
    assert _measure(NEW, "33.1").kilograms(Decimal(value), unit) == Decimal(kg)


def test_a_tonne_is_written_without_an_exponent() -> None:
    assert str(_measure(NEW, "33.1").kilograms(Decimal("5"), "t")) == "5000"
    assert str(_measure(NEW, "33.1").kilograms(Decimal("3"), "m3")) == "2353.5"


@pytest.mark.parametrize(
    ("version", "code", "unit"),
    [
        (OLD, "1", "L"),  # chlorine: no density in the old catalog, no more 1 kg/L default
        (OLD, "2.1", "m3"),  # ammonia
        (OLD, "13", "mL"),  # LPG
        (NEW, "1.1", "L"),  # a liquefied gas is measured by mass
        (NEW, "13.1", "L"),
        (NEW, "16.1", "L"),  # a compressed gas: litres would be the water capacity
        (NEW, "26.2", "L"),  # a concentration band has no single density
        (NEW, "25.1", "L"),  # a solid
        (NEW, "33.1", "Nm3"),  # a liquid is not measured in normal cubic metres
        (NEW, "16.1", "piece"),  # a cylinder has no fill rule yet
        (OLD, "16", "Nm3"),  # the old catalog gives no normal density
    ],
)
def test_what_cannot_be_converted_is_refused_naming_the_form(
    version: str, code: str, unit: str
) -> None:
    measure = _measure(version, code)
    assert measure.kilograms(Decimal(1), unit) is None
    with pytest.raises(UnitNotConvertibleError) as info:
        CATALOGS.require(version, code, Decimal(1), unit)
    assert info.value.code == "unit_not_convertible"
    assert info.value.context["form"] == code and code in str(info.value)


@pytest.mark.parametrize(
    ("version", "code", "unit", "kg"),
    [
        (OLD, "33", "L", "0.784"),  # the old catalog's per-chemical density still counts
        (NEW, "16.2", "L", "0.8065"),  # liquid nitrogen at its boiling point
        (NEW, "16.2", "Nm3", "1.2506"),
        (NEW, "16.1", "Nm3", "1.2506"),
        (NEW, "1.1", "t", "1000"),
        (NEW, "1", "kg", "1"),  # a chemical named without its form
    ],
)
def test_what_can_be_converted_is_exact(version: str, code: str, unit: str, kg: str) -> None:
    assert CATALOGS.require(version, code, Decimal(1), unit) == Decimal(kg)


def test_a_bare_chemical_converts_a_volume_only_where_its_forms_agree() -> None:
    assert _measure(NEW, "33").kilograms(Decimal(1), "L") == Decimal("0.7845")  # one form
    assert _measure(NEW, "16").kilograms(Decimal(1), "L") is None  # gas or liquid?
    assert _measure(NEW, "16").kilograms(Decimal(1), "Nm3") == Decimal("1.2506")  # both agree


def test_an_unknown_chemical_or_version_is_unconvertible() -> None:
    assert CATALOGS.measure(NEW, "99") is None
    assert CATALOGS.measure("1999.1", "1") is None
    with pytest.raises(UnitNotConvertibleError):
        CATALOGS.require(NEW, "99", Decimal(1), "kg")


def test_each_units_object_has_its_own_registry() -> None:
    assert Units()._registry is not Units()._registry  # no shared global state


_VALUES = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("1000000"), places=3)


@given(_VALUES, st.sampled_from(["g", "kg", "t", "mL", "L", "m3"]))
def test_conversion_is_exact_and_round_trips(value: Decimal, unit: str) -> None:
    assert ACETONE is not None
    kg = ACETONE.kilograms(value, unit)
    assert kg is not None
    factor = ACETONE.kg_per_unit[unit]
    assert kg / factor == value  # exact: no float ever touched it
    litres = ACETONE.kilograms(kg, "kg")
    assert litres == kg
    assert ACETONE.kilograms(value, unit) == value * factor  # deterministic


@given(_VALUES)
def test_mass_and_volume_routes_agree(value: Decimal) -> None:
    assert ACETONE is not None
    by_ml = ACETONE.kilograms(value * 1000, "mL")
    by_l = ACETONE.kilograms(value, "L")
    by_m3 = ACETONE.kilograms(value / 1000, "m3")
    assert by_ml == by_l == by_m3
    assert ACETONE.kilograms(value * 1000, "g") == ACETONE.kilograms(value, "kg")
    assert ACETONE.kilograms(value / 1000, "t") == ACETONE.kilograms(value, "kg")


def _body(event_type: str, data: dict[str, Any], version: str = NEW, seq: int = 0) -> Any:
    items: list[dict[str, Any]] = [{"code": "CT-1", "seq": seq,
                                    "prev": None if seq == 0 else HASH}]  # fmt: skip
    return parse_body({
        "v": 1, "type": event_type, "time": "2027-02-01T08:00:00Z", "org": "org-1",
        "device_key": "0" * 32, "actor": HASH, "items": items, "catalog_version": version,
        "data": data,
    })  # fmt: skip


def _commission(chemical: str, value: str, unit: str, version: str = NEW) -> Any:
    data = {"chemical": chemical, "quantity": {"value": value, "unit": unit}, "lot": "L1",
            "packaging": "drum"}  # fmt: skip
    return _body("commission", data, version)


def test_the_ingest_check_refuses_a_commission_its_form_cannot_weigh() -> None:
    with pytest.raises(UnitNotConvertibleError, match=r"form 1\.1 "):
        check_event_units(_commission("1.1", "50", "L"), CATALOGS, {})
    with pytest.raises(UnitNotConvertibleError, match=r"form 1 "):
        check_event_units(_commission("1", "50", "L", OLD), CATALOGS, {})


def test_the_ingest_check_accepts_the_near_misses() -> None:
    check_event_units(_commission("1.1", "50", "kg"), CATALOGS, {})
    check_event_units(_commission("33.1", "50", "L"), CATALOGS, {})
    check_event_units(_commission("33", "50", "L", OLD), CATALOGS, {})


def test_the_ingest_check_judges_other_events_where_the_chemical_is_known() -> None:
    use = _body("use", {"quantity": {"value": "5", "unit": "L"}}, seq=1)
    check_event_units(use, CATALOGS, {})  # the item's chemical is unknown here: not judged
    check_event_units(use, CATALOGS, {"CT-1": "33.1"})
    with pytest.raises(UnitNotConvertibleError, match=r"form 2\.1 "):
        check_event_units(use, CATALOGS, {"CT-1": "2.1"})


def test_an_items_chemical_is_found_back_through_its_transforms() -> None:
    decant = parse_body({
        "v": 1, "type": "transform", "time": "2027-02-01T08:00:00Z", "org": "org-1",
        "device_key": "0" * 32, "actor": HASH, "catalog_version": NEW,
        "items": [{"code": "DRUM-1", "seq": 3, "prev": HASH, "role": "input"},
                  {"code": "BOT-1", "seq": 0, "prev": None, "role": "output"}],
        "data": {"kind": "decant",
                 "inputs": [{"code": "DRUM-1", "quantity": {"value": "5", "unit": "kg"}}],
                 "outputs": [{"code": "BOT-1", "quantity": {"value": "5", "unit": "kg"}}]},
    })  # fmt: skip
    firsts = {"DRUM-1": _commission("33.1", "160", "kg"), "BOT-1": decant}
    assert chemical_of("BOT-1", firsts.get) == "33.1"
    assert chemical_of("DRUM-1", firsts.get) == "33.1"
    assert chemical_of("NONE-1", firsts.get) is None
    looping = {"BOT-1": decant, "DRUM-1": decant}  # a malformed history cannot loop forever
    assert chemical_of("BOT-1", looping.get) is None
