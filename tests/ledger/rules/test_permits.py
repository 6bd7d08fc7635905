"""permit.*: sales of highly toxic, explosive-precursor and drug-precursor chemicals."""

from __future__ import annotations

from tests.ledger.rules.scenario import ACTOR, City, rules_config


def _cyanide(city: City, code: str = "DRUM-1") -> None:
    city.commission(code, chemical="25.1", value="50")


def _unlicensed_clinic(city: City) -> None:
    city.revoke("clinic")
    city.licence("clinic", ["buy", "store"])  # no use licence: it needs a purchase permit


def _buy(city: City, code: str, org: str, seller: str = "maker", **data: str) -> str:
    return city.event("buy", org, [code], {"counterparty": seller, **data}, site="ward")


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


def test_a_buyer_that_never_files_is_found_five_days_on_with_no_further_event() -> None:
    city = City()
    _cyanide(city)
    sold = city.sell(["DRUM-1"], to="user", police_filing_no="PF-1")
    city.advance(days=4, hours=23)
    city.clean()
    city.advance(hours=1, minutes=1)

    found = city.only("permit.toxic_filing_missing")
    assert found.evidence == (sold,)
    assert (found.org, found.site, found.item, found.chemical) == ("maker", "plant", "DRUM-1", "25")
    assert "buyer user" in found.message and "seller" not in found.message


def test_neither_party_filing_is_one_finding_naming_both() -> None:
    city = City()
    _cyanide(city)
    city.sell(["DRUM-1"], to="user")
    city.advance(days=5, minutes=1)
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


def test_a_filing_made_on_day_6_is_too_late() -> None:
    city = City()
    _cyanide(city)
    city.sell(["DRUM-1"], to="user", police_filing_no="PF-1")
    city.advance(days=6)
    city.permit("pf-user", kind="police_filing", org="user", counterparty="maker",
                chemicals=["25"])  # fmt: skip
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
