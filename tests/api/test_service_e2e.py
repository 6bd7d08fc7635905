"""End to end over real HTTP: a real server process on SQLite (no Redis) and on PostgreSQL + Redis."""

from __future__ import annotations

import base64
import hashlib
import threading

import httpx
import pytest

from ledger.builder import DeviceSession
from ledger.checkpoint import open_checkpoint
from ledger.merkle import verify_inclusion
from ledger.note import parse_vkey
from scanners.client import ApiError
from tests.api.live import World, wait_for


def _ship(world: World, sender: str, codes: list[str], to: str = "u-lab") -> dict:
    """The holder hands the load to the carrier (a carrier is a stranger until then)."""
    return world.event(sender, "ship", codes, {
        "carrier": "c-move", "consignee": to, "consignee_site": f"{to}-site",
        "waybill_no": "EW1", "vehicle": "京A12345",
    }, site=world.actors[sender].site)  # fmt: skip


def test_a_lifecycle_over_http_is_traced_and_verifiable(world: World) -> None:
    producer = world.actors["p-chem"]
    (code,) = world.issue("p-chem", 1)
    receipt = producer.client.submit(world.commission("p-chem", code))
    assert receipt["index"] > 0 and receipt["signature"]
    batch = producer.client.submit_batch([_ship(world, "p-chem", [code])])
    assert batch.accepted == 1
    lab = world.actors["u-lab"]
    ship_hash = batch.results[0]["receipt"]["entry_hash"]
    lab.client.submit(world.event("u-lab", "receive", [code], {"ship": ship_hash}))

    chain = world.regulators["d1"].chain(code)
    assert [(s["type"], s["holder"], s["site"]) for s in chain] == [
        ("commission", "p-chem", "p-chem-site"),
        ("ship", "c-move", "p-chem-site"),  # where it happened; the item is now in transit
        ("receive", "u-lab", "u-lab-site"),
    ]
    assert chain[0]["quantity"] == "40" and chain[2]["status"] == "active"
    item = lab.client.item(code)
    assert item["state"]["holder"] == "u-lab" and item["issued_to"] == "p-chem"
    assert item["label_url"].startswith("HTTP://127.0.0.1:")
    # the integrator checkpoints within ~1 s; then the bundle verifies server-side
    wait_for(lambda: _verified(lab.client, code))
    inventory = world.regulators["d2"].inventory(site="u-lab-site")
    assert [i["code"] for i in inventory["items"]] == [code]
    assert inventory["totals"][0]["quantity"] == "40"
    shipped_at = chain[1]["time"]  # the state at a past time is replayed from the log
    before = world.admin.inventory(site="p-chem-site", at=chain[0]["time"])
    assert [i["code"] for i in before["items"]] == [code]
    assert world.admin.inventory(site="u-lab-site", at=shipped_at)["items"] == []
    # A device that has never seen the item learns its head from the server, then signs on it.
    fresh = DeviceSession(signer=lab.device.signer, org="u-lab", actor=lab.device.actor,
                          catalog_version="2026-draft.1")  # fmt: skip
    lab.client.sync_head(fresh, code)
    lab.client.sign_and_submit(fresh, "use", [code], {"quantity": {"value": "1.5", "unit": "kg"}},
                               time=world.tick(), site="u-lab-site")  # fmt: skip
    assert lab.client.item(code)["state"]["quantity"] == "38.5"


def _verified(client, code):  # type: ignore[no-untyped-def]
    try:
        return client.verify_item(code)["verified"]
    except ApiError as exc:
        if exc.code != "bundle_unavailable":  # only "not checkpointed yet" is worth waiting for
            raise
        return False


def test_resend_returns_the_same_receipt_even_after_restart_and_head_moved(world: World) -> None:
    producer = world.actors["p-chem"]
    (code,) = world.issue("p-chem", 1)
    envelope = world.commission("p-chem", code)
    first = producer.client.submit(envelope)
    producer.client.submit(world.event("p-chem", "store_in", [code], {}))  # the head moves on
    world.server.restart()
    response = httpx.post(world.server.base_url + "/v1/events", json=envelope,
                          headers={"Authorization": f"Bearer {producer.client.token}"})  # fmt: skip
    assert response.status_code == 200
    assert response.json() == first
    assert len(world.regulators["d1"].chain(code)) == 2


