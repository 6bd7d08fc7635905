"""The console in a real browser: Debian's Chromium driven by Playwright, against a real
``chemtrace serve`` process holding the demo city. Every request a page makes must go to
127.0.0.1; any other host fails the test.

CI runs the smoke path (one language); the rest is in the slow tier. Without chromium,
playwright or the npm assets the tests skip, and under CI=true they fail.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.console.assets import Assets
from api.console.i18n import BEIJING
from api.console.screenshots import CHROMIUM, OfflineGuard, launch, log_in, offline_context
from tests.api._cli import run_cli
from tests.api.live import LiveServer, wait_for
from tests.conftest import IN_CI


def _missing(what: str) -> None:
    if IN_CI:
        pytest.fail(f"{what}; CI must run the console's browser tests")
    pytest.skip(what)


@dataclass
class Demo:
    server: LiveServer
    tokens: dict[str, str]

    @property
    def url(self) -> str:
        return self.server.base_url

    def findings_found(self) -> None:
        """Wait for the server's findings worker to have found the demo's anomalies."""
        wait_for(lambda: self.api("admin", "/v1/findings", limit=1)["total"] > 5, timeout=120)

    def api(self, user: str, path: str, **params: Any) -> Any:
        token = self.tokens[user]
        answer = httpx.get(self.url + path, params=params, timeout=30,
                           headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        answer.raise_for_status()
        return answer.json()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("playwright is not installed (pip install -e '.[dev]')")
    if not Path(CHROMIUM).exists():
        _missing(f"{CHROMIUM} is absent (apt-get install chromium)")
    if not Assets(None).installed:
        _missing("the console's npm assets are absent (scripts/test.sh installs them)")
    home = tmp_path_factory.mktemp("console-browser")
    db = f"sqlite:///{home}/var/demo.db"
    seeded = run_cli("demo", "--seed-only", "--db", db, "--keys", str(home / "var" / "keys"),
                     cwd=home)  # fmt: skip
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    server = LiveServer(home, db).start()
    tokens = json.loads((home / "var" / "demo-tokens.json").read_text())
    tokens["admin"] = server.admin_token
    yield Demo(server, tokens)
    server.close()


@pytest.fixture(scope="module")
def browser(demo: Demo) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def guard() -> Iterator[OfflineGuard]:
    """Fails the test if any page asked a host other than 127.0.0.1."""
    found = OfflineGuard()
    yield found
    assert not found.refused, f"requests left 127.0.0.1: {found.refused}"


@pytest.fixture
def page(browser: Any, guard: OfflineGuard) -> Iterator[Any]:
    context = offline_context(browser, guard)
    yield context.new_page()
    context.close()


def _code_at(demo: Demo, site: str) -> str:
    items = demo.api("regulator-city", "/v1/items", site=site, status="active")["items"]
    return str(items[0]["code"])


def test_smoke_login_search_item_timeline_verify(demo: Demo, page: Any) -> None:
    """The CI path, in Chinese: log in, find an item by its code, read its custody timeline
    and verify it; the dashboard's chart and the item's offline map render."""
    log_in(page, demo.url, demo.tokens["regulator-city"])
    assert page.locator("h1").inner_text() == "总览"
    page.wait_for_selector("#chart-time svg")
    code = _code_at(demo, "tongzhou-depot")
    page.click("nav >> text=搜索")
    page.fill("#q", code.lower())  # any spelling of the code
    page.press("#q", "Enter")
    page.wait_for_url(f"**/console/items/{code}*")
    rows = page.locator("#timeline tbody tr")
    chain = demo.api("regulator-city", f"/v1/items/{code}/events")["steps"]
    assert rows.count() == len(chain) > 0
    assert "UTC+8" in rows.first.inner_text()
    page.wait_for_selector("#map[data-loaded='1']")
    assert page.locator("#map path.leaflet-interactive").count() >= 16  # the districts
    page.click("#verify-button")
    assert "verified" in page.locator("#verify-result").inner_text()
    assert "NOT" not in page.locator("#verify-result").inner_text()


def test_the_guard_refuses_other_hosts(demo: Demo, browser: Any) -> None:
    guard = OfflineGuard()
    context = offline_context(browser, guard)
    page = context.new_page()
    with pytest.raises(Exception, match="ERR_BLOCKED_BY_CLIENT"):
        page.goto("http://example.com/")
    context.close()
    assert guard.refused == ["http://example.com/"]


@pytest.mark.slow
def test_site_inventory_at_a_past_time(demo: Demo, page: Any) -> None:
    items = demo.api("regulator-city", "/v1/items", site="tongzhou-depot", limit=5000)["items"]
    times = sorted(str(item["last_time"]) for item in items)
    middle = datetime.fromisoformat(times[len(times) // 2].replace("Z", "+00:00"))
    local = middle.astimezone(BEIJING).strftime("%Y-%m-%dT%H:%M")
    at = datetime.fromisoformat(local).replace(tzinfo=BEIJING).astimezone(UTC)
    expected = demo.api("regulator-city", "/v1/inventory", site="tongzhou-depot",
                        at=at.strftime("%Y-%m-%dT%H:%M:%SZ"))["items"]  # fmt: skip
    now = demo.api("regulator-city", "/v1/inventory", site="tongzhou-depot")["items"]
    assert len(expected) != len(now)  # the past differs from now, or the test shows nothing
    log_in(page, demo.url, demo.tokens["regulator-city"], "en")
    page.goto(demo.url + "/console/sites/tongzhou-depot")
    assert page.locator("#inventory tbody tr").count() == len(now)
    page.fill("#at", local)
    page.click("#at-submit")
    page.wait_for_url("**at=*")
    assert page.locator("#inventory tbody tr").count() == len(expected)
    shown = set(page.locator("#inventory tbody tr td:first-child").all_inner_texts())
    assert shown == {item["code"] for item in expected}


@pytest.mark.slow
def test_bulk_findings_transition(demo: Demo, page: Any) -> None:
    demo.findings_found()
    before = demo.api("regulator-city", "/v1/findings", status="acknowledged", limit=1)["total"]
    log_in(page, demo.url, demo.tokens["regulator-city"])
    page.goto(demo.url + "/console/findings?status=open&group=rule")
    first = page.locator("input.select-all").first
    first.check()  # selects its group (console.js)
    chosen = page.locator("input[name=ids]:checked").count()
    assert chosen >= 1
    page.select_option("#t-status", "acknowledged")
    page.fill("#t-comment", "bulk review in the browser test")
    page.click("#t-apply")
    page.wait_for_selector("#moved")
    assert str(chosen) in page.locator("#moved").inner_text()
    after = demo.api("regulator-city", "/v1/findings", status="acknowledged", limit=1)["total"]
    assert after == before + chosen


@pytest.mark.slow
def test_emergency_query_from_a_map_click(demo: Demo, page: Any) -> None:
    pytest.importorskip("api.services.emergency")
    log_in(page, demo.url, demo.tokens["regulator-city"], "en")
    page.goto(demo.url + "/console/emergency?lang=en")
    page.wait_for_selector("#map[data-loaded='1']")
    page.fill("#radius", "50000")
    page.locator("#map").click()  # the middle of Beijing, 50 km around
    page.wait_for_url("**lat=*")
    page.wait_for_selector("#sheet")
    assert page.locator("article.site-answer").count() >= 1
    assert page.locator("#lat").input_value() != ""


@pytest.mark.slow
def test_an_enterprise_sees_only_its_own(demo: Demo, page: Any) -> None:
    log_in(page, demo.url, demo.tokens["huabei-trade-ops"], "en")
    page.goto(demo.url + "/console/map")
    page.wait_for_selector("#map[data-loaded='1']")
    listed = page.locator("#site-list li").all_inner_texts()
    assert listed and all("Chaoyang Office" in text for text in listed), listed
    answer = page.goto(demo.url + "/console/sites/tongzhou-depot")
    assert answer is not None and answer.status == 404
    page.goto(demo.url + "/console/search?q=tongzhou")
    assert page.locator("a[href='/console/sites/tongzhou-depot']").count() == 0


@pytest.mark.slow
def test_a_forged_csrf_token_is_refused(demo: Demo, page: Any) -> None:
    demo.findings_found()
    log_in(page, demo.url, demo.tokens["regulator-city"], "en")
    page.goto(demo.url + "/console/findings?status=open")
    page.locator("input[name=ids]").first.check()
    page.fill("#t-comment", "forged")
    page.evaluate("document.querySelector('#triage input[name=csrf]').value = 'f'.repeat(64)")
    with page.expect_response(lambda r: r.url.endswith("/console/findings/transition")) as sent:
        page.click("#t-apply")
    assert sent.value.status == 403
    assert "CSRF" in page.content()
    page.goto(demo.url + "/console/dashboard")
    assert page.locator("h1").inner_text() == "Dashboard"  # still logged in


@pytest.mark.slow
def test_phone_width_keyboard_and_labels(demo: Demo, browser: Any, guard: OfflineGuard) -> None:
    context = offline_context(browser, guard, width=390)
    page = context.new_page()
    log_in(page, demo.url, demo.tokens["regulator-city"])
    for path in ("/console/dashboard", "/console/findings", "/console/map",
                 "/console/sites/tongzhou-depot", "/console/orgs/tongzhou-store",
                 "/console/emergency"):  # fmt: skip
        page.goto(demo.url + path)
        page.wait_for_load_state("networkidle")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (path, width)
        unlabelled = page.evaluate(
            "() => [...document.querySelectorAll('input:not([type=hidden]), select')]"
            ".filter(e => !e.labels.length && !e.getAttribute('aria-label')).map(e => e.name)"
        )
        assert unlabelled == [], (path, unlabelled)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    context.close()
