"""EPCIS 2.0 named queries (``/epcis/queries``), end to end on a real server (SQLite and
PostgreSQL): create, list, read, run, delete; a running query is ``GET /epcis/events`` with
its parameters, for the caller at the time of the run.

A query belongs to its organisation. Every probe of another organisation's query must get
exactly what a name nobody has gets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import httpx
import pytest

from tests.api.live import World, without_request_id, world_fixture
from tests.api.test_epcis_query import _token
from tests.api.test_epcis_resources import _events, _indices, _stable

world = world_fixture("epcisq")
ABSENT: Final = "never-made"


@dataclass(frozen=True)
class Scenario:
    shipped: str
    """p-chem's: commissioned, shipped to u-lab, received."""
    private: str
    """t-trade's, never handed on."""
    colleague: str
    """A second p-chem user's token."""
    responder: str
    """A responder's token (no custody reading)."""


@pytest.fixture(scope="module")
def scenario(world: World) -> Scenario:
    (shipped, private) = world.issue("p-chem", 1) + world.issue("t-trade", 1)
    producer, lab = world.actors["p-chem"], world.actors["u-lab"]
    producer.client.submit(world.commission("p-chem", shipped))
    ship = producer.client.submit(world.event("p-chem", "ship", [shipped], {
        "carrier": "c-move", "consignee": "u-lab", "consignee_site": "u-lab-site",
        "waybill_no": "NQ1",
    }))  # fmt: skip
    lab.client.submit(world.event("u-lab", "receive", [shipped], {"ship": ship["entry_hash"]}))
    world.actors["t-trade"].client.submit(world.commission("t-trade", private))
    world.admin.put_user("p-chem-2", role="enterprise", org="p-chem", name="second operator")
    world.admin.put_user("resp-q", role="responder", name="command post")
    return Scenario(shipped, private, world.admin.issue_token("p-chem-2"),
                    world.admin.issue_token("resp-q"))  # fmt: skip


def _auth(world: World, who: str) -> dict[str, str]:
    token = who.removeprefix("token:") if who.startswith("token:") else _token(world, who)
    return {"Authorization": f"Bearer {token}"}


def _create(world: World, who: str, body: Any) -> httpx.Response:
    return httpx.post(world.server.base_url + "/epcis/queries", json=body,
                      headers=_auth(world, who))  # fmt: skip


def _delete(world: World, who: str, name: str) -> httpx.Response:
    return httpx.delete(world.server.base_url + f"/epcis/queries/{name}",
                        headers=_auth(world, who))  # fmt: skip


def _as(world: World, who: str, path: str, params: Any = None) -> httpx.Response:
    return httpx.get(world.server.base_url + path, params=params, headers=_auth(world, who))


def _made(world: World, who: str, name: str, query: dict[str, Any]) -> None:
    answer = _create(world, who, {"name": name, "query": query})
    assert answer.status_code == 201, answer.text
    assert answer.headers["location"] == f"/epcis/queries/{name}"


def _all_pages(world: World, who: str, path: str, params: Any = None) -> list[dict[str, Any]]:
    """Every event of a query, following ``Link: rel="next"``."""
    answer = _as(world, who, path, params)
    events = _events(answer)
    while "link" in answer.headers:
        answer = _as(world, who, answer.headers["link"].split(";")[0].strip("<>"))
        events += _events(answer)
    return events


QUERIES: Final[list[dict[str, Any]]] = [
    {},
    {"EQ_bizStep": ["shipping", "receiving"]},
    {"eventType": ["ObjectEvent"], "EQ_action": ["ADD"]},
    {"MATCH_anyEPC": ["urn:chemtrace:code:{shipped}"]},
    {"MATCH_anyEPC": ["urn:chemtrace:code:{private}"]},
    {"GE_eventTime": "2000-01-01T00:00:00Z", "EQ_disposition": ["in_transit", "active"]},
]


def _filled(query: dict[str, Any], scenario: Scenario) -> dict[str, Any]:
    return {k: [v.format(shipped=scenario.shipped, private=scenario.private) for v in values]
            if isinstance(values, list) else values for k, values in query.items()}  # fmt: skip


