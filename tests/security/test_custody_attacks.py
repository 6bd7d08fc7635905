"""Write-to-join and custody probing, tried as an outside attacker would (issue 12, item 1).

Against a real ``chemtrace serve`` process, on SQLite and on PostgreSQL with Redis. The
attacker has its own token and enrolled device, the code printed on a label, and the public
``/v1/log/entries``; it never held, shipped, carried or was consigned the item.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import httpx

from ledger.builder import DeviceSession, Head
from ledger.canonical import canonical_bytes, format_hash
from ledger.envelope import event_hash_of
from ledger.leaf import decode_leaf
from ledger.timefmt import parse_utc
from tests.api.live import World, wait_for, world_fixture

world = world_fixture("custody")
strict = world_fixture("custody-strict", CHEMTRACE_PROBE_LIMIT_PER_MINUTE="3")
"""A server that allows three custody refusals a minute per device and organisation."""


def _post(world: World, org: str, envelope: dict[str, Any]) -> httpx.Response:
    return httpx.post(world.server.base_url + "/v1/events", json=envelope,
                      headers=_auth(world.actors[org].client.token), timeout=30)  # fmt: skip


def _auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _get(world: World, token: str | None, path: str, **params: Any) -> httpx.Response:
    return httpx.get(world.server.base_url + path, params=params, headers=_auth(token),
                     timeout=30)  # fmt: skip


def _findings(world: World, rule: str, code: str) -> list[dict[str, Any]]:
    found = _get(world, world.admin.token, "/v1/findings", rule=rule, limit=500).json()
    items = found["findings"] if isinstance(found, dict) else found
    return [f for f in items if f.get("item") == code]


def _held(world: World, org: str = "p-chem") -> tuple[str, list[bytes]]:
    """An item ``org`` commissioned and stored: its code and its event hashes, in order."""
    (code,) = world.issue(org, 1)
    hashes = []
    for envelope in (world.commission(org, code), world.event(org, "store_in", [code], {})):
        hashes.append(bytes.fromhex(world.actors[org].client.submit(envelope)["entry_hash"][7:]))
    return code, hashes


def _forged_link(world: World, org: str, code: str, seq: int, prev: bytes) -> dict[str, Any]:
    """``org``'s own device signs a stock count on ``code`` claiming head ``(seq-1, prev)``."""
    actor = world.actors[org]
    guess = DeviceSession(signer=actor.device.signer, org=org, actor=actor.device.actor,
                          catalog_version=actor.device.catalog_version,
                          heads={code: Head(seq - 1, prev)})  # fmt: skip
    return guess.event("stock_count", [code], {
        "count_id": "SC-1", "quantity": {"value": "1", "unit": "kg"}}, time=world.tick(),
        site=actor.site)  # fmt: skip


def _shape(response: httpx.Response, code: str) -> tuple[int, str, str]:
    body = response.json()
    body.pop("request_id", None)
    return (
        response.status_code,
        response.headers["content-type"],
        json.dumps(body, sort_keys=True).replace(code, "CODE"),
    )


def _public_hashes(world: World) -> list[bytes]:
    """Every event hash in the public log, as an attacker reads them."""
    size = int(httpx.get(world.server.base_url + "/v1/log/checkpoint").text.split("\n")[1])
    entries = httpx.get(world.server.base_url + "/v1/log/entries",
                        params={"start": 0, "end": size}).json()["entries"]  # fmt: skip
    leaves = [decode_leaf(base64.b64decode(raw)) for raw in entries]
    return [leaf.entry_hash for leaf in leaves if leaf.kind == "event"]


def test_a_stranger_cannot_join_a_chain_and_every_guess_answers_alike(world: World) -> None:
    code, (_, head) = _held(world)
    (unborn,) = world.issue("p-chem", 1)  # issued, never commissioned: no such item
    wait_for(lambda: head in _public_hashes(world), timeout=15)
    attempts = {
        "the true head": (code, _forged_link(world, "t-trade", code, 2, head)),
        "a stale head": (code, _forged_link(world, "t-trade", code, 1, _held(world)[1][0])),
        "a wrong seq": (code, _forged_link(world, "t-trade", code, 9, head)),
        "another public hash": (code, _forged_link(world, "t-trade", code, 2, b"\x07" * 32)),
        "an item with no chain": (unborn, _forged_link(world, "t-trade", unborn, 1, head)),
    }
    shapes = {
        why: _shape(_post(world, "t-trade", env), item) for why, (item, env) in attempts.items()
    }
    assert len(set(shapes.values())) == 1, shapes
    status, content_type, body = shapes["the true head"]
    assert status == 422 and content_type.startswith("application/problem+json")
    assert json.loads(body)["code"] == "unknown_item"
    # nothing moved: the real holder still holds it, at the same head
    chain = world.regulators["d1"].chain(code)
    assert [s["type"] for s in chain] == ["commission", "store_in"]
    assert world.actors["p-chem"].client.item(code)["state"]["holder"] == "p-chem"
    assert code in [i["code"] for i in world.actors["p-chem"].client.inventory()["items"]]
    # and the attacker learned nothing: every read still says no such item
    for path in ("", "/events", "/bundle", "/verify"):
        answer = _get(world, world.actors["t-trade"].client.token, f"/v1/items/{code}{path}")
        assert answer.status_code == 404 and answer.json()["code"] == "item_not_found"


