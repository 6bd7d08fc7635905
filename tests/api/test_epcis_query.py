"""EPCIS 2.0 query end to end on a real server: scope, pages, schema, proofs, EPC formats."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

import httpx
import jsonschema
import pytest

from ledger.canonical import b64decode, format_hash, parse_hash
from ledger.checkpoint import open_checkpoint
from ledger.envelope import open_envelope
from ledger.epcis.identifiers import DryRunLookup
from ledger.epcis.mapping import from_epcis
from ledger.events import body_to_json
from ledger.leaf import LeafRecord
from ledger.merkle import leaf_hash, verify_inclusion
from ledger.note import parse_vkey
from tests.api.live import World, wait_for, world_fixture
from tests.conftest import SHARED_DIR

world = world_fixture("epcisq")
SCHEMA: Final = SHARED_DIR / "conformance/gs1/epcis-examples/gs1-EPCIS/EPCIS-JSON-Schema.json"
GTIN: Final = "09506000134352"
GS1_KEY: Final = f"(01){GTIN}(21)Q-1"
DIGITAL_LINK: Final = f"https://id.gs1.org/01/{GTIN}/21/Q-1"
SGTIN: Final = "urn:epc:id:sgtin:9506000.013435.Q-1"
PAGED: Final = 5


@cache
def _validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(
        json.loads(SCHEMA.read_text()), format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )


@dataclass(frozen=True)
class Scenario:
    shipped: str
    """Issued to p-chem with a GS1 key, commissioned, shipped to u-lab by c-move, received."""
    private: str
    """Commissioned by t-trade and never handed on: only t-trade and d1 see it."""
    paged: list[str]
    """More p-chem commissions, for the pages."""


def _ship(world: World, code: str) -> dict[str, Any]:
    return world.event("p-chem", "ship", [code], {
        "carrier": "c-move", "consignee": "u-lab", "consignee_site": "u-lab-site",
        "waybill_no": "EW9",
    })  # fmt: skip


@pytest.fixture(scope="module")
def scenario(world: World) -> Scenario:
    (issued,) = world.admin.issue_codes(org="p-chem", form="1.1", packaging="cylinder", count=1,
                                        batch="EQ1", gs1_keys=[GS1_KEY])  # fmt: skip
    shipped = issued["code"]
    producer, lab = world.actors["p-chem"], world.actors["u-lab"]
    producer.client.submit(world.commission("p-chem", shipped))
    ship = producer.client.submit(_ship(world, shipped))
    lab.client.submit(world.event("u-lab", "receive", [shipped], {"ship": ship["entry_hash"]}))
    (private,) = world.issue("t-trade", 1)
    world.actors["t-trade"].client.submit(world.commission("t-trade", private))
    paged = world.issue("p-chem", PAGED)
    for code in paged:
        receipt = producer.client.submit(world.commission("p-chem", code))
    producer.client.submit(world.event("p-chem", "correct", [paged[-1]], {
        "corrects": receipt["entry_hash"], "reason": "typo", "changes": {"lot": "L2"},
    }))  # fmt: skip
    wait_for(lambda: _covered(world))
    return Scenario(shipped, private, paged)


def _covered(world: World) -> bool:
    """Whether the newest checkpoint covers every event (the integrator signs within ~1 s)."""
    answer = _query(world, "p-chem", MATCH_anyEPC=None)
    return all("inclusion" in e["chemtrace:log"] for e in _events(answer))


def _token(world: World, who: str) -> str:
    if who == "admin":
        client = world.admin
    elif who in world.regulators:
        client = world.regulators[who]
    else:
        client = world.actors[who].client
    assert client.token is not None
    return client.token


def _get(world: World, who: str, path: str, params: Any = None, **headers: str) -> httpx.Response:
    headers["Authorization"] = f"Bearer {_token(world, who)}"
    return httpx.get(world.server.base_url + path, params=params, headers=headers)


def _query(world: World, who: str, **params: str | None) -> httpx.Response:
    kept = {k: v for k, v in params.items() if v is not None}
    answer = _get(world, who, "/epcis/events", kept)
    assert answer.status_code == 200, answer.text
    return answer


def _events(answer: httpx.Response) -> list[dict[str, Any]]:
    document = answer.json()
    assert _validator().is_valid(document), list(_validator().iter_errors(document))[:3]
    events: list[dict[str, Any]] = document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    return events


def _indices(events: list[dict[str, Any]]) -> list[int]:
    return [e["chemtrace:log"]["index"] for e in events]


def _native(world: World, who: str, code: str) -> list[int]:
    answer = _get(world, who, f"/v1/items/{code}/events")
    return [] if answer.status_code == 404 else [s["index"] for s in answer.json()["steps"]]


@pytest.mark.parametrize("who", ["p-chem", "c-move", "u-lab", "t-trade", "d1", "d2", "admin"])
def test_an_items_chain_is_exactly_what_the_native_api_shows(
    world: World, scenario: Scenario, who: str
) -> None:
    for code in (scenario.shipped, scenario.private):
        native = _native(world, who, code)
        chain = _get(world, who, f"/epcis/items/{code}/events")
        exported = _indices(_events(chain)) if chain.status_code == 200 else []
        assert exported == native, (who, code)
        queried = _events(_query(world, who, MATCH_anyEPC=f"urn:chemtrace:code:{code}"))
        assert _indices(queried) == native, (who, code)


def test_the_scope_bites(world: World, scenario: Scenario) -> None:
    """Who sees what: the lab only its span of the shipped item, nothing of t-trade's."""
    lab = _events(_query(world, "u-lab"))
    assert {e["bizStep"] for e in lab} == {"shipping", "receiving"}
    assert not any(f"urn:chemtrace:code:{scenario.private}" in e.get("epcList", []) for e in lab)
    assert len(_events(_query(world, "d2"))) == 3  # the lab's district: the shipped item, whole
    every = _events(_query(world, "admin", perPage="1000"))
    assert len(every) == 3 + 1 + PAGED + 1  # the correction too


