"""The public label page and the security journal stay bounded under abuse (issue 12, item 5).

Against a real ``chemtrace serve`` process, on SQLite and on PostgreSQL with Redis:

* a flood of views of an unknown code from one client is rate-limited (429 with
  Retry-After, an HTML page a phone shows) and journalled as one row per window, with a count;
* X-Forwarded-For names the client only when the peer is a trusted proxy;
* a counterfeit label is journalled in the district of the organisation the registry issued
  its code to, so that district's regulator sees it (and its finding);
* the public page of a lost, stolen or disposed item warns, and never says "genuine".
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.api.live import World, wait_for, world_fixture

CLIENT_HEADER = "X-Forwarded-For"


proxied = world_fixture("proxied", CHEMTRACE_TRUSTED_PROXIES="127.0.0.1/32,::1/128")
"""A server behind a "proxy" on loopback: each test speaks as its own client address."""
direct = world_fixture("direct")
"""A server with the default settings: no proxy is trusted."""


def _rows(world: World, item: str) -> list[dict[str, Any]]:
    return [e for e in world.admin.journal(limit=1000) if e["item_code"] == item]


def _views(world: World, path: str, count: int, headers: Any) -> list[httpx.Response]:
    with httpx.Client(base_url=world.server.base_url, timeout=30) as http:
        return [
            http.get(path, headers=headers(number) if callable(headers) else headers)
            for number in range(count)
        ]


def test_a_flood_of_views_of_an_unknown_code_is_rate_limited_and_one_journal_row(
    proxied: World,
) -> None:
    views = _views(proxied, "/c/UNKNOWN", 500, {CLIENT_HEADER: "203.0.113.7"})
    served = [v for v in views if v.status_code == 404]
    limited = [v for v in views if v.status_code == 429]
    assert len(served) + len(limited) == 500
    assert served and limited, "the public page is not rate-limited per client"
    for page in limited[:3]:
        assert int(page.headers["Retry-After"]) >= 1
        assert page.headers["content-type"].startswith("text/html")
        assert 'data-verdict="busy"' in page.text and "请稍后再试" in page.text
    assert 'data-verdict="unknown"' in served[0].text
    rows = [r for r in _rows(proxied, "UNKNOWN") if r["client"] == "203.0.113.7"]
    assert 1 <= len(rows) <= 2, f"{len(rows)} journal rows for one client's flood"
    assert sum(r["count"] for r in rows) == len(served)
    assert all(r["code"] == "unknown_label" and r["last_at"] >= r["at"] for r in rows)
    # the English page of the refusal; the limit is per wall-clock minute, so a loaded machine
    # may cross into a new window: within any two windows at most 2 x 120 views are served
    with httpx.Client(base_url=proxied.server.base_url, timeout=30) as http:
        for _ in range(2 * 120 + 1):
            english = http.get("/c/UNKNOWN", params={"lang": "en"},
                               headers={CLIENT_HEADER: "203.0.113.70"})  # fmt: skip
            if english.status_code == 429:
                break
    assert english.status_code == 429 and "Too many" in english.text


def test_another_client_is_not_held_back_by_a_flooding_one(proxied: World) -> None:
    _views(proxied, "/c/FLOOD-2", 300, {CLIENT_HEADER: "203.0.113.8"})
    other = httpx.get(proxied.server.base_url + "/c/FLOOD-2",
                      headers={CLIENT_HEADER: "203.0.113.9"})  # fmt: skip
    assert other.status_code == 404 and 'data-verdict="unknown"' in other.text


def test_x_forwarded_for_does_not_change_the_client_by_default(direct: World) -> None:
    limited = False
    with httpx.Client(base_url=direct.server.base_url, timeout=30) as http:
        for n in range(2 * 120 + 1):  # served at most 120 a window: a 429 within two windows
            view = http.get("/c/SPOOFED", headers={CLIENT_HEADER: f"198.51.100.{n % 250}"})
            if view.status_code == 429:
                limited = True
                break
    assert limited, "a forged X-Forwarded-For escaped the limit"
    rows = _rows(direct, "SPOOFED")
    assert {r["client"] for r in rows} == {"127.0.0.1"}
    assert len(rows) <= 2


def test_x_forwarded_for_names_the_client_behind_a_trusted_proxy(proxied: World) -> None:
    cases = {
        "XFF-1": ("198.51.100.1, 203.0.113.31", "203.0.113.31"),  # the left one is the client's say
        "XFF-2": ("203.0.113.32, 127.0.0.1", "203.0.113.32"),  # a second trusted hop is skipped
        "XFF-3": ("not-an-address", "127.0.0.1"),  # junk: the proxy itself is the client
    }
    for code, (header, _) in cases.items():
        httpx.get(proxied.server.base_url + f"/c/{code}", headers={CLIENT_HEADER: header})
    for code, (_, client) in cases.items():
        assert [r["client"] for r in _rows(proxied, code)] == [client], code


def test_a_counterfeit_label_is_journalled_in_the_district_its_code_was_issued_in(
    proxied: World,
) -> None:
    (issued,) = proxied.admin.issue_codes(org="p-chem", form="1.1", packaging="cylinder",
                                          count=1, batch="FORGE1")  # fmt: skip
    code, path = issued["code"], "/" + issued["label_url"].split("/", 3)[3]
    forged = path[:-6] + ("AAAAAA" if not path.endswith("AAAAAA") else "BBBBBB")
    page = httpx.get(proxied.server.base_url + forged, headers={CLIENT_HEADER: "203.0.113.21"})
    assert page.status_code == 404 and 'data-verdict="forged"' in page.text
    (row,) = _rows(proxied, code)
    assert (row["code"], row["district"], row["client"]) == ("forged_label", "d1", "203.0.113.21")
    assert any(e["item_code"] == code for e in proxied.regulators["d1"].journal(limit=1000))
    assert all(e["item_code"] != code for e in proxied.regulators["d2"].journal(limit=1000))

    def clone_finding(regulator: str) -> list[dict[str, Any]]:
        found = proxied.regulators[regulator]._json(
            "GET", "/v1/findings", params={"rule": "clone.unissued_code", "item": code}
        )
        return list(found["findings"])

    (finding,) = wait_for(lambda: clone_finding("d1"), timeout=20)
    assert finding["district"] == "d1"
    assert clone_finding("d2") == []


def _commissioned(world: World) -> str:
    (code,) = world.issue("p-chem", 1)
    world.actors["p-chem"].client.submit(world.commission("p-chem", code))
    return code


@pytest.mark.parametrize(
    ("kind", "verdict", "zh", "en"),
    [("theft", "stolen", "被盗", "reported stolen"), ("loss", "lost", "遗失", "reported lost")],
)
def test_the_public_page_of_a_lost_or_stolen_item_warns_and_never_says_genuine(
    proxied: World, kind: str, verdict: str, zh: str, en: str
) -> None:
    code = _commissioned(proxied)
    producer = proxied.actors["p-chem"]
    producer.client.submit(proxied.event("p-chem", "report_loss", [code], {"kind": kind}))
    headers = {CLIENT_HEADER: f"203.0.113.4{len(kind)}"}
    chinese = httpx.get(proxied.server.base_url + f"/c/{code}", headers=headers)
    english = httpx.get(proxied.server.base_url + f"/c/{code}", params={"lang": "en"},
                        headers=headers)  # fmt: skip
    for page in (chinese, english):
        assert page.status_code == 200
        assert f'data-verdict="{verdict}"' in page.text
        assert 'data-verdict="genuine"' not in page.text
        # privacy: no holder, place or quantity
        assert "p-chem" not in page.text and not re.search(r"\d\s*kg\b", page.text)
    assert zh in chinese.text and "标签真实" not in chinese.text
    assert en in english.text and "Genuine" not in english.text


def test_the_public_page_of_a_disposed_item_does_not_say_genuine(proxied: World) -> None:
    code = _commissioned(proxied)
    proxied.actors["p-chem"].client.submit(proxied.event(
        "p-chem", "dispose", [code], {"disposer": "p-chem", "method": "incineration"}
    ))  # fmt: skip
    headers = {CLIENT_HEADER: "203.0.113.50"}
    chinese = httpx.get(proxied.server.base_url + f"/c/{code}", headers=headers)
    english = httpx.get(proxied.server.base_url + f"/c/{code}", params={"lang": "en"},
                        headers=headers)  # fmt: skip
    assert 'data-verdict="retired"' in chinese.text and "标签真实" not in chinese.text
    assert 'data-verdict="retired"' in english.text and "Genuine" not in english.text


def test_a_genuine_item_in_good_standing_still_says_genuine(proxied: World) -> None:
    code = _commissioned(proxied)
    page = httpx.get(proxied.server.base_url + f"/c/{code}",
                     headers={CLIENT_HEADER: "203.0.113.60"})  # fmt: skip
    assert page.status_code == 200 and 'data-verdict="genuine"' in page.text
    assert "标签真实" in page.text