def test_walking_the_public_log_as_guesses_never_lands(world: World) -> None:
    code, _ = _held(world)
    hashes = _public_hashes(world)
    answers = {_post(world, "u-lab", _forged_link(world, "u-lab", code, seq, prev)).status_code
               for prev in hashes[-8:] for seq in (1, 2, 3)}  # fmt: skip
    assert answers <= {422, 429}
    assert [s["type"] for s in world.regulators["d1"].chain(code)] == ["commission", "store_in"]


def test_refusals_are_journalled_per_device_and_raise_a_clone_finding(world: World) -> None:
    code, (_, head) = _held(world)
    for _ in range(3):
        assert (
            _post(world, "t-trade", _forged_link(world, "t-trade", code, 2, head)).status_code
            == 422
        )
    rows = [r for r in world.admin.journal(limit=1000)
            if r["code"] == "not_related" and r["item_code"] == code]  # fmt: skip
    assert len(rows) == 1 and rows[0]["count"] == 3
    assert (
        rows[0]["org"] == "t-trade"
        and rows[0]["device_key"] == world.actors["t-trade"].device.signer.key_id
    )
    assert rows[0]["district"] == "d1"  # the district regulator sees it
    assert any(r["item_code"] == code for r in world.regulators["d1"].journal(limit=1000))
    findings = wait_for(lambda: _findings(world, "clone.unissued_code", code), timeout=20)
    assert findings[0]["org"] == "t-trade"


def test_probing_is_rate_limited_per_device_and_organisation(strict: World) -> None:
    code, (_, head) = _held(strict)
    answers = [_post(strict, "t-trade", _forged_link(strict, "t-trade", code, 2, head))
               for _ in range(6)]  # fmt: skip
    assert [a.status_code for a in answers[:3]] == [422, 422, 422]
    limited = answers[3:]
    assert all(a.status_code == 429 and a.json()["code"] == "rate_limited" for a in limited)
    assert int(limited[0].headers["Retry-After"]) >= 1
    # the prober's own, honest write waits too: the budget is the device's and the org's
    (own,) = strict.issue("t-trade", 1)
    assert _post(strict, "t-trade", strict.commission("t-trade", own)).status_code == 429
    # others are not held back
    (other,) = strict.issue("p-chem", 1)
    assert _post(strict, "p-chem", strict.commission("p-chem", other)).status_code == 201


def _delivered(world: World) -> tuple[str, str]:
    """p-chem ships an item by c-move to u-lab, which receives it; returns the code and the
    ship's time."""
    code, _ = _held(world)
    ship = world.event("p-chem", "ship", [code], {
        "carrier": "c-move", "consignee": "u-lab", "consignee_site": "u-lab-site"})  # fmt: skip
    world.actors["p-chem"].client.submit(ship)
    received = world.event("u-lab", "receive", [code], {"ship": format_hash(_hash(ship))})
    world.actors["u-lab"].client.submit(received)
    return code, str(ship["body"]["time"])  # type: ignore[index]


def _hash(envelope: dict[str, Any]) -> bytes:
    return event_hash_of(canonical_bytes(envelope))


def test_a_former_holder_gets_a_conflict_after_its_handoff_and_is_heard_before_it(
    world: World,
) -> None:
    code, shipped_at = _delivered(world)
    producer = world.actors["p-chem"]
    head = world.heads[code]
    ten_minutes_later = (parse_utc(shipped_at) + timedelta(minutes=10)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    late = producer.device.event("use", [code], {"quantity": {"value": "1", "unit": "kg"}},
                                 time=ten_minutes_later, site=producer.site)  # fmt: skip
    world.heads[code] = head  # the refused event never became the head
    answer = _post(world, "p-chem", late)
    assert answer.status_code == 409
    problem = answer.json()
    assert problem["code"] == "not_holder" and problem["custody_ended"] == shipped_at
    assert "u-lab" not in answer.text and "c-move" not in answer.text
    # the handheld's count, signed before the ship and synced now: accepted and flagged
    offline = producer.device.event("stock_count", [code], {
        "count_id": "SC-OFF", "quantity": {"value": "40", "unit": "kg"}}, time=shipped_at,
        site=producer.site)  # fmt: skip
    assert _post(world, "p-chem", offline).status_code == 201
    # it does not take the item off the real holder's inventory
    assert world.actors["u-lab"].client.item(code)["state"]["holder"] == "u-lab"
    wait_for(lambda: _findings(world, "custody.double_holder", code), timeout=20)


def test_an_enterprise_reads_only_its_own_span(world: World) -> None:
    code, _ = _delivered(world)
    world.actors["u-lab"].client.submit(world.event("u-lab", "use", [code], {
        "quantity": {"value": "1", "unit": "kg"}}))  # fmt: skip

    def seen(org: str) -> list[str]:
        return [s["type"] for s in world.actors[org].client.chain(code)]

    assert [s["type"] for s in world.regulators["d1"].chain(code)] == [
        "commission", "store_in", "ship", "receive", "use"]  # fmt: skip
    assert seen("p-chem") == ["commission", "store_in", "ship"]  # up to its handoff out
    assert seen("c-move") == ["ship", "receive"]  # the handoffs into and out of its custody
    assert seen("u-lab") == ["ship", "receive", "use"]  # from the handoff in
    former = world.actors["p-chem"].client.item(code)
    assert former["head"] is None and former["state"]["holder"] == "c-move"  # as it left
    bundle = f"/v1/items/{code}/bundle"
    assert _get(world, world.actors["p-chem"].client.token, bundle).status_code == 404
    holder = world.actors["u-lab"].client.token
    wait_for(lambda: _get(world, holder, bundle).status_code == 200, timeout=15)
