"""R-TOX-6: zero tolerance, judged at once, for 剧毒 and 易制爆 losses; tolerance for the rest.

At receive (``mass.receive_shortfall``), use and count (``mass.stock_shortfall``), return
(``mass.stock_shortfall``) and the organisation balance (``mass.org_balance``). Catalog
2026-draft.1: 25.1 sodium cyanide (剧毒, kg only), 26.1 nitric acid and 27.2 hydrogen
peroxide (易制爆, 1.41 and 1.11 kg/L), 33.1 acetone (易制毒 cat. 3 only: not strict,
0.784 kg/L). Tolerances from ``catalogs/rules/2026.1.json``: receive and count 1 %.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ledger.rules import EventFact
from ledger.rules.world import when
from tests.ledger.rules.scenario import City, delivered

BEIJING_NIGHT = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
"""The receive lands at 16:20 UTC: 00:20 Beijing of the next day."""


def _receive(chemical: str, value: str, received: tuple[str, str] | None, unit: str = "kg",
             codes: tuple[str, ...] = ("DRUM-1",), start: datetime | None = None) -> City:  # fmt: skip
    """Commission ``codes`` at the plant, ship them to the lab, receive with ``received``."""
    city = City()
    if start is not None:
        city.clock = start
    for code in codes:
        city.commission(code, chemical=chemical, value=value, unit=unit)
    shipped = city.ship(list(codes))
    begin = city.clock
    city.track(list(codes), shipped, begin, [20, 40, 60, 80, 100], total=120)
    city.clock = begin + timedelta(hours=2)
    city.receive(list(codes), shipped, quantity=received, at=city.clock)
    return city


# -- mass.receive_shortfall: strict --------------------------------------------------------------


@pytest.mark.parametrize("received", [("49.999", "kg"), ("49999", "g"), ("0.049999", "t")])
def test_a_cyanide_receive_one_gram_short_of_shipped_is_critical_at_once(
    received: tuple[str, str],
) -> None:
    city = _receive("25.1", "50", received)
    found = city.only("mass.receive_shortfall")
    assert found.severity == "critical"
    assert (found.org, found.site, found.item, found.chemical) == ("user", "lab", "DRUM-1", "25")
    assert "0.001" in found.message


@pytest.mark.parametrize(
    "received", [("50", "kg"), ("50000", "g"), ("0.05", "t"), ("50.001", "kg"), None]
)
def test_a_cyanide_receive_of_exactly_what_was_shipped_is_fine(
    received: tuple[str, str] | None,
) -> None:
    _receive("25.1", "50", received).clean()


def test_a_receive_short_in_litres_of_an_explosive_precursor_is_found() -> None:
    # 20 L of nitric acid is 28.2 kg; 19.999 L is 1.41 g short
    city = _receive("26.1", "20", ("19999", "mL"), unit="L")
    assert city.only("mass.receive_shortfall").severity == "critical"


def test_an_explosive_precursor_received_exactly_in_another_unit_is_fine() -> None:
    _receive("26.1", "20", ("28.2", "kg"), unit="L").clean()  # 20 L × 1.41 kg/L


def test_a_strict_receive_short_in_the_beijing_night_is_found_in_its_own_feed() -> None:
    city = _receive("25.1", "50", ("49.999", "kg"), start=BEIJING_NIGHT)
    found = city.only("mass.receive_shortfall")
    assert when(found.at).hour == 16  # 00:20 Beijing: judged as it was logged, no deadline


def test_a_many_item_receive_totals_against_the_items_shipped() -> None:
    city = _receive("25.1", "50", ("99.999", "kg"), codes=("DRUM-1", "DRUM-2"))
    found = city.only("mass.receive_shortfall")
    assert (found.item, found.severity) == ("DRUM-1", "critical")


def test_a_many_item_receive_of_the_whole_total_is_fine() -> None:
    _receive("25.1", "50", ("100", "kg"), codes=("DRUM-1", "DRUM-2")).clean()


def test_the_receive_shortfall_cites_the_shipment_and_the_receive() -> None:
    city = _receive("25.1", "50", ("49", "kg"))
    found = city.only("mass.receive_shortfall")
    events = {f.body.type: f.event_hash for f in city.facts if isinstance(f, EventFact)}
    assert found.evidence == (events["ship"], events["receive"])


# -- mass.receive_shortfall: other chemicals, 1 % of what was shipped ------------------------------


@pytest.mark.parametrize("received", [("19.799", "kg"), ("19799", "g")])
def test_an_ordinary_receive_short_by_more_than_the_tolerance_is_found(
    received: tuple[str, str],
) -> None:
    found = _receive("33.1", "20", received).only("mass.receive_shortfall")  # 1 g over 0.2 kg
    assert (found.severity, found.chemical) == ("high", "33")


@pytest.mark.parametrize("received", [("19.8", "kg"), ("19.801", "kg"), ("19800", "g")])
def test_an_ordinary_receive_short_by_at_most_the_tolerance_is_fine(
    received: tuple[str, str],
) -> None:
    _receive("33.1", "20", received).clean()


def test_an_ordinary_receive_in_litres_at_the_tolerance_is_fine() -> None:
    _receive("33.1", "25", ("24.75", "L"), unit="L").clean()  # 25 L less 1 %
    _receive("33.1", "25", ("24751", "mL"), unit="L").clean()


def test_an_ordinary_receive_in_litres_one_millilitre_beyond_the_tolerance_is_found() -> None:
    _receive("33.1", "25", ("24749", "mL"), unit="L").only("mass.receive_shortfall")


# -- mass.stock_shortfall at count and after use: strict -------------------------------------------


@pytest.mark.parametrize("counted", [("49.999", "kg"), ("49999", "g")])
def test_a_cyanide_count_one_gram_short_is_critical(counted: tuple[str, str]) -> None:
    city, _ = delivered(chemical="25.1", value="50")
    city.count("DRUM-1", *counted)
    assert city.only("mass.stock_shortfall").severity == "critical"


def test_a_cyanide_count_one_gram_over_is_no_shortfall() -> None:
    city, _ = delivered(chemical="25.1", value="50")
    city.count("DRUM-1", "50.001")
    city.clean()


def test_a_cyanide_gram_gone_beyond_the_declared_use_is_found_at_the_count() -> None:
    city, _ = delivered(chemical="25.1", value="50")
    city.use("DRUM-1", "20000", unit="g")
    city.count("DRUM-1", "29.999")
    assert city.only("mass.stock_shortfall").severity == "critical"


@pytest.mark.parametrize("counted", [("30", "kg"), ("30000", "g")])
def test_a_cyanide_loss_explained_by_the_declared_use_is_fine(counted: tuple[str, str]) -> None:
    city, _ = delivered(chemical="25.1", value="50")
    city.use("DRUM-1", "20000", unit="g")
    city.count("DRUM-1", *counted)
    city.clean()


def test_an_explosive_precursor_counted_in_litres_one_millilitre_short_is_found() -> None:
    city, _ = delivered(chemical="27.2", value="20", unit="L")
    city.count("DRUM-1", "19999", unit="mL")  # 1.11 g short
    assert city.only("mass.stock_shortfall").severity == "critical"


def test_an_explosive_precursor_counted_exactly_in_kilograms_is_fine() -> None:
    city, _ = delivered(chemical="27.2", value="20", unit="L")
    city.count("DRUM-1", "22.2")  # 20 L × 1.11 kg/L
    city.clean()


# -- mass.stock_shortfall at a return ---------------------------------------------------------------


def _return(city: City, value: str, unit: str = "kg") -> str:
    return city.event("return", "user", ["DRUM-1"],
                      {"to_org": "maker", "quantity": {"value": value, "unit": unit}},
                      site="lab")  # fmt: skip


def test_a_cyanide_returned_one_gram_short_is_critical() -> None:
    city, _ = delivered(chemical="25.1", value="50")
    returned = _return(city, "49999", "g")
    found = city.only("mass.stock_shortfall")
    assert (found.severity, found.evidence[-1], found.site) == ("critical", returned, "lab")


def test_a_cyanide_returned_whole_is_fine() -> None:
    city, _ = delivered(chemical="25.1", value="50")
    _return(city, "50")
    city.clean()


def test_an_ordinary_return_within_the_count_tolerance_is_fine() -> None:
    city, _ = delivered()
    _return(city, "19.8")  # 20 kg less 1 %
    city.clean()


def test_an_ordinary_return_beyond_the_count_tolerance_is_found() -> None:
    city, _ = delivered()
    _return(city, "19.799")
    assert city.only("mass.stock_shortfall").severity == "high"


# -- mass.org_balance: strict, at the use itself ------------------------------------------------------


@pytest.mark.parametrize("used", [("20.001", "kg"), ("20001", "g")])
def test_using_one_gram_more_nitric_acid_than_held_is_critical_at_once(
    used: tuple[str, str],
) -> None:
    city, _ = delivered(chemical="26.1", value="20")
    made = city.use("DRUM-1", *used)
    found = city.only("mass.org_balance")  # in the use's own feed, no window to close
    assert found.severity == "critical"
    assert (found.org, found.site, found.item, found.chemical) == ("user", "lab", "DRUM-1", "26")
    assert found.evidence[-1] == made
    assert not [kind for _, kind, _ in city.engine.pending() if kind == "window"]


@pytest.mark.parametrize("used", [("20", "kg"), ("20000", "g"), ("19.999", "kg")])
def test_using_at_most_what_the_nitric_acid_drum_held_is_fine(used: tuple[str, str]) -> None:
    city, _ = delivered(chemical="26.1", value="20")
    city.use("DRUM-1", *used)
    city.advance(days=60)
    city.clean()


def test_using_one_millilitre_more_peroxide_than_held_is_found() -> None:
    city, _ = delivered(chemical="27.2", value="20", unit="L")
    city.use("DRUM-1", "20.001", unit="L")
    assert city.only("mass.org_balance").severity == "critical"


def test_using_exactly_the_peroxide_held_in_kilograms_is_fine() -> None:
    city, _ = delivered(chemical="27.2", value="20", unit="L")
    city.use("DRUM-1", "12.2")
    city.use("DRUM-1", "10")  # 22.2 kg in all: 20 L × 1.11
    city.advance(days=60)
    city.clean()


def test_a_strict_overdraw_in_the_beijing_night_is_found_at_once() -> None:
    city, _ = delivered(chemical="26.1", value="20")
    city.clock = datetime(2026, 3, 2, 17, 30, tzinfo=UTC)  # 01:30 Beijing, 3 March
    city.use("DRUM-1", "20.001", at=city.clock)
    assert when(city.only("mass.org_balance").at) == city.clock


def test_each_strict_overdraw_is_its_own_finding() -> None:
    city, _ = delivered(chemical="26.1", value="20")
    city.use("DRUM-1", "20.001")
    city.use("DRUM-1", "0.001")  # the drum is empty in the books
    assert city.rules() == ["mass.org_balance", "mass.org_balance"]


# -- mass.org_balance: other chemicals keep the window and max(1 kg, 2 %) ----------------------------


def test_an_ordinary_overdraw_of_exactly_the_minimum_is_fine() -> None:
    city, _ = delivered()
    city.use("DRUM-1", "21")  # 1 kg over; the limit is max(1 kg, 2 % of 21 kg)
    city.advance(days=60)
    city.clean()


def test_an_ordinary_overdraw_one_gram_over_the_minimum_waits_for_the_window() -> None:
    city, _ = delivered()
    city.use("DRUM-1", "21001", unit="g")
    city.clean()  # not at once: an ordinary balance is a reconciliation over the window
    city.advance(days=60)
    assert city.only("mass.org_balance").severity == "medium"


# -- totals over many items -------------------------------------------------------------------------


def _two(chemical: str = "25.1", value: str = "50") -> City:
    """DRUM-1 and DRUM-2, ``value`` kg each, delivered together to the lab."""
    city = City()
    for code in ("DRUM-1", "DRUM-2"):
        city.commission(code, chemical=chemical, value=value)
    city.deliver(["DRUM-1", "DRUM-2"])
    city.clean()
    return city


def _count_both(city: City, value: str, unit: str = "kg") -> str:
    return city.event("stock_count", "user", ["DRUM-1", "DRUM-2"], {
        "count_id": "C-2", "quantity": {"value": value, "unit": unit}}, site="lab")  # fmt: skip


def _use_both(city: City, value: str) -> str:
    return city.event("use", "user", ["DRUM-1", "DRUM-2"],
                      {"quantity": {"value": value, "unit": "kg"}}, site="lab")  # fmt: skip


@pytest.mark.parametrize("counted", [("99.999", "kg"), ("99999", "g")])
def test_a_count_of_two_cyanide_drums_one_gram_short_in_all_is_found(
    counted: tuple[str, str],
) -> None:
    city = _two()
    counted_at = _count_both(city, *counted)
    found = city.only("mass.stock_shortfall")
    assert (found.severity, found.item, found.evidence[-1]) == ("critical", "DRUM-1", counted_at)


@pytest.mark.parametrize("counted", [("100", "kg"), ("0.1", "t")])
def test_a_count_of_two_cyanide_drums_matching_their_books_is_fine(
    counted: tuple[str, str],
) -> None:
    city = _two()
    _count_both(city, *counted)
    city.clean()


def test_an_ordinary_total_count_is_judged_with_the_tolerance() -> None:
    city = _two("33.1", "20")
    _count_both(city, "39.6")  # 40 kg less 1 %
    city.clean()
    _count_both(city, "39.599")
    assert city.only("mass.stock_shortfall").severity == "high"


def test_a_use_declared_over_two_cyanide_drums_explains_their_counts() -> None:
    city = _two()
    _use_both(city, "10")
    city.count("DRUM-1", "45")
    city.count("DRUM-2", "45")
    city.clean()


def test_a_use_over_two_drums_all_from_one_explains_it() -> None:
    city = _two()
    _use_both(city, "10")
    city.count("DRUM-1", "40")
    city.count("DRUM-2", "50")
    city.clean()


def test_a_shared_use_explains_no_more_than_was_declared() -> None:
    city = _two()
    _use_both(city, "10")
    city.count("DRUM-1", "45")  # 5 kg of the 10 accounted for
    city.count("DRUM-2", "44.999")  # 5.001 kg gone: 1 g unexplained
    found = city.only("mass.stock_shortfall")
    assert (found.item, found.severity) == ("DRUM-2", "critical")
    assert "0.001 kg short" in found.message


def test_a_use_over_two_cyanide_drums_of_more_than_both_held_is_found_at_once() -> None:
    city = _two()
    _use_both(city, "100.001")
    found = city.only("mass.org_balance")
    assert (found.severity, found.item, found.chemical) == ("critical", "DRUM-1", "25")


def test_a_use_over_two_cyanide_drums_of_exactly_both_is_fine() -> None:
    city = _two()
    _use_both(city, "100")
    city.advance(days=60)
    city.clean()


def test_a_shared_use_does_not_shrink_what_one_drum_may_give() -> None:
    city = _two()
    _use_both(city, "10")  # perhaps all from DRUM-2
    city.use("DRUM-1", "50")
    city.clean()


def test_a_strict_use_from_a_book_that_cannot_be_weighed_is_left_to_unit_unknown() -> None:
    city = City()
    city.commission("DRUM-1", chemical="25.1", value="40", unit="L")  # a solid: no density
    city.deliver(["DRUM-1"])
    city.use("DRUM-1", "1")
    assert set(city.rules()) == {"quantity.unit_unknown"}