def test_a_guessed_epc_answers_like_one_that_does_not_exist(
    world: World, scenario: Scenario
) -> None:
    guessed = _query(world, "u-lab", MATCH_anyEPC=f"urn:chemtrace:code:{scenario.private}")
    missing = _query(world, "u-lab", MATCH_anyEPC="urn:chemtrace:code:CT-00000-00000-00000")
    assert _events(guessed) == _events(missing) == []
    chain_guessed = _get(world, "u-lab", f"/epcis/items/{scenario.private}/events")
    chain_missing = _get(world, "u-lab", "/epcis/items/CT-ZZZZZ-ZZZZZ-ZZZZZ/events")
    assert chain_guessed.status_code == chain_missing.status_code == 404
    assert chain_guessed.json()["code"] == chain_missing.json()["code"]


def test_pages_are_complete_disjoint_and_tamper_safe(world: World, scenario: Scenario) -> None:
    whole = _indices(_events(_query(world, "p-chem", EQ_bizStep="commissioning")))
    assert len(whole) == 1 + PAGED + 1  # the error declaration repeats a commissioning
    seen: list[int] = []
    answer = _query(world, "p-chem", EQ_bizStep="commissioning", perPage="2")
    while True:
        page = _indices(_events(answer))
        assert 1 <= len(page) <= 2
        seen += page
        link = answer.headers.get("link")
        if link is None:
            break
        url = link.split(";")[0].strip("<>")
        answer = httpx.get(world.server.base_url + url,
                           headers={"Authorization": f"Bearer {_token(world, 'p-chem')}"})  # fmt: skip
        assert answer.status_code == 200
    assert seen == whole
    first = _query(world, "p-chem", EQ_bizStep="commissioning", perPage="2")
    token = httpx.URL(first.headers["link"].split(";")[0].strip("<>")).params["nextPageToken"]
    payload, tag = token.split(".")
    forged = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + tag
    other_query = {"EQ_bizStep": "shipping", "perPage": "2", "nextPageToken": token}
    other_caller = {"EQ_bizStep": "commissioning", "perPage": "2", "nextPageToken": token}
    for who, params in (
        ("p-chem", {"EQ_bizStep": "commissioning", "perPage": "2", "nextPageToken": forged}),
        ("p-chem", other_query),
        ("t-trade", other_caller),
    ):
        refused = _get(world, who, "/epcis/events", params)
        assert refused.status_code == 400, (who, params)
        assert refused.json()["field"] == "nextPageToken"


