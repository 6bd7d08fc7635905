"""Units in the item fold and ``quantity.unit_unknown``: what the ledger cannot weigh is said."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.ledger.rules.scenario import City, delivered

NEW = "2027-draft.1"


def _held(city: City, code: str = "DRUM-1") -> tuple[Decimal | None, str | None]:
    state = city.engine.state.projection.items[code]
    return state.quantity, state.unit


# -- the fold -------------------------------------------------------------------------------------


def test_two_50_litre_uses_from_a_160_kg_drum_leave_the_right_mass() -> None:
    city, _ = delivered(value="160")  # acetone, 0.784 kg/L in catalog 2026-draft.1
    city.use("DRUM-1", "50", unit="L")
    city.use("DRUM-1", "50", unit="L")
    assert _held(city) == (Decimal("81.600"), "kg")  # 160 - 2 x 50 x 0.784
    city.clean()


def test_the_same_unit_is_subtracted_as_before() -> None:
    city, _ = delivered(value="160", unit="L")
    city.use("DRUM-1", "50", unit="L")
    city.use("DRUM-1", "50", unit="L")
    assert _held(city) == (Decimal("60"), "L")  # no conversion when the units agree
    city.clean()


@pytest.mark.parametrize(
    ("value", "unit", "left"),
    [
        ("39225", "g", "120.775"),
        ("39.225", "kg", "120.775"),
        ("0.039225", "t", "120.775000"),
        ("50000", "mL", "120.7750000"),
        ("50", "L", "120.7750"),
        ("0.05", "m3", "120.775000"),
    ],
)
def test_every_unit_under_the_new_catalog_subtracts_the_same_mass(
    value: str, unit: str, left: str
) -> None:
    # catalog 2027-draft.1, form 33.1: acetone 0.7845 kg/L at 25 °C (CRC); 50 L = 39.225 kg
    city = City()
    city.commission("DRUM-1", value="160", catalog_version=NEW)
    city.deliver(["DRUM-1"])
    city.use("DRUM-1", value, unit=unit, catalog_version=NEW)
    quantity, held_unit = _held(city)
    assert quantity == Decimal(left) and held_unit == "kg"
    assert not city.of("quantity.unit_unknown")


def test_a_transform_input_in_litres_comes_off_a_drum_in_kilograms() -> None:
    city, _ = delivered(value="160")
    city.event("transform", "user", [("DRUM-1", "input"), ("BOT-1", "output")],
               {"kind": "decant",
                "inputs": [{"code": "DRUM-1", "quantity": {"value": "25", "unit": "L"}}],
                "outputs": [{"code": "BOT-1", "quantity": {"value": "19.6", "unit": "kg"}}]},
               site="lab")  # fmt: skip
    assert _held(city) == (Decimal("140.400"), "kg")  # 160 - 25 x 0.784
    assert not city.of("quantity.unit_unknown")


# -- quantity.unit_unknown --------------------------------------------------------------------


def test_litres_of_chlorine_are_reported_and_move_nothing() -> None:
    city, _ = delivered(chemical="1.1", value="500", packaging="cylinder")
    used = city.use("DRUM-1", "50", unit="L")  # chlorine has no density: no 1 kg/L guess
    found = city.only("quantity.unit_unknown")
    assert found.evidence == (used,) and found.item == "DRUM-1" and found.chemical == "1.1"
    assert "50 L" in found.message and "1.1" in found.message
    assert found.severity == "medium"
    assert _held(city) == (Decimal("500"), "kg")  # the fold neither crashes nor guesses


def test_kilograms_of_chlorine_are_fine() -> None:
    city, _ = delivered(chemical="1.1", value="500", packaging="cylinder")
    city.use("DRUM-1", "50", unit="kg")
    city.clean()
    assert _held(city) == (Decimal("450"), "kg")


def test_a_liquefied_gas_in_litres_is_reported_under_the_new_catalog_too() -> None:
    city = City()
    city.commission("CYL-1", chemical="13.1", value="15", packaging="cylinder",
                    catalog_version=NEW)  # fmt: skip
    city.deliver(["CYL-1"])
    city.use("CYL-1", "2", unit="L", catalog_version=NEW)
    assert (
        "a liquefied gas is filled and measured by mass"
        in city.only("quantity.unit_unknown").message
    )
    assert _held(city, "CYL-1") == (Decimal("15"), "kg")


def test_a_commission_in_pieces_is_reported_once() -> None:
    city = City()
    city.commission("CYL-1", chemical="16.1", value="1", unit="piece", packaging="cylinder")
    city.commission("CYL-2", chemical="16.1", value="10", unit="kg", packaging="cylinder")
    assert [f.item for f in city.of("quantity.unit_unknown")] == ["CYL-1"]