def _as_params(query: dict[str, Any]) -> list[tuple[str, str]]:
    return [(k, v) for k, values in query.items()
            for v in (values if isinstance(values, list) else [values])]  # fmt: skip


@pytest.mark.parametrize("who", ["p-chem", "u-lab", "t-trade", "d2", "admin"])
def test_a_named_querys_events_are_the_direct_querys(
    world: World, scenario: Scenario, who: str
) -> None:
    """Each stored query answers what GET /epcis/events answers the same caller, page by page
    with the same tokens, and whole."""
    for number, query in enumerate(QUERIES):
        filled = _filled(query, scenario)
        name = f"same-{who}-{number}"
        _made(world, who, name, filled)
        direct = _as(world, who, "/epcis/events", _as_params(filled))
        named = _as(world, who, f"/epcis/queries/{name}/events")
        assert named.headers["gs1-epcis-version"] == "2.0.0"
        assert _stable(_events(named)) == _stable(_events(direct)), (who, query)
        paged = _all_pages(world, who, f"/epcis/queries/{name}/events", {"perPage": "1"})
        whole = _all_pages(world, who, "/epcis/events", [*_as_params(filled), ("perPage", "1")])
        assert _stable(paged) == _stable(whole) == _stable(_events(direct))


def test_a_named_query_is_scoped_to_the_caller_when_it_runs(
    world: World, scenario: Scenario
) -> None:
    """Stored by one p-chem user, run by another: the runner's scope, and events appended
    after the query was made."""
    urn = f"urn:chemtrace:code:{scenario.shipped}"
    _made(world, "p-chem", "chain", {"MATCH_anyEPC": [urn]})
    colleague = f"token:{scenario.colleague}"
    before = _events(_as(world, colleague, "/epcis/queries/chain/events"))
    assert _indices(before) == _indices(_events(_as(world, "p-chem", "/epcis/events",
                                                    {"MATCH_anyEPC": urn})))  # fmt: skip
    (fresh,) = world.issue("p-chem", 1)
    world.actors["p-chem"].client.submit(world.commission("p-chem", fresh))
    _made(world, "p-chem", "fresh", {"MATCH_anyEPC": [f"urn:chemtrace:code:{fresh}"]})
    assert _events(_as(world, colleague, "/epcis/queries/fresh/events")) != []
    # u-lab's own query of the same definition: u-lab's span of the chain only
    _made(world, "u-lab", "chain", {"MATCH_anyEPC": [urn]})
    lab = _events(_as(world, "u-lab", "/epcis/queries/chain/events"))
    assert [e["bizStep"] for e in lab] == ["shipping", "receiving"]
    assert [e["bizStep"] for e in before] == ["commissioning", "shipping"]  # p-chem's span


def test_create_list_read_and_delete(world: World, scenario: Scenario) -> None:
    definition = {"EQ_bizStep": ["shipping"], "eventType": ["ObjectEvent"]}
    answer = _create(world, "t-trade", {"name": "life", "query": definition})
    assert answer.status_code == 201, answer.text
    assert answer.json() == {"name": "life", "query": definition}
    assert _as(world, "t-trade", "/epcis/queries/life").json() == {
        "name": "life", "query": definition,
    }  # fmt: skip
    assert "life" in [q["name"] for q in _as(world, "t-trade", "/epcis/queries").json()]
    colleague = f"token:{scenario.colleague}"
    _made(world, "p-chem", "theirs", {})
    assert _delete(world, colleague, "theirs").status_code == 204  # the organisation's
    assert _delete(world, "t-trade", "life").status_code == 204
    for probe in (_as(world, "t-trade", "/epcis/queries/life"),
                  _as(world, "t-trade", "/epcis/queries/life/events"),
                  _delete(world, "t-trade", "life")):  # fmt: skip
        assert probe.status_code == 404, probe.text
    assert "life" not in [q["name"] for q in _as(world, "t-trade", "/epcis/queries").json()]
    _made(world, "t-trade", "life", {})  # the name is free again


