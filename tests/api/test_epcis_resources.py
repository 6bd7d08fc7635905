"""The EPCIS 2.0 REST binding's resources beside the query, end to end on a real server:
``GET /epcis/events/{eventID}``, the top-level collections and their ``…/events``.

Every enterprise is an adversary to every other's data: an ID, an EPC or a location of an
event out of scope must get exactly the answer an absent one gets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

import httpx
import pytest

from tests.api.live import World, wait_for, without_request_id, world_fixture
from tests.api.test_epcis_capture import commissioning, erp_document, post, signed
from tests.api.test_epcis_query import _get, _validator

world = world_fixture("epcisr")
GTIN: Final = "09506000134352"
DIGITAL_LINK: Final = f"https://id.gs1.org/01/{GTIN}/21/R-1"
CAPTURED_LINK: Final = f"https://id.gs1.org/01/{GTIN}/21/R-2"
ABSENT_ID: Final = "ni:///sha-256;" + "0" * 64 + "?ver=CBV2.0"
ABSENT_CODE: Final = "urn:chemtrace:code:CT-00000-00000-00000"


@dataclass(frozen=True)
class Scenario:
    shipped: str
    """p-chem's, with a GS1 key: commissioned, shipped to u-lab, received."""
    private: str
    """t-trade's, commissioned and never handed on: only t-trade, d1 and the admin see it."""
    corrected: str
    """p-chem's, commissioned, then corrected."""
    captured: str
    """p-chem's, with a GS1 key, commissioned through EPCIS capture with its Digital Link."""
    captured_id: str
    """The hash ID the capture computed (on the Digital Link): not the exported one."""


def _events(answer: httpx.Response) -> list[dict[str, Any]]:
    assert answer.status_code == 200, answer.text
    document = answer.json()
    assert _validator().is_valid(document), list(_validator().iter_errors(document))[:3]
    events: list[dict[str, Any]] = document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    return events