def test_two_devices_racing_on_one_item_exactly_one_wins(world: World) -> None:
    producer = world.actors["p-chem"]
    (code,) = world.issue("p-chem", 1)
    producer.client.submit(world.commission("p-chem", code))
    head = dict(world.heads)
    contenders = []
    for n in range(6):
        world.heads.clear()
        world.heads.update(head)
        contenders.append(world.event("p-chem", "store_in", [code], {"location": f"bay {n}"}))
    results: list[object] = [None] * len(contenders)

    def send(i: int) -> None:
        try:
            results[i] = producer.client.submit(contenders[i])
        except ApiError as exc:
            results[i] = exc

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(contenders))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [r for r in results if isinstance(r, dict)]
    losers = [r for r in results if isinstance(r, ApiError)]
    assert len(winners) == 1 and len(losers) == 5
    winner_hash = winners[0]["entry_hash"]
    for loser in losers:
        assert loser.status == 409 and loser.code == "stale_head"
        assert loser.problem["head_hash"] == winner_hash and loser.problem["head_seq"] == 1


def test_batch_is_atomic_per_connected_group_with_per_event_results(world: World) -> None:
    producer = world.actors["p-chem"]
    good, bad = world.issue("p-chem", 2)
    envelopes = [world.commission("p-chem", good), world.commission("p-chem", bad)]
    envelopes.append(world.event("p-chem", "store_in", [bad], {}))
    envelopes[1]["signature"]["value"] = base64.b64encode(b"\0" * 64).decode()
    outcome = producer.client.submit_batch(envelopes)
    assert [r["status"] for r in outcome.results] == ["accepted", "rejected", "rejected"]
    assert outcome.results[1]["error"]["code"] == "bad_signature"
    assert outcome.results[2]["error"]["code"] == "group_rejected"
    journal = world.regulators["d1"].journal()
    assert any(e["code"] == "bad_signature" and e["org"] == "p-chem" for e in journal)


@pytest.mark.parametrize(
    ("mutate", "status", "code"),
    [
        (lambda e: e.pop("signature"), 422, "malformed_event"),
        (lambda e: e["body"].update(v=True), 422, "malformed_event"),
        (lambda e: e["body"]["data"]["quantity"].update(value=40.0), 422, "malformed_event"),
        (lambda e: e["body"].update(extra="x"), 422, "malformed_event"),
    ],
)
def test_malformed_events_get_a_precise_problem(world: World, mutate, status, code) -> None:  # type: ignore[no-untyped-def]
    (item,) = world.issue("p-chem", 1)
    envelope = world.commission("p-chem", item)
    mutate(envelope)
    with pytest.raises(ApiError) as caught:
        world.actors["p-chem"].client.submit(envelope)
    assert (caught.value.status, caught.value.code) == (status, code)
    assert caught.value.problem["field"]


def test_raw_http_errors_are_problem_json(world: World) -> None:
    url, token = world.server.base_url, world.actors["p-chem"].client.token
    auth = {"Authorization": f"Bearer {token}"}
    cases = [
        (httpx.post(url + "/v1/events", content=b"{not json", headers=auth), 422, "malformed_json"),
        (httpx.post(url + "/v1/events", content=b'{"a":1,"a":2}', headers=auth), 422,
         "malformed_json"),
        (httpx.post(url + "/v1/events", content=b"x", headers={**auth, "content-type": "text/plain"}),
         415, "unsupported_media_type"),
        (httpx.post(url + "/v1/events:batch", json={"events": []}, headers=auth), 422, "batch_size"),
        (httpx.post(url + "/v1/events", json={}), 401, "unauthenticated"),
        (httpx.get(url + "/v1/items/CT-NOPE", headers=auth), 404, "item_not_found"),
        (httpx.get(url + "/v1/log/entries?start=5&end=1"), 400, "bad_range"),
        (httpx.get(url + "/v1/log/proof/inclusion?index=-1&size=2"), 422, "invalid_request"),
    ]  # fmt: skip
    for response, status, code in cases:
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == code


def test_a_stolen_token_without_the_device_key_cannot_write(world: World) -> None:
    from ledger.builder import DeviceSession
    from ledger.signing import Ed25519Signer

    (code,) = world.issue("p-chem", 1)
    thief = DeviceSession(signer=Ed25519Signer.generate(), org="p-chem",
                          actor=world.actors["p-chem"].device.actor,
                          catalog_version="2026-draft.1")  # fmt: skip
    forged = thief.event("commission", [code], {
        "chemical": "1", "quantity": {"value": "1", "unit": "kg"}, "lot": "X", "packaging": "cylinder",
    }, time="2026-10-01T09:00:00Z")  # fmt: skip
    with pytest.raises(ApiError) as caught:
        world.actors["p-chem"].client.submit(forged)
    assert caught.value.code == "unknown_key"
    assert any(e["code"] == "unknown_key" for e in world.regulators["d1"].journal())


