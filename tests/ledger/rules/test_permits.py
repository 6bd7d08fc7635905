"""permit.*: sales of highly toxic, explosive-precursor and drug-precursor chemicals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.ledger.rules.scenario import ACTOR, City, rules_config


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _cyanide(city: City, code: str = "DRUM-1") -> None:
    city.commission(code, chemical="25.1", value="50")


def _unlicensed_clinic(city: City) -> None:
    city.revoke("clinic")
    city.licence("clinic", ["buy", "store"])  # no use licence: it needs a purchase permit


def _buy(city: City, code: str, org: str, seller: str = "maker",
         at: datetime | None = None, log_at: datetime | None = None, **data: str) -> str:  # fmt: skip
    return city.event("buy", org, [code], {"counterparty": seller, **data}, site="ward", at=at,
                      log_at=log_at)  # fmt: skip


# -- permit.toxic_sale_unpermitted -------------------------------------------------------------


def test_cyanide_sold_to_a_buyer_without_permit_or_licence_is_found() -> None:
    city = City()
    _cyanide(city)
    _unlicensed_clinic(city)
    sold = city.sell(["DRUM-1"], to="clinic", police_filing_no="PF-1")
    _buy(city, "DRUM-1", "clinic", police_filing_no="PF-2")
    city.advance(days=6)

    found = city.only("permit.toxic_sale_unpermitted")
    assert found.evidence == (sold,)
    assert (found.org, found.site, found.item, found.chemical) == ("maker", "plant", "DRUM-1", "25")
    assert found.severity == "critical"


def test_a_sale_with_a_valid_purchase_permit_is_fine() -> None:
    city = City()
    _cyanide(city)
    _unlicensed_clinic(city)
    city.permit("pp-1", kind="purchase_permit", org="clinic", chemicals=["25"])
    city.sell(["DRUM-1"], to="clinic", police_filing_no="PF-1", permit_no="PP-1")
    _buy(city, "DRUM-1", "clinic", police_filing_no="PF-2")
    city.advance(days=6)
    city.clean()


def test_a_permit_to_buy_from_another_seller_does_not_count() -> None:
    city = City()
    _cyanide(city)
    _unlicensed_clinic(city)
    city.permit("pp-1", kind="purchase_permit", org="clinic", counterparty="trader",
                chemicals=["25"])  # fmt: skip
    city.sell(["DRUM-1"], to="clinic", police_filing_no="PF-1")
    assert city.rules() == ["permit.toxic_sale_unpermitted"]


def test_a_buyer_with_a_use_licence_needs_no_permit() -> None:
    city = City()
    _cyanide(city)
    city.sell(["DRUM-1"], to="user", police_filing_no="PF-1")
    _buy(city, "DRUM-1", "user", police_filing_no="PF-2")
    city.advance(days=6)
    city.clean()


# -- permit.toxic_filing_missing ---------------------------------------------------------------


# Sold at 10:00 Beijing on Wednesday 4 March 2026: the five days are the 5th to Monday the
# 9th (the 4th is not counted, Civil Code art. 201), which runs to 24:00 Beijing (art. 203).
SOLD = _utc("2026-03-04T02:00:00Z")
DEADLINE = _utc("2026-03-09T16:00:00Z")
SECOND = timedelta(seconds=1)


def _until(city: City, moment: datetime) -> None:
    city.clock = moment
    city.found += city.engine.advance(moment)


def test_a_buyer_that_never_files_is_found_at_2400_of_the_fifth_day_with_no_further_event() -> None:
    city = City()
    _cyanide(city)
    sold = city.sell(["DRUM-1"], to="user", at=SOLD, police_filing_no="PF-1")
    _until(city, DEADLINE - SECOND)  # 23:59:59 Beijing on the 9th
    _until(city, DEADLINE)  # 24:00 itself is still inside the period
    city.clean()
    _until(city, DEADLINE + SECOND)

    found = city.only("permit.toxic_filing_missing")
    assert found.evidence == (sold,)
    assert (found.org, found.site, found.item, found.chemical) == ("maker", "plant", "DRUM-1", "25")
    assert "buyer user" in found.message and "seller" not in found.message
    assert "2026-03-09" in found.message and found.at == "2026-03-09T16:00:00Z"


def test_neither_party_filing_is_one_finding_naming_both() -> None:
    city = City()
    _cyanide(city)
    city.sell(["DRUM-1"], to="user", at=SOLD)
    _until(city, DEADLINE + SECOND)
    assert "seller maker and the buyer user" in city.only("permit.toxic_filing_missing").message


def test_a_filing_made_on_day_4_is_in_time() -> None:
    city = City()
    _cyanide(city)
    city.sell(["DRUM-1"], to="user", police_filing_no="PF-1")
    city.advance(days=4)
    city.permit("pf-user", kind="police_filing", org="user", counterparty="maker",
                chemicals=["25"])  # fmt: skip
    city.advance(days=30)
    city.clean()


@pytest.mark.parametrize(
    ("filed", "late"),
    [
        ("2026-03-09T12:00:00Z", False),  # 20:00 Beijing on the last day: 120 h had passed
        ("2026-03-09T15:59:59Z", False),  # 23:59:59 Beijing
        ("2026-03-09T16:00:00Z", False),  # 24:00: exactly on time is on time
        ("2026-03-09T16:00:01Z", True),  # 00:00:01 Beijing on the 10th, day 6
    ],
)
def test_a_filing_is_in_time_until_2400_beijing_of_the_fifth_day(filed: str, late: bool) -> None:
    city = City()
    _cyanide(city)
    city.sell(["DRUM-1"], to="user", at=SOLD, police_filing_no="PF-1")
    _until(city, _utc(filed))
    city.permit("pf-user", kind="police_filing", org="user", counterparty="maker",
                chemicals=["25"])  # fmt: skip
    _until(city, _utc("2026-04-01T00:00:00Z"))
    assert city.rules() == (["permit.toxic_filing_missing"] if late else []), city.describe()


@pytest.mark.parametrize(
    ("sold", "filed", "late"),
    [
        # 01:00 Beijing on Thursday the 5th (still the 4th in UTC): the period runs to
        # 24:00 Beijing on Tuesday the 10th
        ("2026-03-04T17:00:00Z", "2026-03-10T15:59:59Z", False),
        ("2026-03-04T17:00:00Z", "2026-03-10T16:00:01Z", True),
        # 23:59:59 Beijing on Wednesday the 4th: to 24:00 on Monday the 9th
        ("2026-03-04T15:59:59Z", "2026-03-09T16:00:01Z", True),
        # sold on Monday the 2nd: the fifth day is Saturday the 7th, moved to Monday the 9th
        ("2026-03-02T02:00:00Z", "2026-03-09T15:59:59Z", False),
        ("2026-03-02T02:00:00Z", "2026-03-09T16:00:01Z", True),
        # the fifth day is 3 October, in the National Day holiday (1-7): to Thursday the 8th
        ("2026-09-28T02:00:00Z", "2026-10-08T15:59:59Z", False),
        ("2026-09-28T02:00:00Z", "2026-10-08T16:00:01Z", True),
        # the fifth day is Saturday 10 October, a working day by the adjustment (调休)
        ("2026-10-05T02:00:00Z", "2026-10-10T15:59:59Z", False),
        ("2026-10-05T02:00:00Z", "2026-10-10T16:00:01Z", True),
    ],
)
def test_the_filing_period_counts_beijing_days_and_skips_rest_days(
    sold: str, filed: str, late: bool
) -> None:
    city = City(clock=_utc(sold) - timedelta(days=1))
    _cyanide(city)
    city.sell(["DRUM-1"], to="user", at=_utc(sold), police_filing_no="PF-1")
    _until(city, _utc(filed))
    _buy(city, "DRUM-1", "user", police_filing_no="PF-2", at=_utc(filed),
         log_at=_utc(filed))  # fmt: skip
    _until(city, _utc(filed) + timedelta(days=30))
    assert city.rules() == (["permit.toxic_filing_missing"] if late else []), city.describe()


def test_the_spring_festival_moves_the_filing_deadline() -> None:
    city = City(clock=_utc("2026-02-10T00:00:00Z"))
    _cyanide(city)
    city.sell(["DRUM-1"], to="user", at=_utc("2026-02-12T02:00:00Z"), police_filing_no="PF-1")
    _until(city, _utc("2026-02-24T15:59:59Z"))  # the 17th was 初一; to Tuesday the 24th
    city.clean()
    _until(city, _utc("2026-02-24T16:00:01Z"))
    assert "2026-02-24, moved from 2026-02-17" in city.only("permit.toxic_filing_missing").message


def test_a_deadline_beyond_the_official_holiday_data_says_it_is_provisional() -> None:
    city = City(clock=_utc("2026-12-20T00:00:00Z"))
    _cyanide(city)
    city.sell(["DRUM-1"], to="user", at=_utc("2026-12-27T02:00:00Z"), police_filing_no="PF-1")
    _until(city, _utc("2027-01-01T16:00:01Z"))  # Friday 1 January 2027: weekends only
    assert "provisional" in city.only("permit.toxic_filing_missing").message


# -- offline filings ---------------------------------------------------------------------------


def test_a_buyers_filing_signed_in_time_but_synced_late_supersedes_the_finding() -> None:
    city = City()
    _cyanide(city)
    city.sell(["DRUM-1"], to="user", at=SOLD, police_filing_no="PF-1")
    _until(city, DEADLINE + timedelta(hours=10))
    raised = city.only("permit.toxic_filing_missing")
    bought = _buy(city, "DRUM-1", "user", police_filing_no="PF-2", at=DEADLINE - SECOND,
                  log_at=DEADLINE + timedelta(hours=10))  # fmt: skip
    _until(city, _utc("2026-04-01T00:00:00Z"))

    assert city.rules() == ["permit.toxic_filing_missing", "device.late_sync"]
    late = city.found[1]
    assert late.supersedes == (raised.id,) and late.severity == "low"
    assert late.evidence == (bought,) and late.org == "user"


def test_a_buyers_filing_signed_after_the_deadline_supersedes_nothing() -> None:
    city = City()
    _cyanide(city)
    city.sell(["DRUM-1"], to="user", at=SOLD, police_filing_no="PF-1")
    _until(city, DEADLINE + timedelta(hours=10))
    _buy(city, "DRUM-1", "user", police_filing_no="PF-2", at=DEADLINE + SECOND,
         log_at=DEADLINE + timedelta(hours=10))  # fmt: skip
    _until(city, _utc("2026-04-01T00:00:00Z"))
    assert city.rules() == ["permit.toxic_filing_missing"]


def test_a_late_buyers_filing_does_not_excuse_a_seller_that_never_filed() -> None:
    city = City()
    _cyanide(city)
    city.sell(["DRUM-1"], to="user", at=SOLD)
    _until(city, DEADLINE + timedelta(hours=10))
    _buy(city, "DRUM-1", "user", police_filing_no="PF-2", at=DEADLINE - SECOND,
         log_at=DEADLINE + timedelta(hours=10))  # fmt: skip
    _until(city, _utc("2026-04-01T00:00:00Z"))
    assert city.rules() == ["permit.toxic_filing_missing"]


def test_the_buyers_own_buy_record_with_a_filing_number_counts() -> None:
    city = City()
    _cyanide(city)
    _buy(city, "DRUM-1", "user", police_filing_no="PF-2")  # logged before the sale
    city.sell(["DRUM-1"], to="user", police_filing_no="PF-1")
    city.advance(days=10)
    city.clean()


def test_filings_recorded_before_the_sale_is_logged_count_for_both_parties() -> None:
    city = City()
    _cyanide(city)
    for org, other in (("maker", "user"), ("user", "maker")):
        city.permit(f"pf-{org}", kind="police_filing", org=org, counterparty=other,
                    chemicals=["25"])  # fmt: skip
    city.sell(["DRUM-1"], to="user")
    city.advance(days=10)
    city.clean()


# -- permit.individual_buyer -------------------------------------------------------------------


def test_an_explosive_precursor_sold_to_a_person_is_found() -> None:
    city = City()
    city.commission("BAG-1", chemical="30.1", value="5", packaging="bag")
    sold = city.sell(["BAG-1"], to="person")
    city.advance(days=10)

    found = city.only("permit.individual_buyer")
    assert found.evidence == (sold,)
    assert (found.org, found.item, found.chemical) == ("maker", "BAG-1", "30")


def test_a_sale_naming_an_individual_buyer_is_found() -> None:
    city = City()
    _cyanide(city)
    city.sell(["DRUM-1"], to="trader", individual_buyer=ACTOR)
    assert city.rules() == ["permit.individual_buyer"]


def test_methanol_may_be_sold_to_a_person() -> None:
    city = City()
    city.commission("CAN-1", chemical="6.1", value="5", packaging="other")
    city.sell(["CAN-1"], to="person")
    city.advance(days=10)
    city.clean()


# -- permit.precursor_purchase -----------------------------------------------------------------


def test_chloroform_sold_without_the_buyers_prior_filing_is_found() -> None:
    city = City()
    city.commission("DRUM-1", chemical="34.1")
    sold = city.sell(["DRUM-1"], to="user")

    found = city.only("permit.precursor_purchase")
    assert found.evidence == (sold,)
    assert (found.org, found.site, found.item, found.chemical) == ("user", "plant", "DRUM-1", "34")


def test_chloroform_sold_after_the_buyers_filing_is_fine() -> None:
    city = City()
    city.commission("DRUM-1", chemical="34.1")
    city.permit("pre-1", kind="precursor_filing", org="user", chemicals=["34"],
                valid_from="2026-03-01T00:00:00Z")  # fmt: skip
    city.sell(["DRUM-1"], to="user")
    city.advance(days=10)
    city.clean()


def test_a_filing_dated_after_the_sale_is_not_prior() -> None:
    city = City()
    city.commission("DRUM-1", chemical="34.1")
    city.permit("pre-1", kind="precursor_filing", org="user", chemicals=["34"],
                valid_from="2026-03-03T00:00:00Z")  # fmt: skip
    city.sell(["DRUM-1"], to="user")
    assert city.rules() == ["permit.precursor_purchase"]


def test_a_category_needing_a_permit_is_not_satisfied_by_a_filing() -> None:
    config = rules_config(permits={"precursor_permit_categories": ["drug_precursor_cat2"],
                                   "precursor_filing_categories": ["drug_precursor_cat3"]})  # fmt: skip
    city = City(config=config)
    city.commission("DRUM-1", chemical="34.1")
    city.commission("DRUM-2", chemical="34.1")
    city.permit("pre-1", kind="precursor_filing", org="user", chemicals=["34"])
    city.sell(["DRUM-1"], to="user")
    assert "purchase permit" in city.only("permit.precursor_purchase").message
    city.permit("pp-1", kind="purchase_permit", org="user", chemicals=["34"])
    city.sell(["DRUM-2"], to="user")
    assert city.rules() == ["permit.precursor_purchase"]