def _stable(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events without what a newer checkpoint changes (its size, the proof against it)."""
    moving = ("inclusion", "checkpointSize")
    return [{**e, "chemtrace:log": {k: v for k, v in e["chemtrace:log"].items()
                                    if k not in moving}} for e in events]  # fmt: skip


def _by_id(world: World, who: str, event_id: str, **headers: str) -> httpx.Response:
    return _get(world, who, "/epcis/events/" + quote(event_id, safe=""), **headers)


def _members(world: World, who: str, resource: str, **params: str) -> list[str]:
    """Every member of a collection, page after page."""
    answer = _get(world, who, f"/epcis/{resource}", params or None)
    members: list[str] = []
    while True:
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["type"] == "Collection"
        members += body["member"]
        link = answer.headers.get("link")
        if link is None:
            return members
        answer = _get(world, who, link.split(";")[0].strip("<>"))


@pytest.fixture(scope="module")
def scenario(world: World) -> Scenario:
    (issued, keyed) = world.admin.issue_codes(
        org="p-chem", form="1.1", packaging="cylinder", count=2, batch="ER1",
        gs1_keys=[f"(01){GTIN}(21)R-1", f"(01){GTIN}(21)R-2"],
    )  # fmt: skip
    shipped, captured = issued["code"], keyed["code"]
    producer, lab = world.actors["p-chem"], world.actors["u-lab"]
    producer.client.submit(world.commission("p-chem", shipped))
    ship = producer.client.submit(world.event("p-chem", "ship", [shipped], {
        "carrier": "c-move", "consignee": "u-lab", "consignee_site": "u-lab-site",
        "waybill_no": "EW9",
    }))  # fmt: skip
    lab.client.submit(world.event("u-lab", "receive", [shipped], {"ship": ship["entry_hash"]}))
    (private,) = world.issue("t-trade", 1)
    world.actors["t-trade"].client.submit(world.commission("t-trade", private))
    (corrected,) = world.issue("p-chem", 1)
    receipt = producer.client.submit(world.commission("p-chem", corrected))
    producer.client.submit(world.event("p-chem", "correct", [corrected], {
        "corrects": receipt["entry_hash"], "reason": "typo", "changes": {"lot": "L2"},
    }))  # fmt: skip
    document = signed(world, "p-chem", erp_document([commissioning(world, "p-chem", captured)]))
    document["epcisBody"]["eventList"][0]["epcList"] = [CAPTURED_LINK]  # what the ERP calls it
    answer = post(world, "p-chem", "/epcis/capture", document)
    assert answer.status_code == 202, answer.text
    job = _get(world, "p-chem", answer.headers["location"]).json()
    assert job["success"], job
    return Scenario(shipped, private, corrected, captured, job["events"][0]["eventID"])


def _chain(world: World, who: str, code: str) -> list[dict[str, Any]]:
    return _events(_get(world, who, f"/epcis/items/{code}/events"))


# -- GET /epcis/events/{eventID} ---------------------------------------------------------------


@pytest.mark.parametrize("who", ["p-chem", "u-lab", "d2", "admin"])
def test_an_event_by_the_id_it_was_exported_with(
    world: World, scenario: Scenario, who: str
) -> None:
    """The one event, as the query exports it (proof included), in every GS1-EPC-Format."""
    for exported in _chain(world, who, scenario.shipped):
        found = _events(_by_id(world, who, exported["eventID"]))
        assert _stable(found) == _stable([exported])
        linked = _events(_by_id(world, who, exported["eventID"],
                                **{"GS1-EPC-Format": "Always_GS1_Digital_Link"}))  # fmt: skip
        assert linked[0]["epcList"] == [DIGITAL_LINK]
        assert _stable(linked)[0]["chemtrace:log"] == _stable([exported])[0]["chemtrace:log"]


def test_an_event_by_the_id_it_was_captured_under(world: World, scenario: Scenario) -> None:
    (exported,) = _chain(world, "p-chem", scenario.captured)
    assert scenario.captured_id != exported["eventID"]  # hashed on the Digital Link
    assert _stable(_events(_by_id(world, "p-chem", scenario.captured_id))) == _stable([exported])
    assert _stable(_events(_by_id(world, "p-chem", exported["eventID"]))) == _stable([exported])
    listed = _events(_get(world, "p-chem", "/epcis/events", {"EQ_eventID": scenario.captured_id}))
    assert _stable(listed) == _stable([exported])


def test_an_event_comes_with_its_error_declarations(world: World, scenario: Scenario) -> None:
    commission, correction = _chain(world, "p-chem", scenario.corrected)
    assert "errorDeclaration" in correction
    found = _events(_by_id(world, "p-chem", commission["eventID"]))
    assert _stable(found) == _stable([commission, correction])


def test_an_id_sent_without_encoding_its_query_still_names_the_event(
    world: World, scenario: Scenario
) -> None:
    (exported,) = _chain(world, "p-chem", scenario.captured)
    stem, _, version = exported["eventID"].partition("?")
    answer = _get(world, "p-chem", "/epcis/events/" + quote(stem, safe="") + "?" + version)
    assert _stable(_events(answer)) == _stable([exported])
    refused = _get(world, "p-chem", "/epcis/events/" + quote(stem, safe=""), {"perPage": "5"})
    assert (refused.status_code, refused.json()["field"]) == (400, "perPage")


def _absent_like(world: World, who: str, probe: httpx.Response) -> None:
    """``probe`` is byte for byte the answer to an ID nobody has."""
    absent = _by_id(world, who, ABSENT_ID)
    assert probe.status_code == absent.status_code == 404
    assert probe.headers["content-type"] == absent.headers["content-type"]
    assert without_request_id(probe) == without_request_id(absent)


@pytest.mark.parametrize("who", ["u-lab", "c-move", "d2"])
def test_an_event_out_of_scope_answers_like_an_absent_one(
    world: World, scenario: Scenario, who: str
) -> None:
    (private,) = _chain(world, "t-trade", scenario.private)
    _absent_like(world, who, _by_id(world, who, private["eventID"]))
    (captured,) = _chain(world, "p-chem", scenario.captured)
    _absent_like(world, who, _by_id(world, who, captured["eventID"]))
    _absent_like(world, who, _by_id(world, who, scenario.captured_id))
    problem = _by_id(world, who, ABSENT_ID).json()
    assert problem["type"] == "https://ns.gs1.org/epcis/NoSuchResourceException"
    assert problem["code"] == "epcis_event_not_found"
    assert ABSENT_ID not in problem["detail"]


def test_the_enterprise_sees_only_its_span_of_a_chain_by_id(
    world: World, scenario: Scenario
) -> None:
    """u-lab sees the ship and the receipt of the shipped item, not its commissioning."""
    commission, ship, receive = _chain(world, "admin", scenario.shipped)
    _absent_like(world, "u-lab", _by_id(world, "u-lab", commission["eventID"]))
    for event in (ship, receive):
        assert _indices(_events(_by_id(world, "u-lab", event["eventID"]))) == _indices([event])


def _indices(events: list[dict[str, Any]]) -> list[int]:
    return [e["chemtrace:log"]["index"] for e in events]


# -- the top-level collections and their events -------------------------------------------------


def test_event_types_are_the_five_of_the_standard(world: World) -> None:
    assert _members(world, "u-lab", "eventTypes") == [
        "AggregationEvent", "AssociationEvent", "ObjectEvent", "TransactionEvent",
        "TransformationEvent",
    ]  # fmt: skip


@pytest.mark.parametrize("who", ["p-chem", "u-lab", "t-trade", "d1", "d2", "admin"])
def test_each_collection_is_what_the_callers_events_name(
    world: World, scenario: Scenario, who: str
) -> None:
    seen = _events(_get(world, who, "/epcis/events", {"perPage": "1000"}))
    fields = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")
    epcs = {epc for e in seen for name in fields for epc in e.get(name, [])}
    epcs |= {e["parentID"] for e in seen if "parentID" in e}
    assert _members(world, who, "epcs") == sorted(epcs)
    assert _members(world, who, "epcs", perPage="1") == sorted(epcs)  # one per page
    assert _members(world, who, "bizSteps") == sorted({e["bizStep"] for e in seen})
    assert _members(world, who, "dispositions") == sorted(
        {e["disposition"] for e in seen if "disposition" in e}
    )
    for resource, name in (("bizLocations", "bizLocation"), ("readPoints", "readPoint")):
        assert _members(world, who, resource) == sorted({e[name]["id"] for e in seen if name in e})


def test_a_collection_hides_what_is_out_of_scope(world: World, scenario: Scenario) -> None:
    private = f"urn:chemtrace:code:{scenario.private}"
    shipped = f"urn:chemtrace:code:{scenario.shipped}"
    assert private not in _members(world, "u-lab", "epcs")
    assert shipped in _members(world, "u-lab", "epcs")
    assert private in _members(world, "t-trade", "epcs")
    assert private in _members(world, "d1", "epcs")
    assert private not in _members(world, "d2", "epcs")
    t_trade_site = _chain(world, "t-trade", scenario.private)[0]["bizLocation"]["id"]
    assert t_trade_site not in _members(world, "u-lab", "bizLocations")
    assert "commissioning" not in _members(world, "c-move", "bizSteps")


def test_epcs_follow_the_gs1_epc_format(world: World, scenario: Scenario) -> None:
    urn = f"urn:chemtrace:code:{scenario.shipped}"
    assert urn in _members(world, "u-lab", "epcs")
    linked = _get(world, "u-lab", "/epcis/epcs", **{"GS1-EPC-Format": "Always_GS1_Digital_Link"})
    assert DIGITAL_LINK in linked.json()["member"]
    assert urn not in linked.json()["member"]
    assert linked.headers["gs1-epc-format"] == "Always_GS1_Digital_Link"


def _subresource(world: World, who: str, resource: str, value: str, **params: str) -> Any:
    return _get(world, who, f"/epcis/{resource}/{quote(value, safe='')}/events", params or None)


@pytest.mark.parametrize("who", ["p-chem", "u-lab", "d2", "admin"])
def test_a_resources_events_are_the_query_with_its_filter(
    world: World, scenario: Scenario, who: str
) -> None:
    urn = f"urn:chemtrace:code:{scenario.shipped}"
    cases = [
        ("eventTypes", "ObjectEvent", "eventType"),
        ("epcs", urn, "MATCH_anyEPC"),
        ("epcs", DIGITAL_LINK, "MATCH_anyEPC"),
        ("bizSteps", "shipping", "EQ_bizStep"),
        ("bizSteps", "urn:epcglobal:cbv:bizstep:receiving", "EQ_bizStep"),
        ("dispositions", "in_transit", "EQ_disposition"),
    ]
    seen = _events(_get(world, who, "/epcis/events", {"perPage": "1000"}))
    cases += [("bizLocations", e["bizLocation"]["id"], "EQ_bizLocation")
              for e in seen[:1] if "bizLocation" in e]  # fmt: skip
    cases += [("readPoints", e["readPoint"]["id"], "EQ_readPoint")
              for e in seen[:1] if "readPoint" in e]  # fmt: skip
    for resource, value, term in cases:
        expected = _indices(_events(_get(world, who, "/epcis/events", {term: value})))
        assert _indices(_events(_subresource(world, who, resource, value))) == expected
        both = _indices(_events(_get(world, who, "/epcis/events",
                                     {term: value, "EQ_action": "OBSERVE"})))  # fmt: skip
        narrowed = _subresource(world, who, resource, value, EQ_action="OBSERVE")
        assert _indices(_events(narrowed)) == both, (resource, value)
    assert _indices(_events(_subresource(world, who, "epcs", urn))) != []


def test_a_resource_filter_and_the_query_string_must_both_hold(
    world: World, scenario: Scenario
) -> None:
    """The path's filter narrows the query's, never widens it."""
    urn = f"urn:chemtrace:code:{scenario.shipped}"
    same = _subresource(world, "admin", "eventTypes", "ObjectEvent", eventType="ObjectEvent")
    assert len(_events(same)) > 0
    other = _subresource(world, "admin", "eventTypes", "ObjectEvent",
                         eventType="AggregationEvent")  # fmt: skip
    assert _events(other) == []
    steps = _subresource(world, "admin", "bizSteps", "shipping", MATCH_anyEPC=urn)
    assert [e["bizStep"] for e in _events(steps)] == ["shipping"]


def test_a_guessed_epc_or_location_answers_like_an_absent_one(
    world: World, scenario: Scenario
) -> None:
    private = f"urn:chemtrace:code:{scenario.private}"
    guessed = _events(_subresource(world, "u-lab", "epcs", private))
    assert guessed == _events(_subresource(world, "u-lab", "epcs", ABSENT_CODE)) == []
    t_trade_site = _chain(world, "t-trade", scenario.private)[0]["bizLocation"]["id"]
    assert _events(_subresource(world, "u-lab", "bizLocations", t_trade_site)) == []
    assert _events(_subresource(world, "u-lab", "bizLocations", "urn:chemtrace:site:none")) == []


def test_pages_of_a_resources_events_are_bound_to_it(world: World, scenario: Scenario) -> None:
    first = _subresource(world, "admin", "eventTypes", "ObjectEvent", perPage="1")
    link = first.headers["link"].split(";")[0].strip("<>")
    token = httpx.URL(link).params["nextPageToken"]
    assert _events(_get(world, "admin", link)) != []
    moved = _get(world, "admin", "/epcis/events", {"perPage": "1", "nextPageToken": token})
    assert (moved.status_code, moved.json()["field"]) == (400, "nextPageToken")
    members = _get(world, "admin", "/epcis/epcs", {"perPage": "1"})
    member_token = httpx.URL(members.headers["link"].split(";")[0].strip("<>")).params[
        "nextPageToken"
    ]
    for path in ("/epcis/bizSteps", "/epcis/events"):
        refused = _get(world, "admin", path, {"perPage": "1", "nextPageToken": member_token})
        assert (refused.status_code, refused.json()["field"]) == (400, "nextPageToken")


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/epcis/eventTypes/PartyEvent/events", {}, "eventType"),
        ("/epcis/epcs/" + quote("urn:epc:idpat:sgtin:9506000.013435.*", safe="") + "/events",
         {}, "epc"),
        ("/epcis/epcs", {"EQ_bizStep": "shipping"}, "EQ_bizStep"),
        ("/epcis/bizSteps", {"perPage": "0"}, "perPage"),
        ("/epcis/readPoints", {"nextPageToken": "garbage"}, "nextPageToken"),
        ("/epcis/bizSteps/shipping/events", {"EQ_colour": "red"}, "EQ_colour"),
    ],
)  # fmt: skip
def test_a_bad_parameter_is_an_epcis_query_parameter_exception(
    world: World, path: str, params: dict[str, str], field: str
) -> None:
    answer = _get(world, "u-lab", path, params)
    assert answer.status_code == 400, answer.text
    problem = answer.json()
    assert problem["type"] == "epcisException:QueryParameterException"
    assert (problem["code"], problem["field"]) == ("query_parameter_exception", field)


@pytest.mark.parametrize(
    "path",
    ["/epcis/events/" + quote(ABSENT_ID, safe=""), "/epcis/epcs", "/epcis/bizSteps/x/events"],
)
def test_the_resources_need_a_token_and_custody_reading(world: World, path: str) -> None:
    assert httpx.get(world.server.base_url + path).status_code == 401


def test_an_event_by_id_carries_its_proof(world: World, scenario: Scenario) -> None:
    """The same log entry and inclusion proof as in the query, against the named checkpoint."""
    wait_for(lambda: all("inclusion" in e["chemtrace:log"]
                         for e in _chain(world, "admin", scenario.shipped)))  # fmt: skip
    shipping = [e for e in _chain(world, "admin", scenario.shipped) if e["bizStep"] == "shipping"]
    answer = _by_id(world, "admin", shipping[0]["eventID"])
    assert "chemtrace:checkpoint" in answer.json()
    log = _events(answer)[0]["chemtrace:log"]
    assert "inclusion" in log
    assert {k: v for k, v in log.items() if k not in ("inclusion", "checkpointSize")} == {
        k: v for k, v in shipping[0]["chemtrace:log"].items()
        if k not in ("inclusion", "checkpointSize")
    }  # fmt: skip


def test_a_missing_capture_job_is_a_no_such_resource_exception(world: World) -> None:
    """The binding's 404 type for every missing resource (a capture job was a
    ValidationException, the type of a malformed request)."""
    answer = _get(world, "p-chem", "/epcis/capture/no-such-job")
    assert answer.status_code == 404
    assert answer.json()["type"] == "https://ns.gs1.org/epcis/NoSuchResourceException"


def test_a_values_sub_resources_say_nothing_of_what_exists(
    world: World, scenario: Scenario
) -> None:
    """``/epcis/{resource}/{value}``: `events`, alike for a value in scope, out of it, absent."""
    private = f"urn:chemtrace:code:{scenario.private}"
    shipped = f"urn:chemtrace:code:{scenario.shipped}"
    answers = [_get(world, "u-lab", f"/epcis/epcs/{quote(epc, safe='')}")
               for epc in (shipped, private, ABSENT_CODE)]  # fmt: skip
    assert answers[0].json() == {
        "@context": "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
        "type": "Collection", "member": ["events"],
    }  # fmt: skip
    assert len({without_request_id(a) for a in answers}) == 1
    for path in ("/epcis/eventTypes/ObjectEvent", "/epcis/bizSteps/shipping",
                 "/epcis/bizLocations/" + quote("urn:chemtrace:site:none", safe=""),
                 "/epcis/readPoints/geo%3A0%2C0", "/epcis/dispositions/active"):  # fmt: skip
        assert _get(world, "u-lab", path).json()["member"] == ["events"], path
    refused = _get(world, "u-lab", "/epcis/eventTypes/PartyEvent")
    assert (refused.status_code, refused.json()["field"]) == (400, "eventType")
    extra = _get(world, "u-lab", "/epcis/bizSteps/shipping", {"perPage": "1"})
    assert (extra.status_code, extra.json()["field"]) == (400, "perPage")
    assert httpx.get(world.server.base_url + "/epcis/bizSteps/shipping").status_code == 401
