"""Cursor pages on every list: totals, no row twice and none missed, tamper-evident cursors,
and filters outside the caller's scope refused rather than answered with an empty page."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from ledger.rules import Finding
from ledger.store.engine import make_engine
from ledger.store.findings import FindingStore
from tests.api._listings import Listings, problem, seed
from tests.api.live import World, world_fixture

world = world_fixture("pages", CHEMTRACE_FINDINGS="false")
FINDINGS = 23


@pytest.fixture(scope="module")
def listings(world: World) -> Iterator[Listings]:
    seeded = seed(world, chlorine=9, nitric=4, lab=3)
    engine = make_engine(world.server.db_url)
    try:  # findings in both districts, several seen at the same second (ties on last_seen)
        FindingStore(engine).save([
            Finding(rule="dormancy.idle", key=uuid.uuid4().hex, severity="low",
                    at=f"2026-11-{1 + n // 3:02d}T08:00:00Z", message="idle",
                    evidence=("sha256:" + "ab" * 32,), org="p-chem" if n % 2 else "u-lab",
                    site=None, district="d1" if n % 2 else "d2", chemical="26.3",
                    item=f"ITEM-{n}")
            for n in range(FINDINGS)
        ])  # fmt: skip
    finally:
        engine.dispose()
    yield seeded
    seeded.http.close()


def walk(listings: Listings, role: str, path: str, key: str, **params: Any) -> list[Any]:
    """Every page of a list, following the cursors; checks the total on each page."""
    rows, cursor, totals = [], None, set()
    for _ in range(100):
        body = listings.ok(role, path, params={**params, **({"cursor": cursor} if cursor else {})})
        rows += body[key]
        totals.add((body["total"], body["total_kind"]))
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(totals) == 1, totals
    ((total, kind),) = totals
    assert (total, kind) == (len(rows), "exact")
    return rows


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 16, 500])
def test_item_pages_have_no_duplicate_and_no_gap(listings: Listings, limit: int) -> None:
    everything = listings.ok("admin", "/v1/items")["items"]
    assert len(everything) == 16
    paged = walk(listings, "admin", "/v1/items", "items", limit=limit)
    assert paged == everything  # the same rows in the same (code) order
    assert len({i["code"] for i in paged}) == 16


def test_pages_are_scoped_and_filtered(listings: Listings) -> None:
    mine = walk(listings, "p_chem", "/v1/items", "items", limit=4)
    assert {i["holder"] for i in mine} == {"p-chem"} and len(mine) == 9 + 3
    held = walk(listings, "reg_d2", "/v1/inventory", "items", limit=2)
    assert {i["code"] for i in held} == {listings.shipped, *listings.lab}


def test_inventory_totals_cover_every_page(listings: Listings) -> None:
    first = listings.ok("admin", "/v1/inventory", params={"limit": 2})
    assert len(first["items"]) == 2 and first["total"] == 16
    assert sum(t["items"] for t in first["totals"]) == 16


def test_findings_pages_keep_order_across_ties(listings: Listings) -> None:
    everything = listings.ok("admin", "/v1/findings", params={"limit": 500})["findings"]
    assert len(everything) == FINDINGS
    for limit in (1, 4, 7):
        paged = walk(listings, "admin", "/v1/findings", "findings", limit=limit)
        assert [f["id"] for f in paged] == [f["id"] for f in everything]
    mine = walk(listings, "reg_d1", "/v1/findings", "findings", limit=5)
    assert {f["district"] for f in mine} == {"d1"} and len(mine) == FINDINGS // 2
    # repeated filters: both districts' severity, any of two rules
    assert len(walk(listings, "admin", "/v1/findings", "findings", limit=6,
                    rule=["dormancy.idle", "licence.missing"])) == FINDINGS  # fmt: skip


def test_findings_site_filter_is_applied(listings: Listings) -> None:
    """``findings?site=`` was silently ignored: every finding came back."""
    body = listings.ok("admin", "/v1/findings", params={"site": "p-chem-site"})
    assert body["findings"] == [] and body["total"] == 0  # the seeded findings name no site


def test_chain_pages(listings: Listings) -> None:
    steps = walk(listings, "admin", f"/v1/items/{listings.shipped}/events", "steps", limit=1)
    assert [s["type"] for s in steps] == ["commission", "ship", "receive"]


def _cursor(listings: Listings, role: str = "admin", **params: Any) -> str:
    cursor: str = listings.ok(role, "/v1/items", params={"limit": 2, **params})["next_cursor"]
    assert cursor
    return cursor


def test_a_bad_cursor_is_a_422(listings: Listings) -> None:
    cursor = _cursor(listings)
    payload, tag = cursor.split(".")
    forged_position = base64.urlsafe_b64encode(json.dumps(["ZZZ"]).encode()).decode().rstrip("=")
    for bad in ("garbage", "a.b", cursor + "x", f"{forged_position}.{tag}", f"{payload}.",
                "." + tag, cursor.upper()):  # fmt: skip
        body = problem(listings.get("admin", "/v1/items", params={"limit": 2, "cursor": bad}),
                       422, "invalid_cursor")  # fmt: skip
        assert body["field"] == "cursor"


def test_a_cursor_belongs_to_its_query_and_caller(listings: Listings) -> None:
    cursor = _cursor(listings)
    # the same cursor with another filter, on another list, or by another caller
    for role, path, params in (
        ("admin", "/v1/items", {"status": "active"}),
        ("admin", "/v1/inventory", {}),
        ("reg_d1", "/v1/items", {}),
    ):
        response = listings.get(role, path, params={"limit": 2, "cursor": cursor, **params})
        problem(response, 422, "invalid_cursor")
    # a different limit is the same query: pages may change size on the way
    assert listings.ok("admin", "/v1/items", params={"limit": 5, "cursor": cursor})["items"]


def test_offset_and_cursor_do_not_mix(listings: Listings) -> None:
    cursor = listings.ok("admin", "/v1/findings", params={"limit": 2})["next_cursor"]
    response = listings.get("admin", "/v1/findings", params={"cursor": cursor, "offset": 2})
    assert problem(response, 422, "invalid_request")["field"] == "offset"


# -- filters outside the caller's scope (docs/access-policy.md, "Filters") --------------------


@pytest.mark.parametrize("path", ["/v1/items", "/v1/inventory", "/v1/findings"])
def test_an_out_of_scope_site_or_org_answers_like_a_missing_one(
    listings: Listings, path: str
) -> None:
    for name, hidden, missing in (("site", "u-lab-site", "no-such-site"),
                                  ("org", "u-lab", "no-such-org")):  # fmt: skip
        answers = []
        for value in (hidden, missing):
            body = problem(listings.get("p_chem", path, params={name: value}), 404,
                           f"{name}_not_found")  # fmt: skip
            answers.append(body["detail"].replace(value, "<id>"))
        assert answers[0] == answers[1]  # nothing tells whether u-lab's site exists
    # the caller's own site and org are fine
    assert listings.get("p_chem", path, params={"site": "p-chem-site"}).status_code == 200
    assert listings.get("p_chem", path, params={"org": "p-chem Ltd"}).status_code == 200


@pytest.mark.parametrize("path", ["/v1/inventory", "/v1/findings"])
def test_an_out_of_scope_district_is_refused(listings: Listings, path: str) -> None:
    problem(listings.get("reg_d1", path, params={"district": "d2"}), 403, "forbidden")
    problem(listings.get("inspector", path, params={"district": "d2"}), 403, "forbidden")
    problem(listings.get("reg_d1", path, params={"district": "d9"}), 403, "forbidden")
    problem(listings.get("admin", path, params={"district": "d9"}), 404, "district_not_found")
    assert listings.get("reg_d1", path, params={"district": "d1"}).status_code == 200
    assert listings.get("admin", path, params={"district": "d2"}).status_code == 200


def test_journal_pages_with_link_headers(listings: Listings, world: World) -> None:
    for code in world.issue("u-lab", 4):  # p-chem's token writes for u-lab: refused, journalled
        refused = listings.http.post(
            "/v1/events", json=world.commission("u-lab", code),
            headers={"Authorization": f"Bearer {listings.token('p_chem')}"},
        )  # fmt: skip
        assert refused.status_code == 403, refused.text
    everything = listings.ok("admin", "/v1/security/journal")
    assert len(everything) >= 4
    seen, path = [], "/v1/security/journal?limit=1"
    while path:
        response = listings.get("admin", path)
        assert response.status_code == 200, response.text
        assert response.headers["x-total-count"] == str(len(everything))
        seen += response.json()
        link = response.headers.get("link")
        path = link.split(">")[0].removeprefix("<") if link else ""
    assert [e["id"] for e in seen] == [e["id"] for e in everything]


def test_registry_lists_page_with_link_headers(listings: Listings) -> None:
    everything = listings.ok("admin", "/v1/sites")
    seen, path = [], "/v1/sites?limit=2"
    while path:
        response = listings.get("admin", path)
        assert response.headers["x-total-count"] == str(len(everything))
        assert response.headers["x-total-kind"] == "exact"
        seen += response.json()
        link = response.headers.get("link")
        path = link.split(">")[0].removeprefix("<") if link else ""
    assert seen == everything and len(everything) == 5
    problem(listings.get("p_chem", "/v1/devices", params={"org": "u-lab"}), 404, "org_not_found")


def test_a_findings_occurrences_page_with_a_cursor(listings: Listings, world: World) -> None:
    engine = make_engine(world.server.db_url)
    try:  # five occurrences of one group (one rule, one subject), two at the same second
        FindingStore(engine).save([
            Finding(rule="dormancy.idle", key=uuid.uuid4().hex, severity="low",
                    at=f"2026-12-0{min(n, 4) + 1}T08:00:00Z", message="idle",
                    evidence=("sha256:" + "cd" * 32,), org="p-chem", site=None, district="d1",
                    chemical="1.1", item="ITEM-GROUPED")
            for n in range(5)
        ])  # fmt: skip
    finally:
        engine.dispose()
    (group,) = listings.ok("admin", "/v1/findings", params={"item": "ITEM-GROUPED"})["findings"]
    path = f"/v1/findings/{group['id']}"
    everything = listings.ok("admin", path)
    assert everything["occurrences_total"] == 5 and everything["occurrences_next_cursor"] is None
    seen, cursor = [], None
    while True:
        params = {"occurrences_limit": 2, **({"occurrences_cursor": cursor} if cursor else {})}
        body = listings.ok("admin", path, params=params)
        seen += body["occurrences"]
        cursor = body["occurrences_next_cursor"]
        if cursor is None:
            break
    assert [o["id"] for o in seen] == [o["id"] for o in everything["occurrences"]]
    bad = listings.get("admin", path, params={"occurrences_cursor": "x.y"})
    assert problem(bad, 422, "invalid_cursor")["field"] == "occurrences_cursor"


def test_personal_data_reads_page_and_take_any_offset(listings: Listings, world: World) -> None:
    world.admin.put_crew("page-driver", org="c-move", role="driver", certificate_no="DC-PG",
                         valid_from="2026-01-01T00:00:00Z", valid_until="2027-12-31T00:00:00Z",
                         person={"name": "Wang Wu", "id_number": "110101199001011234"})  # fmt: skip
    for n in range(3):
        listings.ok("reg_d2", "/v1/crew/page-driver/person", params={"reason": f"check {n}"})
    everything = listings.ok("admin", "/v1/audit/personal-reads", params={"limit": 1000})
    seen, path = [], "/v1/audit/personal-reads?limit=1"
    while path:
        response = listings.get("admin", path)
        assert response.headers["x-total-count"] == str(len(everything))
        seen += response.json()
        link = response.headers.get("link")
        path = link.split(">")[0].removeprefix("<") if link else ""
    assert seen == everything and len(everything) >= 3
    local = listings.ok("admin", "/v1/audit/personal-reads",
                        params={"since": "2000-01-01T08:00:00+08:00"})  # fmt: skip
    assert local == everything[:100]
