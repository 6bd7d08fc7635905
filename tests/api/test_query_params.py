"""Query strings on the /v1 JSON API: an unknown parameter or a repeated single-valued one is
a 422 naming it; list filters repeat; times take any RFC 3339 offset; pages outside /v1
ignore what they do not know."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api._listings import Listings, problem, seed
from tests.api.live import World, world_fixture

world = world_fixture("params", CHEMTRACE_FINDINGS="false")


@pytest.fixture(scope="module")
def listings(world: World) -> Iterator[Listings]:
    seeded = seed(world)
    yield seeded
    seeded.http.close()


@pytest.mark.parametrize(
    ("path", "query", "name"),
    [
        ("/v1/items", "offset=10", "offset"),  # silently ignored before: now refused
        ("/v1/items", "chemical=1&colour=red", "colour"),
        ("/v1/inventory", "sites=x", "sites"),
        ("/v1/findings", "siteid=p-chem-site", "siteid"),
        ("/v1/orgs", "page=2", "page"),
        ("/v1/catalog", "lang=en", "lang"),
        ("/v1/log/entries", "start=0&end=1&tail=1", "tail"),
        ("/v1/security/journal", "utm_source=x", "utm_source"),
    ],
)
def test_an_unknown_parameter_is_a_422_naming_it(
    listings: Listings, path: str, query: str, name: str
) -> None:
    body = problem(listings.get("admin", f"{path}?{query}"), 422, "unknown_parameter")
    assert body["field"] == name


@pytest.mark.parametrize(
    ("path", "query", "name"),
    [
        ("/v1/items", "org=p-chem&org=u-lab", "org"),
        ("/v1/items", "limit=1&limit=2", "limit"),
        ("/v1/findings", "district=d1&district=d2", "district"),
        ("/v1/inventory", "at=2026-10-01T00:00:00Z&at=2026-10-02T00:00:00Z", "at"),
        ("/v1/catalog", "version=2026-draft.1&version=2027-draft.1", "version"),
    ],
)
def test_a_repeated_single_valued_parameter_is_a_422(
    listings: Listings, path: str, query: str, name: str
) -> None:
    body = problem(listings.get("admin", f"{path}?{query}"), 422, "repeated_parameter")
    assert body["field"] == name


def test_an_anonymous_caller_gets_its_401_first(listings: Listings) -> None:
    problem(listings.get("anon", "/v1/items?colour=red"), 401, "unauthenticated")
    # a public route has no 401 to give: the parameter is judged at once
    problem(listings.get("anon", "/v1/log/checkpoint?x=1"), 422, "unknown_parameter")


def test_list_filters_repeat(listings: Listings) -> None:
    both = listings.ok("admin", "/v1/items?status=active&status=in_transit")["items"]
    assert len(both) == len(listings.chlorine) + len(listings.nitric) + len(listings.lab)
    problem(listings.get("admin", "/v1/items?status=active&status=melted"), 422,
            "invalid_request")  # fmt: skip
    # severity keeps every value (it kept only the last before)
    ok = listings.get("admin", "/v1/findings?severity=low&severity=critical")
    assert ok.status_code == 200, ok.text


def test_pages_outside_v1_ignore_unknown_parameters(listings: Listings) -> None:
    code = listings.chlorine[0]
    page = listings.http.get(f"/c/{code}?from=timeline&isappinstalled=0&utm_source=wechat")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert listings.http.get("/healthz?probe=1").status_code == 200


@pytest.mark.parametrize(
    ("given", "same_as"),
    [
        ("2026-10-01T16:00:00+08:00", "2026-10-01T08:00:00Z"),
        ("2026-10-01T03:00:00-05:00", "2026-10-01T08:00:00Z"),
        ("2026-10-01T08:00:00.000+00:00", "2026-10-01T08:00:00Z"),
        ("2026-10-01t08:00:00z", "2026-10-01T08:00:00Z"),
    ],
)
def test_query_times_take_any_offset(listings: Listings, given: str, same_as: str) -> None:
    # the world's events are at 2026-10-01T08:00:01Z onwards: none at 08:00:00
    for path in ("/v1/items", "/v1/inventory"):
        offset = listings.ok("admin", path, params={"at": given})
        utc = listings.ok("admin", path, params={"at": same_as})
        assert offset["items"] == utc["items"] == []
    later = listings.ok("admin", "/v1/inventory", params={"at": "2026-10-02T08:00:00+08:00"})
    assert later["at"] == "2026-10-02T00:00:00Z"  # answers are in UTC
    assert later["total"] == len(listings.chlorine) + len(listings.nitric) + len(listings.lab)
    findings = listings.get("admin", "/v1/findings", params={"since": given})
    assert findings.status_code == 200, findings.text


@pytest.mark.parametrize("bad", ["2026-10-01T08:00:00", "2026-10-01 08:00:00Z", "yesterday",
                                 "2026-02-30T08:00:00Z", "2026-10-01T08:00:00+25:00"])  # fmt: skip
def test_a_time_without_an_offset_or_impossible_is_a_422(listings: Listings, bad: str) -> None:
    body = problem(listings.get("admin", "/v1/items", params={"since": bad}), 422,
                   "invalid_request")  # fmt: skip
    assert body["field"] == "since"
