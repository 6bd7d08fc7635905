"""A quantity its form cannot weigh is refused at ingest, over real HTTP, as problem+json."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from scanners.client import ApiError
from tests.api.live import LiveServer, World, build_world


@pytest.fixture
def world(start_server: Callable[..., LiveServer]) -> Iterator[World]:
    built = build_world(start_server("sqlite"))
    yield built
    built.close()


def _commission(world: World, code: str, value: str, unit: str) -> dict[str, object]:
    return world.event("p-chem", "commission", [code], {
        "chemical": "1.1", "quantity": {"value": value, "unit": unit}, "lot": "L1",
        "packaging": "cylinder",
    })  # fmt: skip


def test_litres_of_chlorine_are_refused_naming_the_form(world: World) -> None:
    (code,) = world.issue("p-chem", 1)
    envelope = _commission(world, code, "50", "L")
    with pytest.raises(ApiError) as caught:
        world.actors["p-chem"].client.submit(envelope)
    assert (caught.value.status, caught.value.code) == (422, "unit_not_convertible")
    assert caught.value.problem["form"] == "1.1" and caught.value.problem["unit"] == "L"
    assert "form 1.1" in caught.value.problem["detail"]
    raw = httpx.post(world.server.base_url + "/v1/events", json=envelope,
                     headers={"Authorization": f"Bearer {world.actors['p-chem'].client.token}"})  # fmt: skip
    assert raw.status_code == 422
    assert raw.headers["content-type"].startswith("application/problem+json")
    assert raw.json()["code"] == "unit_not_convertible"
    with pytest.raises(ApiError) as missing:  # nothing was written
        world.actors["p-chem"].client.chain(code)
    assert missing.value.code == "item_not_found"


def test_kilograms_of_chlorine_are_accepted(world: World) -> None:
    (code,) = world.issue("p-chem", 1)
    receipt = world.actors["p-chem"].client.submit(_commission(world, code, "50", "kg"))
    assert receipt["index"] >= 0


def test_a_use_in_litres_of_a_logged_chlorine_cylinder_is_refused(world: World) -> None:
    producer = world.actors["p-chem"]
    (code,) = world.issue("p-chem", 1)
    producer.client.submit(_commission(world, code, "500", "kg"))
    head = producer.device.heads[code]
    litres = world.event("p-chem", "use", [code], {"quantity": {"value": "50", "unit": "L"}})
    with pytest.raises(ApiError) as caught:
        producer.client.submit(litres)
    assert (caught.value.status, caught.value.code) == (422, "unit_not_convertible")
    assert caught.value.problem["form"] == "1.1"
    producer.device.heads[code] = head  # the refused event never moved the log's head
    kilograms = world.event("p-chem", "use", [code], {"quantity": {"value": "50", "unit": "kg"}})
    assert producer.client.submit(kilograms)["index"] >= 0
