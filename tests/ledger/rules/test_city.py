"""city.*: Beijing's prohibited list and the small-package rule in the capital core."""

from __future__ import annotations

from tests.ledger.rules.scenario import City, rules_config


def _banning(since: str) -> City:
    return City(config=rules_config(city={"prohibited": [
        {"chemical": "9", "since": since, "source": "BJ 2024 list"}]}))  # fmt: skip


# -- city.prohibited ---------------------------------------------------------------------------


def test_making_a_prohibited_chemical_is_found_once_per_item() -> None:
    city = _banning("2026-03-01T00:00:00Z")
    made = city.commission("CYL-1", chemical="9.1", value="5", packaging="cylinder")
    city.event("store_out", "maker", ["CYL-1"], {}, site="plant")

    found = city.only("city.prohibited")
    assert found.evidence == (made,)
    assert (found.org, found.site, found.item, found.chemical) == ("maker", "plant", "CYL-1", "9")
    assert found.severity == "critical"


def test_a_chemical_banned_only_from_next_month_is_fine_today() -> None:
    city = _banning("2026-04-01T00:00:00Z")
    city.commission("CYL-1", chemical="9.1", value="5", packaging="cylinder")
    city.clean()


# -- city.restricted_bulk ----------------------------------------------------------------------


def test_a_30_kg_drum_at_a_dongcheng_clinic_is_found() -> None:
    city = City()
    city.commission("DRUM-1", value="30")
    received = city.deliver(["DRUM-1"], to="clinic", to_site="ward").receive

    found = city.only("city.restricted_bulk")
    assert found.evidence == (received,)
    assert (found.org, found.site, found.item, found.chemical) == ("clinic", "ward", "DRUM-1", "33")
    assert found.district == "dongcheng"


def test_small_packages_and_allowed_chemicals_in_the_core_are_fine() -> None:
    city = City()
    city.commission("DRUM-1", value="25")  # at the limit
    city.commission("CAN-1", value="30", unit="L", packaging="other")  # 23.5 kg of acetone
    city.deliver(["DRUM-1", "CAN-1"], to="clinic", to_site="ward")
    city.clean()
    city = City()
    city.commission("CYL-1", chemical="2.1", value="40", packaging="cylinder")  # ammonia
    city.deliver(["CYL-1"], to="clinic", to_site="ward")
    city.clean()


def test_a_bulk_drum_outside_the_core_is_fine() -> None:
    city = City()
    city.commission("DRUM-1", value="200")
    city.deliver(["DRUM-1"], to="trader", to_site="office")
    city.clean()
