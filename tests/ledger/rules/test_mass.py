"""mass.*: transformations balance, counts match the books, declared use matches stock."""

from __future__ import annotations

from tests.ledger.rules.scenario import MANIFEST, City, delivered


def _decant(city: City, outputs: dict[str, str], taken: str = "20") -> str:
    return city.event("transform", "user",
                      [("DRUM-1", "input"), *((code, "output") for code in outputs)],
                      {"kind": "decant",
                       "inputs": [{"code": "DRUM-1", "quantity": {"value": taken, "unit": "kg"}}],
                       "outputs": [{"code": code, "quantity": {"value": value, "unit": "kg"}}
                                   for code, value in outputs.items()]},
                      site="lab")  # fmt: skip


# -- mass.transform_imbalance ------------------------------------------------------------------


def test_a_decant_that_makes_mass_is_found() -> None:
    city, _ = delivered()
    made = _decant(city, {"BOT-1": "10", "BOT-2": "10.5"})  # 20 kg in, 20.5 out: 2.5 %

    found = city.only("mass.transform_imbalance")
    assert found.evidence == (made,)
    assert (found.org, found.site, found.item, found.chemical) == ("user", "lab", "DRUM-1", "33")


def test_a_decant_taking_more_than_the_drum_held_is_found() -> None:
    city, _ = delivered()
    _decant(city, {"BOT-1": "12.5", "BOT-2": "12.5"}, taken="25")
    assert "held 20 kg" in city.only("mass.transform_imbalance").message


def test_a_decant_within_tolerance_is_fine() -> None:
    city, _ = delivered()
    _decant(city, {"BOT-1": "10", "BOT-2": "10.3"})  # 1.5 %
    city.clean()


# -- mass.stock_shortfall ----------------------------------------------------------------------


def test_a_count_short_by_more_than_the_tolerance_is_found() -> None:
    city, _ = delivered()
    counted = city.count("DRUM-1", "19.7")  # 1.5 % short

    found = city.only("mass.stock_shortfall")
    assert found.evidence[-1] == counted
    assert (found.org, found.site, found.item, found.severity) == ("user", "lab", "DRUM-1", "high")


def test_a_count_within_the_tolerance_is_fine() -> None:
    city, _ = delivered()
    city.count("DRUM-1", "19.9")  # 0.5 % short
    city.clean()


def test_any_cyanide_shortfall_is_critical() -> None:
    city, _ = delivered(chemical="25.1", value="50")
    counted = city.count("DRUM-1", "49.99")
    found = city.only("mass.stock_shortfall")
    assert found.evidence[-1] == counted
    assert (found.severity, found.chemical) == ("critical", "25")


def test_a_cyanide_count_matching_the_books_is_fine() -> None:
    city, _ = delivered(chemical="25.1", value="50")
    city.count("DRUM-1", "50")
    city.count("DRUM-1", "50000", unit="g")
    city.clean()


# -- mass.org_balance --------------------------------------------------------------------------


def test_declaring_more_use_than_held_is_found_when_the_window_closes() -> None:
    city, _ = delivered()
    used = city.use("DRUM-1", "25")  # the drum held 20 kg
    city.advance(days=1)
    city.clean()
    city.advance(days=30)  # no further event: the window's deadline fires

    found = city.only("mass.org_balance")
    assert found.evidence == (used,)
    assert (found.org, found.site, found.chemical) == ("user", "lab", "33")
    assert found.severity == "medium"


def test_an_overdraw_within_the_minimum_is_fine() -> None:
    city, _ = delivered()
    city.use("DRUM-1", "12")
    city.use("DRUM-1", "8.9")  # 0.9 kg more than the 8 kg left
    city.advance(days=60)
    city.clean()


def test_use_then_disposal_of_the_rest_balances() -> None:
    city, _ = delivered()
    city.use("DRUM-1", "15")
    city.event("dispose", "user", ["DRUM-1"], {"disposer": "disposer", "manifest_no": MANIFEST,
               "method": "burn",
               "quantity": {"value": "5", "unit": "kg"}}, site="lab")  # fmt: skip
    city.advance(days=60)
    city.clean()