def test_an_outside_auditor_checks_every_entry_with_the_public_api_only(world: World) -> None:
    codes = world.issue("p-chem", 3)
    world.actors["p-chem"].client.submit_batch([world.commission("p-chem", c) for c in codes])
    public = world.server.client().http
    verifier = parse_vkey(public.get("/v1/log/key").text.strip())

    def covered() -> object:
        cp = open_checkpoint(public.get("/v1/log/checkpoint").text, verifier)
        return cp if cp.size >= 3 + 3 else None

    checkpoint = wait_for(covered)
    leaves: list[bytes] = []
    while len(leaves) < checkpoint.size:
        page = public.get("/v1/log/entries", params={"start": len(leaves), "end": checkpoint.size})
        leaves += [base64.b64decode(e) for e in page.json()["entries"]]
    for index, leaf in enumerate(leaves):
        proof = public.get("/v1/log/proof/inclusion",
                           params={"index": index, "size": checkpoint.size}).json()  # fmt: skip
        leaf_hash = hashlib.sha256(b"\x00" + leaf).digest()
        verify_inclusion(leaf_hash, index, checkpoint.size,
                         [base64.b64decode(p) for p in proof["proof"]], checkpoint.root_hash)  # fmt: skip


def test_public_label_page_tells_genuine_from_forged(world: World) -> None:
    issued = world.admin.issue_codes(org="p-chem", form="1.1", packaging="cylinder", count=1,
                                     batch="PUB1")  # fmt: skip
    url = issued[0]["label_url"]
    path = "/" + url.split("/", 3)[3]
    page = httpx.get(world.server.base_url + path)
    assert page.status_code == 200 and 'data-verdict="genuine"' in page.text
    assert "氯" in page.text  # Chinese first: chlorine
    english = httpx.get(world.server.base_url + path, params={"lang": "en"})
    assert "Chlorine" in english.text and "UN1017" in english.text
    forged = path[:-6] + ("AAAAAA" if not path.endswith("AAAAAA") else "BBBBBB")
    assert 'data-verdict="forged"' in httpx.get(world.server.base_url + forged).text
    typed = httpx.get(world.server.base_url + "/c/" + issued[0]["code"].lower())
    assert 'data-verdict="genuine"' in typed.text
    assert any(e["code"] == "forged_label" for e in world.admin.journal())


def test_a_gs1_key_resolves_to_its_code_within_scope(world: World) -> None:
    keys = ["(01)09506000134352(21)E2E-1", "(8003)09506000134352E2E-2"]
    issued = world.admin.issue_codes(org="p-chem", form="1.1", packaging="cylinder", count=2,
                                     batch="GS1E2E", gs1_keys=keys)  # fmt: skip
    producer = world.actors["p-chem"].client
    assert [producer.resolve_gs1_key(key) for key in keys] == [c["code"] for c in issued]
    with pytest.raises(ApiError) as outsider:
        world.actors["u-lab"].client.resolve_gs1_key(keys[0])
    with pytest.raises(ApiError) as unknown:
        producer.resolve_gs1_key("(00)095060001343520017")
    assert (outsider.value.status, outsider.value.code) == (
        unknown.value.status,
        unknown.value.code,
    )
    assert unknown.value.code == "unknown_code"
    with pytest.raises(ApiError) as malformed:
        producer.resolve_gs1_key("01-09506000134352")
    assert malformed.value.status == 422
    with pytest.raises(ApiError) as reused:
        world.admin.issue_codes(org="p-chem", form="1.1", packaging="cylinder", count=1,
                                batch="GS1E2F", gs1_keys=keys[:1])  # fmt: skip
    assert reused.value.code == "duplicate_code"


def test_rate_limits_and_size_limits_answer_clearly(start_server, backend) -> None:  # type: ignore[no-untyped-def]
    from tests.api.live import build_world

    server = start_server(backend, CHEMTRACE_RATE_LIMIT_PER_MINUTE="3",
                          CHEMTRACE_MAX_BODY_BYTES="200000", CHEMTRACE_MAX_BATCH_EVENTS="50")  # fmt: skip
    world = build_world(server)
    producer = world.actors["p-chem"]
    codes = world.issue("p-chem", 60)
    envelopes = [world.commission("p-chem", code) for code in codes]
    for envelope in envelopes[:3]:
        producer.client.submit(envelope)
    with pytest.raises(ApiError) as limited:
        producer.client.submit(envelopes[3])
    assert (limited.value.status, limited.value.code) == (429, "rate_limited")
    with pytest.raises(ApiError) as too_many:
        producer.client.submit_batch(envelopes[3:60])
    assert (too_many.value.status, too_many.value.code) == (413, "batch_size")
    token = {"Authorization": f"Bearer {producer.client.token}"}
    big = httpx.post(server.base_url + "/v1/events", content=b" " * 300_000,
                     headers={**token, "content-type": "application/json"})  # fmt: skip
    assert (big.status_code, big.json()["code"]) == (413, "payload_too_large")
    world.close()