def test_every_exported_event_verifies_against_the_named_checkpoint(
    world: World, scenario: Scenario
) -> None:
    verifier = parse_vkey(httpx.get(world.server.base_url + "/v1/log/key").text.strip())
    document = _query(world, "admin", perPage="1000").json()
    checkpoint = open_checkpoint(document["chemtrace:checkpoint"], verifier)
    events = _events(_query(world, "admin", perPage="1000"))
    native = {s["index"]: s for s in _get(world, "admin", f"/v1/items/{scenario.shipped}/events")
              .json()["steps"]}  # fmt: skip
    for event in events:
        log = event["chemtrace:log"]
        leaf = LeafRecord("event", parse_hash(log["hash"]), log["logTime"]).encode()
        assert b64decode(log["leafHash"]) == leaf_hash(leaf)
        assert log["checkpointSize"] == checkpoint.size
        proof = [b64decode(h) for h in log["inclusion"]]
        verify_inclusion(leaf_hash(leaf), log["index"], checkpoint.size, proof,
                         checkpoint.root_hash)  # fmt: skip
        assert event["eventID"].startswith("ni:///sha-256;")
        # the body back from the EPCIS event, with the signature: the entry the log committed to
        stated = {k: v for k, v in event.items() if k != "chemtrace:log"}  # log metadata
        body = from_epcis(stated, DryRunLookup())
        signed = open_envelope({"body": body_to_json(body), "signature": log["signature"]})
        assert format_hash(signed.event_hash) == log["hash"]
        signed.verify(world.actors[body.org].device.signer.public_key)
        if log["index"] in native:
            assert native[log["index"]]["event_hash"] == log["hash"]
    tampered = dict(events[0]["chemtrace:log"])
    with pytest.raises(Exception, match="different root"):
        verify_inclusion(leaf_hash(b"not the leaf"), tampered["index"], checkpoint.size,
                         [b64decode(h) for h in tampered["inclusion"]],
                         checkpoint.root_hash)  # fmt: skip


def test_the_gs1_epc_format_header(world: World, scenario: Scenario) -> None:
    urn = f"urn:chemtrace:code:{scenario.shipped}"
    by_format = {}
    for epc_format in ("No_Preference", "Never_Translates", "Always_EPC_URN",
                       "Always_GS1_Digital_Link"):  # fmt: skip
        answer = _get(world, "u-lab", f"/epcis/items/{scenario.shipped}/events",
                      **{"GS1-EPC-Format": epc_format})  # fmt: skip
        assert answer.headers["gs1-epc-format"] == epc_format
        by_format[epc_format] = [e["epcList"] for e in _events(answer)]
    assert by_format["No_Preference"] == by_format["Never_Translates"] == [[urn], [urn]]
    assert by_format["Always_EPC_URN"] == [[urn], [urn]]  # no company prefix length: see docs
    assert by_format["Always_GS1_Digital_Link"] == [[DIGITAL_LINK], [DIGITAL_LINK]]
    unknown = _get(world, "u-lab", "/epcis/events", **{"GS1-EPC-Format": "Sometimes"})
    assert (unknown.status_code, unknown.json()["field"]) == (400, "GS1-EPC-Format")


