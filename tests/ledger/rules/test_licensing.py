"""licence.missing: the actor (the carrier, for a shipment) holds a licence for the
activity and chemical at the event's time, as the log stood when the event was logged."""

from __future__ import annotations

from tests.ledger.rules.scenario import City


def test_a_shipment_by_a_carrier_whose_licence_was_revoked_is_found() -> None:
    city = City()
    city.commission("DRUM-1", chemical="25.1", value="50", packaging="drum")
    city.revoke("carrier")
    shipped = city.ship(["DRUM-1"])

    found = city.only("licence.missing")
    assert found.evidence == (shipped,)
    assert (found.org, found.site, found.item, found.chemical) == (
        "carrier",
        "plant",
        "DRUM-1",
        "25",
    )
    assert found.key == f"{shipped}:carrier"


def test_a_licence_for_the_class_covers_the_chemical() -> None:
    city = City()
    city.commission("DRUM-1", chemical="25.1", value="50")  # sodium cyanide, class 6.1
    city.revoke("carrier")
    city.licence("carrier", ["ship"], ["class:6.1"], kind="transport")
    city.ship(["DRUM-1"])
    city.clean()


def test_a_licence_for_another_class_or_chemical_does_not() -> None:
    city = City()
    city.commission("DRUM-1", chemical="25.1", value="50")
    city.revoke("carrier")
    city.licence("carrier", ["ship"], ["class:3", "33"], kind="transport")
    city.ship(["DRUM-1"])
    assert city.rules() == ["licence.missing"]


def test_a_licence_logged_after_the_event_does_not_excuse_it() -> None:
    city = City()
    city.revoke("maker")
    made = city.commission("DRUM-1")
    city.licence("maker", ["produce"], valid_from="2026-01-01T00:00:00Z")  # backdated
    city.commission("DRUM-2")

    found = city.only("licence.missing")
    assert found.evidence == (made,)
    assert (found.org, found.item) == ("maker", "DRUM-1")


def test_an_expired_licence_is_found() -> None:
    city = City()
    city.revoke("maker")
    city.licence("maker", ["produce"], valid_until="2026-03-02T09:00:00Z")
    city.commission("DRUM-1", at=city.at(minutes=30))
    city.commission("DRUM-2", at=city.at(hours=1))
    assert [f.item for f in city.of("licence.missing")] == ["DRUM-2"]
    assert city.rules() == ["licence.missing"]


def test_a_suspended_organisation_is_found_even_with_a_licence() -> None:
    city = City()
    city.record("org", "maker", name="Maker", type="producer", district="chaoyang",
                status="suspended")  # fmt: skip
    city.commission("DRUM-1")
    found = city.only("licence.missing")
    assert "suspended" in found.message


def test_a_laboratory_needs_no_storage_licence_but_a_warehouse_does() -> None:
    city = City()
    city.commission("DRUM-1")
    city.commission("DRUM-2")
    city.deliver(["DRUM-1"])
    city.deliver(["DRUM-2"], to="store", to_site="depot")
    city.event("store_in", "user", ["DRUM-1"], {}, site="lab")
    city.clean()
    city.revoke("store")
    stored = city.event("store_in", "store", ["DRUM-2"], {}, site="depot")
    found = city.only("licence.missing")
    assert found.evidence == (stored,)
    assert (found.org, found.site) == ("store", "depot")


def test_a_regulator_is_exempt() -> None:
    city = City()
    city.record("org", "inspectorate", name="Inspectorate", type="regulator", district="chaoyang")
    city.commission("DRUM-1", org="inspectorate", site="plant")  # a seized drum, labelled
    city.clean()