def test_the_list_pages_through_the_organisations_queries(world: World) -> None:
    for name in ("page-a", "page-b", "page-c"):
        _made(world, "c-move", name, {})
    answer = _as(world, "c-move", "/epcis/queries", {"perPage": "1"})
    names: list[str] = []
    while True:
        assert answer.status_code == 200, answer.text
        page = answer.json()
        assert len(page) <= 1
        names += [q["name"] for q in page]
        if "link" not in answer.headers:
            break
        answer = _as(world, "c-move", answer.headers["link"].split(";")[0].strip("<>"))
    assert sorted(names) == ["page-a", "page-b", "page-c"]
    assert names == [q["name"] for q in _as(world, "c-move", "/epcis/queries").json()]
    assert not {"page-a", "page-b"} & {
        q["name"] for q in _as(world, "u-lab", "/epcis/queries").json()
    }


def test_a_name_taken_in_the_organisation_is_a_409(world: World, scenario: Scenario) -> None:
    _made(world, "p-chem", "twice", {"EQ_bizStep": ["shipping"]})
    again = _create(world, f"token:{scenario.colleague}",
                    {"name": "twice", "query": {"EQ_bizStep": ["receiving"]}})  # fmt: skip
    assert again.status_code == 409, again.text
    problem = again.json()
    assert problem["type"] == "https://ns.gs1.org/epcis/ResourceAlreadyExistsException"
    assert (problem["code"], problem["field"]) == ("epcis_query_exists", "name")
    assert _as(world, "p-chem", "/epcis/queries/twice").json()["query"] == {
        "EQ_bizStep": ["shipping"]
    }


def _probes(world: World, who: str, name: str) -> list[tuple[int, str, str]]:
    answers = [_as(world, who, f"/epcis/queries/{name}"),
               _as(world, who, f"/epcis/queries/{name}/events"),
               _as(world, who, f"/epcis/queries/{name}/events", {"perPage": "1"}),
               _delete(world, who, name)]  # fmt: skip
    return [(a.status_code, a.headers["content-type"], without_request_id(a)) for a in answers]


@pytest.mark.parametrize("who", ["u-lab", "d1", "admin"])
def test_another_organisations_query_answers_like_an_absent_one(
    world: World, scenario: Scenario, who: str
) -> None:
    name = f"secret-{who}"
    _made(world, "p-chem", name, {"EQ_bizStep": ["commissioning"]})
    hidden, absent = _probes(world, who, name), _probes(world, who, ABSENT)
    assert hidden == absent
    assert {status for status, _, _ in hidden} == {404}
    problem = _as(world, who, f"/epcis/queries/{name}").json()
    assert problem["type"] == "https://ns.gs1.org/epcis/NoSuchNameException"
    assert (problem["code"], problem["field"]) == ("epcis_query_not_found", "queryName")
    assert name not in problem["detail"]
    # the same name is free in the prober's namespace, and p-chem's is untouched by it all
    _made(world, who, name, {"EQ_bizStep": ["shipping"]})
    assert _as(world, "p-chem", f"/epcis/queries/{name}").json()["query"] == {
        "EQ_bizStep": ["commissioning"]
    }
    assert _as(world, who, f"/epcis/queries/{name}").json()["query"] == {"EQ_bizStep": ["shipping"]}
    assert name not in [q["name"] for q in _as(world, "u-lab" if who != "u-lab" else "d1",
                                                   "/epcis/queries").json()]  # fmt: skip