@pytest.mark.parametrize("spelled", [DIGITAL_LINK, SGTIN, f"https://example.com/01/{GTIN}/21/Q-1"])
def test_an_epc_matches_in_every_gs1_spelling(
    world: World, scenario: Scenario, spelled: str
) -> None:
    expected = _indices(_events(_query(world, "u-lab",
                                       MATCH_anyEPC=f"urn:chemtrace:code:{scenario.shipped}")))  # fmt: skip
    assert len(expected) == 2
    assert _indices(_events(_query(world, "u-lab", MATCH_epc=spelled))) == expected


def test_the_standard_filters(world: World, scenario: Scenario) -> None:
    events = _events(_query(world, "admin", MATCH_anyEPC=f"urn:chemtrace:code:{scenario.shipped}"))
    commission, ship, receive = events
    assert _events(_query(world, "admin", EQ_bizStep="shipping,receiving",
                          MATCH_epc=DIGITAL_LINK)) == [ship, receive]  # fmt: skip
    assert _events(_query(world, "admin", EQ_bizStep="urn:epcglobal:cbv:bizstep:shipping")) == [
        ship
    ]
    assert _events(_query(world, "admin", GE_eventTime=ship["eventTime"],
                          LT_eventTime=receive["eventTime"])) == [ship]  # fmt: skip
    assert _events(_query(world, "admin", GE_recordTime=receive["recordTime"],
                          MATCH_anyEPC=DIGITAL_LINK)) == [receive]  # fmt: skip
    located = _query(world, "admin", EQ_bizLocation=commission["bizLocation"]["id"],
                     MATCH_anyEPC=DIGITAL_LINK)  # fmt: skip
    assert _events(located) == [commission, ship]  # both at the producer's site
    assert _events(_query(world, "admin", eventType="AggregationEvent")) == []
    assert (commission["action"], ship["action"], receive["action"]) == (
        "ADD",
        "OBSERVE",
        "OBSERVE",
    )
    assert _events(_query(world, "admin", EQ_action="OBSERVE", MATCH_epc=DIGITAL_LINK)) == [
        ship,
        receive,
    ]
    assert len(_events(_query(world, "admin", eventType="ObjectEvent", perPage="1000"))) == 10
    if "disposition" in ship:
        assert ship in _events(_query(world, "admin", EQ_disposition=ship["disposition"]))


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"EQ_colour": "red"}, "EQ_colour"),
        ({"GE_eventTime": "yesterday"}, "GE_eventTime"),
        ({"GE_eventTime": "2026-01-01T00:00:00"}, "GE_eventTime"),
        ({"perPage": "0"}, "perPage"),
        ({"eventType": "PartyEvent"}, "eventType"),
        ({"MATCH_epc": "urn:epc:idpat:sgtin:9506000.013435.*"}, "MATCH_epc"),
        ({"nextPageToken": "garbage"}, "nextPageToken"),
    ],
)
def test_a_bad_parameter_is_an_epcis_query_parameter_exception(
    world: World, params: dict[str, str], field: str
) -> None:
    answer = _get(world, "u-lab", "/epcis/events", params)
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["type"] == "epcisException:QueryParameterException"
    assert (problem["code"], problem["field"]) == ("query_parameter_exception", field)


def test_a_query_needs_a_token(world: World) -> None:
    answer = httpx.get(world.server.base_url + "/epcis/events")
    assert answer.status_code == 401


def test_a_correction_is_an_error_declaration_on_the_corrected_event(
    world: World, scenario: Scenario
) -> None:
    chain = _events(_get(world, "p-chem", f"/epcis/items/{scenario.paged[-1]}/events"))
    commission, correction = chain
    declaration = correction["errorDeclaration"]
    assert declaration["reason"] == "incorrect_data"
    assert declaration["chemtrace:correction"]["data"]["changes"] == {"lot": "L2"}
    assert correction["eventID"] == commission["eventID"]  # CBV: the declaration names it
    assert correction["eventTime"] == commission["eventTime"]
