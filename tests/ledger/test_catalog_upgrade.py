"""Catalog format 2 (2027-draft.1): per-form measure and densities; 2026-draft.1 still loads."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest

from ledger.catalog import CatalogError, load_catalog
from ledger.catalog.loader import FORM_COLUMNS, MEASURE_COLUMNS
from ledger.store.catalog_files import SHIPPED, load_registry
from ledger.units import CatalogUnits, UnitNotConvertibleError
from tests.ledger.rules.scenario import City

OLD, NEW = "2026-draft.1", "2027-draft.1"
REGISTRY = load_registry()
CHEMICALS = (SHIPPED / NEW / "key-chemicals.csv").read_text(encoding="utf-8")
FORMS = (SHIPPED / NEW / "chemical-forms.csv").read_text(encoding="utf-8")


def _rows() -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(FORMS)))


def _with(form_id: str, **cells: str) -> str:
    rows = _rows()
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row | cells if row["form_id"] == form_id else row)
    return out.getvalue()


def _load(forms: str) -> None:
    load_catalog("2027-test.1", date(2027, 6, 1), CHEMICALS, forms)


def test_both_versions_load_and_the_new_one_takes_effect_in_2027() -> None:
    assert REGISTRY.versions == (OLD, NEW)
    assert REGISTRY.current(date(2026, 12, 31)).version == OLD
    assert REGISTRY.current(date(2027, 1, 1)).version == NEW


def test_the_old_version_reads_as_it_always_did() -> None:
    old = REGISTRY.get(OLD)
    assert all(form.measure is None and form.density_kg_per_l is None for form in old.forms)
    assert set(old.form("26.3").to_json()) == {
        "form_id", "chemical_seq", "form", "un_number", "transport_class", "subsidiary_risks",
        "packing_group", "major_hazard_threshold_t", "threshold_basis", "threshold_verified",
        "unverified",
    }  # fmt: skip


def test_the_new_version_adds_the_measure_columns_to_every_form() -> None:
    new = REGISTRY.get(NEW)
    header = FORMS.splitlines()[0].split(",")
    assert header == [*FORM_COLUMNS, *MEASURE_COLUMNS]
    assert all(form.measure and form.density_source for form in new.forms)
    acetone = new.form("33.1").to_json()
    assert (acetone["measure"], acetone["density_kg_per_l"], acetone["density_condition"]) == (
        "liquid", "0.7845", "25 °C")  # fmt: skip
    assert new.form("1.1").measure == "liquefied_gas" and new.form("1.1").density_kg_per_l is None
    # the forms of one chemical now differ: nitrogen gas by Nm3, liquid nitrogen by volume too
    assert new.form("16.1").kg_per_nm3 == Decimal("1.2506")
    assert new.form("16.2").density_kg_per_l == Decimal("0.8065")


def test_how_many_forms_have_a_density() -> None:
    new = REGISTRY.get(NEW)
    by_volume = [f.form_id for f in new.forms if f.density_kg_per_l is not None]
    by_normal = [f.form_id for f in new.forms if f.kg_per_nm3 is not None]
    mass_only = [
        f.form_id for f in new.forms if f.density_kg_per_l is None and f.kg_per_nm3 is None
    ]
    assert (len(new.forms), len(by_volume), len(by_normal), len(mass_only)) == (49, 13, 14, 26)
    sourced = [f for f in new.forms if f.density_kg_per_l is not None
               and not f.density_source.startswith("unverified")]  # fmt: skip
    assert len(sourced) == 10


@pytest.mark.parametrize(
    ("form_id", "cells", "column", "message"),
    [
        ("33.1", {"density_kg_per_l": ""}, "density_kg_per_l", "give its density"),
        ("1.1", {"density_kg_per_l": "1.47", "density_condition": "0 °C"},
         "density_kg_per_l", "measured by mass"),
        ("33.1", {"kg_per_nm3": "2.6"}, "kg_per_nm3", "not measured in Nm3"),
        ("33.1", {"measure": "slurry"}, "measure", "not one of"),
        ("33.1", {"density_condition": ""}, "density_condition", "reference condition"),
        ("1.1", {"density_source": ""}, "density_source", "comes from"),
        ("33.1", {"density_kg_per_l": "784.5"}, "density_kg_per_l", "implausible"),
        ("16.1", {"kg_per_nm3": "1250.6"}, "kg_per_nm3", "implausible"),
    ],
)  # fmt: skip
def test_a_bad_measure_row_is_refused_by_line_and_column(
    form_id: str, cells: dict[str, str], column: str, message: str
) -> None:
    with pytest.raises(CatalogError) as info:
        _load(_with(form_id, **cells))
    assert info.value.problems[0].column == column
    assert message in info.value.problems[0].message


def test_the_measure_columns_come_all_together() -> None:
    header, *rest = FORMS.splitlines()
    cut = "\n".join([",".join(header.split(",")[:-1])] + [
        line.rsplit(",", 1)[0] if not line.endswith('"') else line[: line.rindex(',"')]
        for line in rest
    ]) + "\n"  # fmt: skip
    with pytest.raises(CatalogError, match=r"density_source.*missing column"):
        _load(cut)


def test_an_event_under_each_version_is_judged_by_its_own_densities() -> None:
    units = CatalogUnits(REGISTRY)
    assert units.require(OLD, "33.1", Decimal(50), "L") == Decimal("39.200")
    assert units.require(NEW, "33.1", Decimal(50), "L") == Decimal("39.2250")
    with pytest.raises(UnitNotConvertibleError):
        units.require(OLD, "1.1", Decimal(50), "L")
    with pytest.raises(UnitNotConvertibleError):
        units.require(NEW, "1.1", Decimal(50), "L")
    # liquid nitrogen: no density in the old catalog, a sourced one in the new
    with pytest.raises(UnitNotConvertibleError):
        units.require(OLD, "16.2", Decimal(100), "L")
    assert units.require(NEW, "16.2", Decimal(100), "L") == Decimal("80.65")


def test_the_engine_reads_one_ledger_with_events_of_both_versions() -> None:
    city = City()
    city.commission("DEW-1", chemical="16.2", value="200", packaging="other")
    city.deliver(["DEW-1"])
    city.use("DEW-1", "100", unit="L")  # 2026-draft.1: liquid nitrogen has no density
    assert [f.item for f in city.of("quantity.unit_unknown")] == ["DEW-1"]
    city.use("DEW-1", "100", unit="L", catalog_version=NEW)  # 0.8065 kg/L at 77.35 K
    state = city.engine.state.projection.items["DEW-1"]
    assert (state.quantity, state.unit) == (Decimal("119.35"), "kg")
    assert len(city.of("quantity.unit_unknown")) == 1