@pytest.mark.parametrize(
    ("query", "params"),
    [
        ({"eventType": ["PartyEvent"]}, {"eventType": "PartyEvent"}),
        ({"EQ_colour": ["red"]}, {"EQ_colour": "red"}),
        ({"GE_eventTime": "yesterday"}, {"GE_eventTime": "yesterday"}),
        ({"LT_recordTime": "2026-01-01T00:00:00"}, {"LT_recordTime": "2026-01-01T00:00:00"}),
        ({"MATCH_epc": ["urn:epc:idpat:sgtin:9506000.013435.*"]},
         {"MATCH_epc": "urn:epc:idpat:sgtin:9506000.013435.*"}),
        ({"EQ_action": ["ADD", ""]}, {"EQ_action": "ADD,"}),
        ({"EQ_action": ["MOVE"]}, {"EQ_action": "MOVE"}),
    ],
)  # fmt: skip
def test_a_bad_parameter_is_refused_as_get_refuses_it(
    world: World, query: dict[str, Any], params: dict[str, str]
) -> None:
    """The stored query's parameters go through GET /epcis/events' checks: the same problem."""
    direct = _as(world, "u-lab", "/epcis/events", params)
    stored = _create(world, "u-lab", {"name": "bad", "query": query})
    assert stored.status_code == direct.status_code == 400, stored.text
    assert stored.json()["type"] == "epcisException:QueryParameterException"
    assert without_request_id(stored) == without_request_id(direct)
    assert _as(world, "u-lab", "/epcis/queries/bad").status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"name": "x", "query": {"MATCH_epc": "urn:chemtrace:code:x"}}, 400, "MATCH_epc"),
        ({"name": "x", "query": {"GE_eventTime": ["2026-01-01T00:00:00Z"]}}, 400, "GE_eventTime"),
        ({"name": "x", "query": {"perPage": "5"}}, 400, "perPage"),
        ({"name": "x", "query": ["EQ_bizStep"]}, 400, "query"),
        ({"name": "x"}, 400, "query"),
        ({"query": {}}, 400, "name"),
        ({"name": "-x", "query": {}}, 400, "name"),
        ({"name": "a/b", "query": {}}, 400, "name"),
        ({"name": "x" * 129, "query": {}}, 400, "name"),
        ({"name": "x", "query": {}, "extra": 1}, 400, "extra"),
        (
            {
                "name": "x",
                "query": {"MATCH_anyEPC": ["urn:chemtrace:code:CT-00000-00000-00000"] * 3000},
            },
            413,
            "query",
        ),
    ],
)
def test_a_malformed_definition_is_refused_naming_the_field(
    world: World, body: Any, status: int, field: str
) -> None:
    answer = _create(world, "u-lab", body)
    assert (answer.status_code, answer.json()["field"]) == (status, field), answer.text
    assert answer.json()["type"].split(":")[0] in ("https", "epcisException")


def test_page_tokens_are_bound_to_the_query_and_its_definition(
    world: World, scenario: Scenario
) -> None:
    _made(world, "admin", "tok-a", {})
    _made(world, "admin", "tok-b", {})
    first = _as(world, "admin", "/epcis/queries/tok-a/events", {"perPage": "1"})
    token = httpx.URL(first.headers["link"].split(";")[0].strip("<>")).params["nextPageToken"]
    resumed = _as(world, "admin", "/epcis/queries/tok-a/events",
                  {"perPage": "1", "nextPageToken": token})  # fmt: skip
    assert resumed.status_code == 200
    for path in ("/epcis/queries/tok-b/events", "/epcis/events"):
        moved = _as(world, "admin", path, {"perPage": "1", "nextPageToken": token})
        assert (moved.status_code, moved.json()["field"]) == (400, "nextPageToken"), path
    assert _delete(world, "admin", "tok-a").status_code == 204
    _made(world, "admin", "tok-a", {"eventType": ["ObjectEvent"]})  # another query, same name
    stale = _as(world, "admin", "/epcis/queries/tok-a/events",
                {"perPage": "1", "nextPageToken": token})  # fmt: skip
    assert (stale.status_code, stale.json()["field"]) == (400, "nextPageToken")
    extra = _as(world, "admin", "/epcis/queries/tok-b/events", {"EQ_bizStep": "shipping"})
    assert (extra.status_code, extra.json()["field"]) == (400, "EQ_bizStep")


def test_named_queries_need_a_token_and_custody_reading(world: World, scenario: Scenario) -> None:
    base = world.server.base_url
    assert httpx.get(base + "/epcis/queries").status_code == 401
    assert httpx.post(base + "/epcis/queries", json={"name": "x", "query": {}}).status_code == 401
    assert httpx.get(base + f"/epcis/queries/{ABSENT}/events").status_code == 401
    assert httpx.delete(base + f"/epcis/queries/{ABSENT}").status_code == 401
    responder = f"token:{scenario.responder}"
    assert _create(world, responder, {"name": "x", "query": {}}).status_code == 403
    assert _as(world, responder, "/epcis/queries").status_code == 403
    assert _as(world, responder, f"/epcis/queries/{ABSENT}/events").status_code == 403
