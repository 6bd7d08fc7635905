"""A seeded world for the list endpoints' tests: items of two chemicals in two districts, a
shipment with a waybill and a registered vehicle, and helpers to call as each role."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import httpx

from tests.api.live import World, wait_for

PROBLEM_JSON: Final = "application/problem+json"
PLATE: Final = "京A·12345"
"""The van's plate as registered (searches may type it without the dot, or in lowercase)."""
WAYBILL: Final = "EW-2026-0001"
LOT: Final = "LOT-NITRIC-7"


@dataclass
class Listings:
    world: World
    http: httpx.Client
    chlorine: list[str]
    """p-chem's chlorine cylinders (form 1.1), lot L1, at p-chem-site (d1)."""
    nitric: list[str]
    """p-chem's red fuming nitric acid (form 26.3), lot LOT-NITRIC-7; the first shipped."""
    shipped: str
    """nitric[0]: shipped by p-chem with c-move's van to u-lab, and received there (d2)."""
    lab: list[str]
    """u-lab's own chlorine cylinders (d2)."""
    ship_hash: str
    device: str
    """The key id of u-lab's device (it signed the lab's commissions and the receive)."""

    def token(self, role: str) -> str | None:
        world = self.world
        return {
            "anon": None,
            "admin": world.server.admin_token,
            "reg_d1": world.regulators["d1"].token,
            "reg_d2": world.regulators["d2"].token,
            "inspector": world.actors["d1-inspect"].client.token,
            "p_chem": world.actors["p-chem"].client.token,
            "u_lab": world.actors["u-lab"].client.token,
        }[role]

    def get(self, role: str, path: str, **kwargs: Any) -> httpx.Response:
        token = self.token(role)
        headers = {**kwargs.pop("headers", {})}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.get(path, headers=headers, **kwargs)

    def ok(self, role: str, path: str, **kwargs: Any) -> Any:
        response = self.get(role, path, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    assert (body["status"], body["code"]) == (status, code), body
    return body


def _commission(world: World, org: str, code: str, chemical: str, lot: str) -> dict[str, Any]:
    return world.event(org, "commission", [code], {
        "chemical": chemical, "quantity": {"value": "40", "unit": "kg"}, "lot": lot,
        "packaging": "cylinder",
    })  # fmt: skip


def seed(world: World, *, chlorine: int = 3, nitric: int = 3, lab: int = 2) -> Listings:
    admin = world.admin
    admin.put_vehicle("c-van", org="c-move", plate=PLATE, transport_licence="TL-C",
                      un_classes=["8"], valid_until="2030-01-01T00:00:00Z")  # fmt: skip
    producer, lab_actor = world.actors["p-chem"], world.actors["u-lab"]
    chlorine_codes = world.issue("p-chem", chlorine)
    nitric_codes = world.issue("p-chem", nitric, form="26.3", packaging="drum")
    lab_codes = world.issue("u-lab", lab)
    for code in chlorine_codes:
        producer.client.submit(_commission(world, "p-chem", code, "1.1", "L1"))
    for code in nitric_codes:
        producer.client.submit(_commission(world, "p-chem", code, "26.3", LOT))
    for code in lab_codes:
        lab_actor.client.submit(_commission(world, "u-lab", code, "1.1", "LAB-1"))
    shipped = nitric_codes[0]
    ship = producer.client.submit(world.event("p-chem", "ship", [shipped], {
        "carrier": "c-move", "consignee": "u-lab", "consignee_site": "u-lab-site",
        "waybill_no": WAYBILL, "vehicle": "c-van",
    }))  # fmt: skip
    lab_actor.client.submit(world.event("u-lab", "receive", [shipped],
                                        {"ship": ship["entry_hash"]}))  # fmt: skip
    http = httpx.Client(base_url=world.server.base_url, timeout=30)
    listings = Listings(world, http, chlorine_codes, nitric_codes, shipped, lab_codes,
                        ship["entry_hash"], lab_actor.device.signer.key_id)  # fmt: skip
    total = chlorine + nitric + lab
    wait_for(lambda: listings.ok("admin", "/v1/items")["total"] == total)
    return listings
