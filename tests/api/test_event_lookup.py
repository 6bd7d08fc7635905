"""GET /v1/events/{hash}: an event by the hash findings and chains cite, scoped exactly like
the custody chain (an event outside the caller's span answers like one that does not exist)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from ledger.canonical import parse_hash
from ledger.envelope import open_envelope
from tests.api._listings import Listings, problem, seed
from tests.api.live import World, without_request_id, world_fixture

world = world_fixture("eventhash", CHEMTRACE_FINDINGS="false")
MISSING = "sha256:" + "0" * 64


@pytest.fixture(scope="module")
def listings(world: World) -> Iterator[Listings]:
    seeded = seed(world, chlorine=1, nitric=1, lab=1)
    yield seeded
    seeded.http.close()


def chain(listings: Listings, code: str) -> list[str]:
    steps = listings.ok("admin", f"/v1/items/{code}/events")["steps"]
    return [step["event_hash"] for step in steps]


def test_an_event_by_its_hash_is_the_signed_event(listings: Listings) -> None:
    _, ship, _ = chain(listings, listings.shipped)
    body = listings.ok("admin", f"/v1/events/{ship}")
    assert (body["event_hash"], body["type"], body["org"]) == (ship, "ship", "p-chem")
    assert body["items"] == [{"code": listings.shipped, "seq": 1, "role": "subject"}]
    assert body["body"]["data"]["waybill_no"] == "EW-2026-0001"
    # the body and signature are the envelope itself: its hash is the one asked for
    signed = open_envelope({"body": body["body"], "signature": body["signature"]})
    assert signed.event_hash == parse_hash(ship)
    for spelling in (ship.removeprefix("sha256:"), ship.upper().replace("SHA256:", "sha256:")):
        assert listings.ok("reg_d1", f"/v1/events/{spelling}")["event_hash"] == ship


def test_an_event_is_scoped_like_the_chain(listings: Listings) -> None:
    commission, ship, receive = chain(listings, listings.shipped)
    (lab_commission,) = chain(listings, listings.lab[0])
    expected = {
        # the consignee: the handoff into its custody and after, not the producer's past
        "u_lab": {ship, receive, lab_commission},
        "p_chem": {commission, ship},  # until the handoff out of its custody
        "reg_d1": {commission, ship, receive},  # the item was in d1: its whole chain
        "reg_d2": {commission, ship, receive, lab_commission},
        "inspector": {commission, ship, receive},
        "admin": {commission, ship, receive, lab_commission},
    }
    for role, visible in expected.items():
        in_chains = set()  # what the role's own chains show: the two must agree
        for code in (listings.shipped, listings.lab[0]):
            response = listings.get(role, f"/v1/items/{code}/events")
            if response.status_code == 200:
                in_chains |= {step["event_hash"] for step in response.json()["steps"]}
        assert in_chains == visible, role
        for event in (commission, ship, receive, lab_commission):
            response = listings.get(role, f"/v1/events/{event}")
            if event in visible:
                assert response.status_code == 200, (role, response.text)
            else:
                problem(response, 404, "event_not_found")


def test_a_hidden_event_answers_exactly_like_a_missing_one(listings: Listings) -> None:
    (lab_commission,) = chain(listings, listings.lab[0])
    answers = []
    for event in (lab_commission, MISSING):
        response = listings.get("p_chem", f"/v1/events/{event}")
        answers.append((response.status_code, without_request_id(response)
                        .replace(event.removeprefix("sha256:"), "<h>")))  # fmt: skip
    assert answers[0] == answers[1] and answers[0][0] == 404
    for malformed in ("sha256:xyz", "0" * 63, "md5:" + "0" * 64):
        problem(listings.get("admin", f"/v1/events/{malformed}"), 404, "event_not_found")


def test_the_responder_sees_no_events(listings: Listings, world: World) -> None:
    world.admin.put_user("responder-1", role="responder", name="command post")
    token = world.admin.issue_token("responder-1")
    (commission, *_) = chain(listings, listings.shipped)
    response = httpx.get(f"{world.server.base_url}/v1/events/{commission}",
                         headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    problem(response, 403, "forbidden")
    problem(listings.get("anon", f"/v1/events/{commission}"), 401, "unauthenticated")
