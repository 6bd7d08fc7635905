"""ledger.rules.loss: zero tolerance for the strict categories, a fraction for the rest."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from api.catalogs import DEFAULT_RULES, load_rules, rules_reader
from ledger.errors import InvalidInputError
from ledger.rules import loss, parse_rules
from ledger.rules.world import ChemicalFacts, Chemistry
from tests.ledger.rules.scenario import CATALOGS

RULES = load_rules().mass
CHEMISTRY = Chemistry(CATALOGS)


def _facts(code: str) -> ChemicalFacts | None:
    return CHEMISTRY.facts("2026-draft.1", code)


CYANIDE, PERMANGANATE, ACETONE = _facts("25.1"), _facts("30.1"), _facts("33.1")
ONE_PERCENT = Decimal("0.01")


@pytest.mark.parametrize("chem", [CYANIDE, PERMANGANATE])
def test_strict_any_gram_short_is_a_loss(chem: ChemicalFacts | None) -> None:
    found = loss.loss(RULES, Decimal("50"), Decimal("49.999"), ONE_PERCENT, (chem,))
    assert found is not None and found.strict and found.missing == Decimal("0.001")
    assert loss.severity(RULES, found) == RULES.strict_severity


@pytest.mark.parametrize("recorded", ["50", "50.001"])
def test_strict_exactly_the_book_or_more_is_no_loss(recorded: str) -> None:
    assert loss.loss(RULES, Decimal("50"), Decimal(recorded), ONE_PERCENT, (CYANIDE,)) is None


def test_permanganate_is_strict_though_also_a_drug_precursor() -> None:
    # 易制毒 cat. 3 and 易制爆: the categories combine, the strictest wins
    assert PERMANGANATE is not None and "drug_precursor_cat3" in PERMANGANATE.categories
    assert loss.strict(RULES, (PERMANGANATE,))


def test_a_drug_precursor_alone_is_not_strict() -> None:
    assert not loss.strict(RULES, (ACETONE,))
    assert not loss.strict(RULES, (None,))


@pytest.mark.parametrize(("recorded", "lost"), [("19.8", False), ("19.801", False),
                                               ("19.799", True)])  # fmt: skip
def test_ordinary_tolerance_boundary(recorded: str, lost: bool) -> None:
    found = loss.loss(RULES, Decimal("20"), Decimal(recorded), ONE_PERCENT, (ACETONE,))
    assert (found is not None) == lost
    if found is not None:
        assert not found.strict and loss.severity(RULES, found) is None


def test_one_strict_chemical_among_many_makes_the_total_strict() -> None:
    found = loss.loss(RULES, Decimal("40"), Decimal("39.999"), ONE_PERCENT, (ACETONE, CYANIDE))
    assert found is not None and found.strict


def test_the_receive_tolerance_is_configured_and_checked() -> None:
    assert RULES.receive_tolerance == ONE_PERCENT
    raw = json.loads(DEFAULT_RULES.read_text(encoding="utf-8"))
    raw["mass"]["receive_tolerance"] = "1.5"
    with pytest.raises(InvalidInputError) as refused:
        parse_rules(json.dumps(raw), include=rules_reader())
    assert refused.value.context["field"] == "mass.receive_tolerance"
