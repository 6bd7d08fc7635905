"""The emergency query's hazard definitions on the shipped catalog (docs/emergency.md)."""

from __future__ import annotations

import pytest

from ledger.catalog import Catalog, UnknownChemicalError
from ledger.hazards import advice_for, hazard_of, inhaled_toxic
from ledger.store.catalog_files import load_registry


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_registry().get("2026-draft.1")


@pytest.mark.parametrize(
    ("code", "hazard_class", "un", "toxic", "flammable"),
    [
        ("1.1", "2.3", "UN1017", True, False),  # chlorine: toxic gas, an oxidiser not a fuel
        ("2", "2.3", "UN1005", True, True),  # ammonia: 2.3, and GHS Flam. Gas 2
        ("3.1", "3", "UN1203", False, True),  # gasoline
        ("4", "2.1", "UN1049/UN1966", False, True),  # hydrogen: both forms, one class
        ("6", "3", "UN1230", True, True),  # methanol: Acute Tox. 3 (oral/dermal/inh.)
        ("7", "3", "UN1093", False, True),  # acrylonitrile: Acute Tox. 3 names no route
        ("15", "2.2", "UN1072/UN1073", False, False),  # oxygen feeds a fire, does not burn
        ("23", "2.1", "UN2203", False, True),  # silane: pyrophoric gas
        ("25", "6.1", "UN1689", True, False),  # sodium cyanide: Acute Tox. 1-2 incl. inh.
        ("28", "5.1/1.1D", "UN1942/UN0222/UN2067", False, False),  # forms differ: both shown
        ("32", "8/2.3", "UN1789/UN1050", True, False),  # hydrogen chloride gas is 2.3
    ],
)
def test_hazard_classes_and_the_two_totals_follow_the_catalog(
    catalog: Catalog, code: str, hazard_class: str, un: str, toxic: bool, flammable: bool
) -> None:
    hazard = hazard_of(catalog, code)
    assert (hazard.hazard_class, hazard.un) == (hazard_class, un)
    assert (hazard.toxic_inhalation, hazard.flammable) == (toxic, flammable)


def test_inhalation_is_read_from_the_acute_toxicity_phrase_only() -> None:
    assert inhaled_toxic("Press. gas; Acute Tox. 2 inh.")
    assert inhaled_toxic("Acute Tox. 4 oral / 3 inh.; Carc. 2")
    assert not inhaled_toxic("Acute Tox. 4 oral; STOT SE 3")
    assert not inhaled_toxic("STOT SE 3 (inh.)")  # not an acute toxicity phrase


def test_an_unknown_code_is_refused(catalog: Catalog) -> None:
    with pytest.raises(UnknownChemicalError):
        hazard_of(catalog, "999")


def test_advice_falls_back_from_division_to_class_to_the_default() -> None:
    table = {
        "2.3": {"zh": "有毒气体", "en": "Toxic gas"},
        "5": {"zh": "氧化", "en": "Oxidiser"},
        "default": {"zh": "危险", "en": "Danger"},
    }
    assert advice_for(table, "2.3") == "有毒气体\nToxic gas"
    assert advice_for(table, "5.1/1.1D") == "氧化\nOxidiser"
    assert advice_for(table, "8/2.3") == "危险\nDanger"  # the first class decides
    assert advice_for(table, "9") == "危险\nDanger"
