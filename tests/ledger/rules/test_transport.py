"""transport.*: what a shipment carries when it leaves, and how its trip is tracked."""

from __future__ import annotations

from datetime import timedelta

from tests.ledger.rules.scenario import DRIVER, City, north_of

TWO_HOURS = [20.0, 40.0, 60.0, 80.0, 100.0]


# -- transport.documents_missing ---------------------------------------------------------------


def test_a_shipment_without_an_escort_is_found() -> None:
    city = City()
    city.commission("DRUM-1")
    shipped = city.ship(["DRUM-1"], escort=None)

    found = city.only("transport.documents_missing")
    assert found.evidence == (shipped,)
    assert (found.org, found.site, found.item, found.chemical) == (
        "carrier",
        "plant",
        "DRUM-1",
        "33",
    )
    assert "escort" in found.message


def test_a_shipment_without_a_waybill_is_found() -> None:
    city = City()
    city.commission("DRUM-1")
    city.ship(["DRUM-1"], waybill_no=None)
    assert "waybill number" in city.only("transport.documents_missing").message


def test_a_driver_as_escort_or_with_an_expired_certificate_is_found() -> None:
    city = City()
    city.commission("DRUM-1")
    city.commission("DRUM-2")
    city.ship(["DRUM-1"], escort=DRIVER)  # the driver holds no escort certificate
    city.record("crew", "li", org="carrier", role="driver", person=DRIVER, certificate_no="YS-li",
                valid_from="2026-01-01T00:00:00Z", valid_until="2026-03-01T00:00:00Z")  # fmt: skip
    city.ship(["DRUM-2"])
    found = city.of("transport.documents_missing")
    assert city.rules() == ["transport.documents_missing"] * 2
    assert "escort certificate" in found[0].message
    assert "driver certificate" in found[1].message


def test_a_shipment_with_every_document_is_fine() -> None:
    city = City()
    city.commission("DRUM-1")
    city.ship(["DRUM-1"])
    city.clean()


# -- transport.vehicle_not_licensed ------------------------------------------------------------


def test_a_vehicle_not_licensed_for_explosives_is_found() -> None:
    city = City()
    city.commission("BAG-1", chemical="28.2", packaging="bag")  # explosive-grade, class 1.1D
    shipped = city.ship(["BAG-1"])

    found = city.only("transport.vehicle_not_licensed")
    assert found.evidence == (shipped,)
    assert (found.org, found.item, found.chemical) == ("carrier", "BAG-1", "28")
    assert "1.1D" in found.message


def test_an_unregistered_or_expired_vehicle_is_found() -> None:
    city = City()
    city.commission("DRUM-1")
    city.commission("DRUM-2")
    city.ship(["DRUM-1"], vehicle="京B·00000")
    city.record("vehicle", "truck", org="carrier", plate="京A·D1234", transport_licence="JY-1",
                un_classes=["3"], valid_until="2026-03-01T00:00:00Z")  # fmt: skip
    city.ship(["DRUM-2"])
    found = city.of("transport.vehicle_not_licensed")
    assert city.rules() == ["transport.vehicle_not_licensed"] * 2
    assert "not in the registry" in found[0].message
    assert "not valid" in found[1].message


def test_a_vehicle_licensed_for_a_whole_class_carries_its_divisions() -> None:
    city = City()
    city.commission("CYL-1", chemical="24.1", value="10", packaging="cylinder")  # phosphine, 2.3
    city.ship(["CYL-1"], vehicle="京A·D1234")  # by plate; the truck may carry class 2
    city.clean()


# -- transport.gps_gap -------------------------------------------------------------------------


def test_a_31_minute_gap_in_the_track_is_found() -> None:
    city = City()
    city.commission("DRUM-1")
    shipped = city.ship(["DRUM-1"])
    start = city.clock
    city.track(["DRUM-1"], shipped, start, [20.0, 51.0, 70.0, 90.0, 110.0], total=120)
    received = city.receive(["DRUM-1"], shipped, at=start + timedelta(minutes=120))

    found = city.only("transport.gps_gap")
    assert found.evidence == (shipped, received)
    assert (found.org, found.site, found.item) == ("carrier", "lab", "DRUM-1")
    assert "31-minute" in found.message


def test_a_trip_with_no_waypoints_at_all_is_found() -> None:
    city = City()
    city.commission("DRUM-1")
    shipped = city.ship(["DRUM-1"])
    city.receive(["DRUM-1"], shipped, at=city.at(hours=2))
    assert city.rules() == ["transport.gps_gap"]


def test_a_gap_just_under_30_minutes_is_fine() -> None:
    city = City()
    city.commission("DRUM-1")
    shipped = city.ship(["DRUM-1"])
    start = city.clock
    city.track(["DRUM-1"], shipped, start, [29.9, 59.8, 89.7], total=119.5)
    city.receive(["DRUM-1"], shipped, at=start + timedelta(minutes=119.5))
    city.clean()


# -- transport.arrival_far ---------------------------------------------------------------------


def test_a_receive_2_5_km_from_the_consignee_site_is_found() -> None:
    city = City()
    city.commission("DRUM-1")
    shipped = city.ship(["DRUM-1"])
    city.track(["DRUM-1"], shipped, city.clock, TWO_HOURS, total=120)
    received = city.receive(["DRUM-1"], shipped, at=city.at(hours=2), geo=north_of("lab", 2.5))

    found = city.only("transport.arrival_far")
    assert found.evidence == (shipped, received)
    assert (found.org, found.site, found.item) == ("user", "lab", "DRUM-1")
    assert "2.5 km" in found.message


def test_a_receive_1_9_km_from_the_consignee_site_is_fine() -> None:
    city = City()
    city.commission("DRUM-1")
    shipped = city.ship(["DRUM-1"])
    city.track(["DRUM-1"], shipped, city.clock, TWO_HOURS, total=120)
    city.receive(["DRUM-1"], shipped, at=city.at(hours=2), geo=north_of("lab", 1.9))
    city.clean()


def test_a_receive_recorded_at_another_site_is_far() -> None:
    city = City()
    city.commission("DRUM-1")
    shipped = city.ship(["DRUM-1"])
    city.track(["DRUM-1"], shipped, city.clock, TWO_HOURS, total=120)
    city.receive(["DRUM-1"], shipped, site="ward", at=city.at(hours=2))
    assert city.rules() == ["transport.arrival_far"]
