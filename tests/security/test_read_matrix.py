"""Who may read an item: role x relation to the item x endpoint, against a real server.

The world: p-chem (district d1) commissions and stores an item, ships it by c-move to u-lab
(district d2), which receives and uses it. t-trade (d1) never touched it. Every cell is
one request; the expectations are ``docs/access-policy.md``'s tables, written out.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from ledger.canonical import canonical_bytes, format_hash
from ledger.envelope import event_hash_of
from tests.api.live import BACKENDS, World, shared_server, wait_for

FULL = ["commission", "store_in", "ship", "receive", "use"]
NOT_FOUND = (404, "item_not_found")
FORBIDDEN = (403, "forbidden")


@dataclass
class Seen:
    world: World
    code: str
    tokens: dict[str, str]


@pytest.fixture(scope="module", params=BACKENDS)
def seen(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Seen]:
    home = tmp_path_factory.mktemp("read-matrix")
    with shared_server(request, home, str(request.param)) as (_, world):
        (code,) = world.issue("p-chem", 1)
        producer, lab = world.actors["p-chem"].client, world.actors["u-lab"].client
        producer.submit(world.commission("p-chem", code))
        producer.submit(world.event("p-chem", "store_in", [code], {}))
        ship = world.event("p-chem", "ship", [code], {
            "carrier": "c-move", "consignee": "u-lab", "consignee_site": "u-lab-site"})  # fmt: skip
        producer.submit(ship)
        lab.submit(world.event("u-lab", "receive", [code], {
            "ship": format_hash(event_hash_of(canonical_bytes(ship)))}))  # fmt: skip
        lab.submit(world.event("u-lab", "use", [code], {"quantity": {"value": "1", "unit": "kg"}}))
        admin = world.admin
        admin.put_user("reg-city", role="city_regulator", name="city bureau")
        admin.put_user("responder", role="responder", name="emergency command")
        tokens = {
            "admin": admin.token or "",
            "reg_d1": world.regulators["d1"].token or "",
            "reg_d2": world.regulators["d2"].token or "",
            "reg_city": admin.issue_token("reg-city"),
            "responder": admin.issue_token("responder"),
            "inspector_d1": world.actors["d1-inspect"].client.token or "",
            "holder": lab.token or "",
            "former_holder": producer.token or "",
            "former_carrier": world.actors["c-move"].client.token or "",
            "stranger": world.actors["t-trade"].client.token or "",
        }
        wait_for(lambda: _get(world, tokens["admin"], f"/v1/items/{code}/bundle").status_code
                 == 200, timeout=20)  # fmt: skip
        yield Seen(world, code, tokens)


def _get(world: World, token: str, path: str) -> httpx.Response:
    return httpx.get(world.server.base_url + path, headers={"Authorization": f"Bearer {token}"},
                     timeout=30)  # fmt: skip


Expect = Any  # a list of event types, a (status, code) refusal, or 200
CHAIN: dict[str, Expect] = {
    "admin": FULL, "reg_d1": FULL, "reg_d2": FULL, "reg_city": FULL, "inspector_d1": FULL,
    "responder": FORBIDDEN,
    "holder": ["ship", "receive", "use"],
    "former_holder": ["commission", "store_in", "ship"],
    "former_carrier": ["ship", "receive"],
    "stranger": NOT_FOUND,
}  # fmt: skip
ITEM: dict[str, Expect] = {
    **dict.fromkeys(["admin", "reg_d1", "reg_d2", "reg_city", "inspector_d1", "responder",
                     "holder", "former_holder", "former_carrier"], 200),
    "stranger": NOT_FOUND,
}  # fmt: skip
BUNDLE: dict[str, Expect] = {
    **dict.fromkeys(["admin", "reg_d1", "reg_d2", "reg_city", "inspector_d1", "holder"], 200),
    "responder": FORBIDDEN,
    **dict.fromkeys(["former_holder", "former_carrier", "stranger"], NOT_FOUND),
}  # fmt: skip
JOURNAL: dict[str, Expect] = {
    **dict.fromkeys(["admin", "reg_d1", "reg_d2", "reg_city"], 200),
    **dict.fromkeys(["responder", "inspector_d1", "holder", "former_holder", "former_carrier",
                     "stranger"], FORBIDDEN),
}  # fmt: skip
CELLS = [
    *((role, "/events", want) for role, want in CHAIN.items()),
    *((role, "", want) for role, want in ITEM.items()),
    *((role, "/bundle", want) for role, want in BUNDLE.items()),
    *((role, "/verify", want) for role, want in BUNDLE.items()),
]


@pytest.mark.parametrize(("role", "endpoint", "want"), CELLS,
                         ids=[f"{r}-{e or '/'}" for r, e, _ in CELLS])  # fmt: skip
def test_item_reads(seen: Seen, role: str, endpoint: str, want: Expect) -> None:
    answer = _get(seen.world, seen.tokens[role], f"/v1/items/{seen.code}{endpoint}")
    if isinstance(want, tuple):
        assert (answer.status_code, answer.json()["code"]) == want
        assert seen.code not in answer.text.replace(f"no item {seen.code}", "")
    elif isinstance(want, list):
        assert answer.status_code == 200, answer.text
        assert [s["type"] for s in answer.json()["steps"]] == want
    else:
        assert answer.status_code == want, answer.text


@pytest.mark.parametrize(("role", "want"), JOURNAL.items())
def test_journal_reads(seen: Seen, role: str, want: Expect) -> None:
    answer = _get(seen.world, seen.tokens[role], "/v1/security/journal")
    if isinstance(want, tuple):
        assert (answer.status_code, answer.json()["code"]) == want
    else:
        assert answer.status_code == want


def test_a_former_holder_sees_the_item_as_it_left_and_no_head(seen: Seen) -> None:
    item = _get(seen.world, seen.tokens["former_holder"], f"/v1/items/{seen.code}").json()
    assert item["head"] is None and item["events"] == 3
    assert item["state"]["holder"] == "c-move" and item["state"]["status"] == "in_transit"
    current = _get(seen.world, seen.tokens["holder"], f"/v1/items/{seen.code}").json()
    assert current["head"]["seq"] == 4 and current["state"]["holder"] == "u-lab"


def test_the_responder_sees_what_is_where_across_the_city(seen: Seen) -> None:
    answer = _get(seen.world, seen.tokens["responder"], "/v1/inventory?site=u-lab-site")
    assert answer.status_code == 200
    assert seen.code in [i["code"] for i in answer.json()["items"]]
    person = _get(seen.world, seen.tokens["responder"], "/v1/crew/anyone/person")
    assert person.status_code == 403


def test_every_read_of_personal_data_is_kept_with_who_when_and_why(seen: Seen) -> None:
    admin = seen.world.admin
    admin.put_crew("pipl-driver", org="c-move", role="driver", certificate_no="DC-PIPL",
                   valid_from="2026-01-01T00:00:00Z", valid_until="2027-12-31T00:00:00Z",
                   person={"name": "Li Si", "id_number": "110101199001011234",
                           "phone": "13800000000"})  # fmt: skip
    path = "/v1/crew/pipl-driver/person?reason=accident%20on%20G4"
    assert _get(seen.world, seen.tokens["reg_d2"], path).json()["name"] == "Li Si"
    assert _get(seen.world, seen.tokens["responder"], path).status_code == 403
    trail = _get(seen.world, seen.tokens["admin"], "/v1/audit/personal-reads").json()
    (row,) = [r for r in trail if r["record_id"] == "pipl-driver"]
    assert row["user_id"] == "reg-d2" and row["reason"] == "accident on G4"
    assert row["commitment"].startswith("sha256:") and "Li Si" not in str(trail)
    assert _get(seen.world, seen.tokens["reg_d2"], "/v1/audit/personal-reads").status_code == 403
