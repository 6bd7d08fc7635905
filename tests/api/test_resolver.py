"""The GS1 Digital Link resolver, end to end on a real server: redirect, linkset, refusals."""

from __future__ import annotations

import json
import re
from typing import Any, Final

import httpx
import pytest

from tests.api.live import World, world_fixture
from tests.conftest import SHARED_DIR

world = world_fixture("resolver")
GTIN: Final = "09506000134352"
KEYS: Final = [f"(01){GTIN}(21)DL-1", f"(8003){GTIN}DL-2", "(00)095060001343520017",
               f"(01){GTIN}(21)DL/4"]  # fmt: skip
PATHS: Final = [f"/01/{GTIN}/21/DL-1", f"/8003/{GTIN}DL-2", "/00/095060001343520017",
                f"/01/{GTIN}/21/DL%2F4"]  # fmt: skip
VECTORS: Final = SHARED_DIR / "conformance/gs1/derived/gs1-syntax-engine_dl-uri-vectors.json"
_ON_RESOLVER: Final = re.compile(r"^https?://[A-Za-z0-9.-]+(/(?:01|00|8003)/[^#]*)")


@pytest.fixture(scope="module")
def issued(world: World) -> dict[str, str]:
    """GS1 key → trace code, for the three primary keys the registry issues."""
    codes = world.admin.issue_codes(org="p-chem", form="1.1", packaging="cylinder", count=4,
                                    batch="DL1", gs1_keys=KEYS)  # fmt: skip
    return {key: entry["code"] for key, entry in zip(KEYS, codes, strict=True)}


def _get(world: World, path: str, **headers: str) -> httpx.Response:
    return httpx.get(world.server.base_url + path, headers=headers, follow_redirects=False)


@pytest.mark.parametrize("index", range(len(KEYS)))
def test_each_primary_key_redirects_to_the_signed_label_page(
    world: World, issued: dict[str, str], index: int
) -> None:
    code = issued[KEYS[index]]
    answer = _get(world, PATHS[index])
    assert answer.status_code == 307
    assert answer.headers["vary"] == "Accept"
    page = httpx.get(answer.headers["location"])
    assert page.status_code == 200
    assert 'data-verdict="genuine"' in page.text
    assert code in page.text


def test_qualifiers_data_attributes_and_foreign_parameters_resolve_the_same(
    world: World, issued: dict[str, str]
) -> None:
    plain = _get(world, PATHS[0]).headers["location"]
    for path in (
        f"/01/{GTIN}/10/LOT9/21/DL-1",
        f"/01/{GTIN}/21/DL-1?17=261231&utm_source=wechat&from=singlemessage",
        f"/01/{GTIN}/21/DL-1?isappinstalled=0&singleton",
    ):
        answer = _get(world, path)
        assert (answer.status_code, answer.headers["location"]) == (307, plain), path


@pytest.mark.parametrize("ask", [{"accept": "application/linkset+json"}, {"query": "all"}])
def test_the_linkset_names_the_page_the_signed_label_and_the_scoped_chain(
    world: World, issued: dict[str, str], ask: dict[str, str]
) -> None:
    code = issued[KEYS[0]]
    path = PATHS[0] + ("?linkType=all" if "query" in ask else "")
    headers = {"accept": ask["accept"]} if "accept" in ask else {}
    answer = _get(world, path, **headers)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/linkset+json")
    (links,) = answer.json()["linkset"]
    assert links["anchor"].endswith(PATHS[0])
    voc = "https://gs1.org/voc/"
    assert links[voc + "pip"][0]["href"].endswith(f"/c/{code}")
    assert links[voc + "certificationInfo"][0]["href"] == _get(world, PATHS[0]).headers["location"]
    traceability = links[voc + "traceability"][0]["href"]
    assert traceability.endswith(f"/epcis/items/{code}/events")
    followed = httpx.get(traceability)
    assert followed.status_code == 401  # the chain needs a token; the resolver leaks none


def test_an_unknown_key_is_404_and_a_product_without_serial_too(world: World) -> None:
    for path in (f"/01/{GTIN}/21/NEVER", "/00/952012345678912345", f"/01/{GTIN}"):
        answer = _get(world, path)
        assert answer.status_code == 404, path
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["code"] == "unknown_code"


def test_a_malformed_link_is_400_naming_the_ai(world: World) -> None:
    answer = _get(world, "/01/09506000134353/21/X")  # a wrong GTIN check digit
    assert answer.status_code == 400
    problem = answer.json()
    assert (problem["code"], problem["ai"]) == ("bad_check_digit", "01")
    assert "AI (01)" in problem["detail"]


def test_a_compressed_link_is_refused_precisely(world: World) -> None:
    answer = _get(world, "/AQnYUc1gmi0Ajl5a0XzJYQ")
    assert answer.status_code == 400
    assert answer.json()["code"] == "compressed_digital_link"
    assert _get(world, "/short").status_code == 404  # not every unknown path is a link


def _resolver_vectors() -> list[Any]:
    vectors = json.loads(VECTORS.read_text())["parse"]
    chosen = []
    for vector in vectors:
        match = _ON_RESOLVER.match(vector["input_uri"])
        if vector["options"] == {} and match is not None:
            chosen.append(pytest.param(match.group(1), vector["should_succeed"],
                                       id=f"line{vector['line']}"))  # fmt: skip
    return chosen


@pytest.mark.parametrize(("path", "valid"), _resolver_vectors())
def test_the_gs1_engine_vectors_on_the_resolver(world: World, path: str, valid: bool) -> None:
    """Every default-option vector on a resolver path: the invalid ones are 400, the valid ones
    are found or not (404), never a 400 and never a 500."""
    answer = _get(world, path)
    if valid:
        assert answer.status_code == 404, answer.text
    else:
        assert answer.status_code == 400, answer.text
        assert answer.json()["code"] in {
            "invalid_uri", "no_gs1_key", "bad_value", "bad_check_digit", "empty_value", "unknown_ai",
            "duplicate_ai", "bad_key_qualifiers", "not_dl_attribute", "value_too_long",
        }  # fmt: skip
