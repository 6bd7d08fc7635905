"""GET /v1/catalog and /v1/catalog/{chemical}; chemical names beside every chemical id; and
chemical filters by id, CAS, UN number or name (an unknown one a 422, never a silent [])."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api._listings import Listings, problem, seed
from tests.api.live import World, world_fixture

world = world_fixture("catalog", CHEMTRACE_FINDINGS="false")


@pytest.fixture(scope="module")
def listings(world: World) -> Iterator[Listings]:
    seeded = seed(world)
    yield seeded
    seeded.http.close()


def test_the_catalog_lists_every_chemical_with_its_facts(listings: Listings) -> None:
    body = listings.ok("p_chem", "/v1/catalog")
    assert body["versions"] == ["2026-draft.1", "2027-draft.1"]
    assert body["version"] == "2026-draft.1"  # in force today, 2026
    assert (body["total"], body["total_kind"], body["next_cursor"]) == (35, "exact", None)
    nitric = next(c for c in body["chemicals"] if c["chemical"] == "26")
    assert (nitric["name"], nitric["name_en"], nitric["cas"]) == ("硝酸", "Nitric acid",
                                                                  "7697-37-2")  # fmt: skip
    assert nitric["un"] == ["UN2031", "UN2032"]
    assert "corrosive" in nitric["categories"] and nitric["ghs_classes"]
    red = next(f for f in nitric["forms"] if f["form_id"] == "26.3")
    assert red["un"] == "UN2032" and red["transport_class"] == "8"
    assert red["major_hazard_threshold_t"] is not None  # GB 18218 Q, in tonnes
    assert red["emergency_advice"]["zh"] and red["emergency_advice"]["en"]
    # provenance of each row: the list entry's, and the form's threshold
    assert nitric["provenance"] in ("beijing_2013", "proposed") and nitric["source"]
    assert red["threshold_basis"] and red["threshold_verified"] in (
        "standard_text", "transcription", "no")  # fmt: skip


def test_an_older_and_a_newer_version_stay_readable(listings: Listings) -> None:
    newer = listings.ok("admin", "/v1/catalog", params={"version": "2027-draft.1"})
    form = newer["chemicals"][0]["forms"][0]
    assert newer["version"] == "2027-draft.1" and form["measure"] == "liquefied_gas"
    problem(listings.get("admin", "/v1/catalog", params={"version": "1999.1"}), 404,
            "catalog_version_not_found")  # fmt: skip


def test_the_catalog_pages_without_a_gap(listings: Listings) -> None:
    seen, cursor = [], None
    while True:
        params = {"limit": 10, **({"cursor": cursor} if cursor else {})}
        body = listings.ok("admin", "/v1/catalog", params=params)
        seen += [c["chemical"] for c in body["chemicals"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [str(n) for n in range(1, 36)]


@pytest.mark.parametrize("spelling", ["26", "26.3", "7697-37-2", "UN2032", "2032", "硝酸",
                                      "nitric acid", "Nitric%20acid"])  # fmt: skip
def test_one_chemical_by_any_spelling(listings: Listings, spelling: str) -> None:
    assert listings.ok("inspector", f"/v1/catalog/{spelling}")["chemical"] == "26"


def test_an_unknown_chemical_is_a_404_and_an_ambiguous_one_a_422(listings: Listings) -> None:
    problem(listings.get("admin", "/v1/catalog/UN9999"), 404, "chemical_not_found")
    ambiguous = problem(listings.get("admin", "/v1/catalog/compressed"), 422,
                        "ambiguous_chemical")  # fmt: skip
    assert [c["chemical"] for c in ambiguous["candidates"]] == ["4", "14", "15", "16", "17", "22"]


def test_items_inventory_and_chains_carry_the_chemical_names(listings: Listings) -> None:
    items = {i["code"]: i for i in listings.ok("admin", "/v1/items")["items"]}
    red = items[listings.nitric[1]]
    assert (red["chemical"], red["chemical_name"], red["chemical_name_en"], red["cas"],
            red["un"]) == ("26.3", "硝酸", "Nitric acid", "7697-37-2", "UN2032")  # fmt: skip
    chlorine = items[listings.chlorine[0]]
    assert (chlorine["chemical_name"], chlorine["un"]) == ("氯(液氯、氯气)", "UN1017")
    one = listings.ok("admin", f"/v1/items/{listings.chlorine[0]}")["state"]
    assert one["cas"] == "7782-50-5"
    inventory = listings.ok("reg_d1", "/v1/inventory")
    assert {t["chemical_name"] for t in inventory["totals"]} == {"氯(液氯、氯气)", "硝酸"}


@pytest.mark.parametrize("spelling", ["26", "26.3", "7697-37-2", "UN2032", "un 2032", "硝酸",
                                      "NITRIC ACID"])  # fmt: skip
def test_a_chemical_filter_takes_any_spelling(listings: Listings, spelling: str) -> None:
    found = listings.ok("admin", "/v1/items", params={"chemical": spelling})["items"]
    assert sorted(i["code"] for i in found) == sorted(listings.nitric)
    held = listings.ok("admin", "/v1/inventory", params={"chemical": spelling})["items"]
    assert sorted(i["code"] for i in held) == sorted(listings.nitric)


@pytest.mark.parametrize("path", ["/v1/items", "/v1/inventory", "/v1/findings"])
def test_an_unknown_chemical_filter_is_a_422_naming_it(listings: Listings, path: str) -> None:
    for spelling, code in (("UN9999", "unknown_chemical"), ("unobtainium", "unknown_chemical"),
                           ("compressed", "ambiguous_chemical")):  # fmt: skip
        body = problem(listings.get("admin", path, params={"chemical": spelling}), 422, code)
        assert body["field"] == "chemical", body
