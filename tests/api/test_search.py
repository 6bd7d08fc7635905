"""Item search by lot, waybill number, vehicle (id or plate), device and organisation, within
the caller's scope, now and at a past time."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api._listings import LOT, PLATE, WAYBILL, Listings, problem, seed
from tests.api.live import World, world_fixture

world = world_fixture("search", CHEMTRACE_FINDINGS="false")


@pytest.fixture(scope="module")
def listings(world: World) -> Iterator[Listings]:
    seeded = seed(world)
    yield seeded
    seeded.http.close()


def codes(listings: Listings, role: str = "admin", **params: str) -> set[str]:
    return {i["code"] for i in listings.ok(role, "/v1/items", params=params)["items"]}


def test_by_lot(listings: Listings) -> None:
    assert codes(listings, lot=LOT) == set(listings.nitric)
    assert codes(listings, lot="lot nitric 7") == set(listings.nitric)  # as typed
    assert codes(listings, lot="L1") == set(listings.chlorine)
    assert codes(listings, lot="NO-SUCH-LOT") == set()


def test_by_waybill_and_vehicle(listings: Listings) -> None:
    assert codes(listings, waybill=WAYBILL) == {listings.shipped}
    assert codes(listings, waybill="ew20260001") == {listings.shipped}
    for vehicle in ("c-van", PLATE, "京A12345", "京a 12345"):  # its id, or its plate typed
        assert codes(listings, vehicle=vehicle) == {listings.shipped}, vehicle
    assert codes(listings, vehicle="京B99999") == set()


def test_by_device(listings: Listings) -> None:
    # u-lab's device signed its own commissions and the receive of the shipped drum
    assert codes(listings, device=listings.device) == {*listings.lab, listings.shipped}


def test_by_organisation_id_or_name(listings: Listings) -> None:
    assert codes(listings, org="u-lab") == {*listings.lab, listings.shipped}
    assert codes(listings, org="u-lab Ltd") == {*listings.lab, listings.shipped}
    assert codes(listings, org="U-LAB LTD") == {*listings.lab, listings.shipped}


def test_filters_combine(listings: Listings) -> None:
    assert codes(listings, lot=LOT, org="p-chem") == set(listings.nitric[1:])
    assert codes(listings, lot=LOT, waybill=WAYBILL) == {listings.shipped}
    assert codes(listings, lot="L1", waybill=WAYBILL) == set()


def test_search_stays_in_scope(listings: Listings) -> None:
    # p-chem made the lot; the drum it shipped is u-lab's now, so p-chem no longer lists it
    assert codes(listings, "p_chem", lot=LOT) == set(listings.nitric[1:])
    assert codes(listings, "u_lab", lot=LOT) == {listings.shipped}
    assert codes(listings, "reg_d2", waybill=WAYBILL) == {listings.shipped}
    assert codes(listings, "reg_d1", device=listings.device) == set()  # nothing in d1 now
    problem(listings.get("p_chem", "/v1/items", params={"org": "u-lab Ltd"}), 404,
            "org_not_found")  # fmt: skip


def test_search_at_a_past_time(listings: Listings) -> None:
    chain = listings.ok("admin", f"/v1/items/{listings.shipped}/events")["steps"]
    before_ship = chain[0]["time"]
    # at the commission, no waybill had been written yet
    assert codes(listings, waybill=WAYBILL, at=before_ship) == set()
    assert listings.shipped in codes(listings, lot=LOT, at=before_ship)
