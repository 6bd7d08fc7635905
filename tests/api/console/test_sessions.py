"""Console sessions: the cookie, idle and absolute expiry, revocation, disabled users,
CSRF, the security headers on every page, and the API's scope through the UI."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from http.cookies import SimpleCookie

import pytest
from sqlalchemy import select

from api.console.sessions import COOKIE, SessionService
from api.console.web import CSP
from ledger.store import schema as t
from tests.api.console.conftest import Demo, csrf_of, login

_users = itertools.count()


def fresh_user(demo: Demo, **attrs: object) -> tuple[str, str]:
    """A new user (an enterprise of huabei-trade unless told) and a token of theirs."""
    user_id = f"console-test-{next(_users)}"
    attrs = {"role": "enterprise", "org": "huabei-trade", "name": "Console tester", **attrs}
    demo.service.registry.put_record("user", user_id, attrs)
    return user_id, demo.service.access.issue_token(user_id)


def sessions_of(demo: Demo) -> SessionService:
    demo.browser().get("/console/login")  # the console's parts are made on first use
    found: SessionService = demo.app.state.console.sessions  # type: ignore[attr-defined]
    return found


class Clock:
    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(demo: Demo) -> Iterator[Clock]:
    sessions = sessions_of(demo)
    saved = sessions.clock, sessions.idle_s, sessions.max_s
    fake = Clock()
    sessions.clock, sessions.idle_s, sessions.max_s = fake, 600.0, 3600.0
    yield fake
    sessions.clock, sessions.idle_s, sessions.max_s = saved


def logged_out(response: object) -> bool:
    status = getattr(response, "status_code", 0)
    location = getattr(response, "headers", {}).get("location", "")
    return status == 303 and location.startswith("/console/login")


def test_login_sets_a_host_cookie_that_is_httponly_secure_and_strict(demo: Demo) -> None:
    client = demo.browser()
    form = client.get("/console/login")
    done = client.post(
        "/console/login", data={"token": demo.admin_token, "csrf": csrf_of(form.text)}
    )
    assert done.status_code == 303
    header = next(v for v in done.headers.get_list("set-cookie") if v.startswith(COOKIE + "="))
    morsel = SimpleCookie(header)[COOKIE]
    assert morsel["httponly"] and morsel["secure"]
    assert morsel["samesite"].lower() == "strict"
    assert morsel["path"] == "/"
    assert not morsel["domain"]  # a __Host- cookie may not name a domain
    assert client.get("/console/dashboard").status_code == 200


def test_the_database_keeps_only_a_hash_of_the_session_id(demo: Demo) -> None:
    client = login(demo.browser(), demo.admin_token)
    session_id = client.cookies[COOKIE]
    with demo.service.deployment.store.engine.connect() as conn:
        rows = conn.execute(select(t.console_session)).mappings().all()
    stored = [row["id_hash"] for row in rows]
    assert hashlib.sha256(session_id.encode()).digest() in stored
    assert all(session_id.encode() not in bytes(value) for row in rows for value in
               (row["id_hash"], row["token_hash"]))  # fmt: skip


def test_a_bad_token_opens_no_session(demo: Demo) -> None:
    client = demo.browser()
    form = client.get("/console/login")
    done = client.post(
        "/console/login", data={"token": "ct_not-a-token", "csrf": csrf_of(form.text)}
    )
    assert done.headers["location"] == "/console/login?failed=1"
    assert COOKIE not in client.cookies
    assert logged_out(client.get("/console/dashboard"))


def test_login_needs_the_login_forms_csrf_token(demo: Demo) -> None:
    client = demo.browser()
    client.get("/console/login")
    refused = client.post("/console/login", data={"token": demo.admin_token})
    assert refused.status_code == 403
    forged = client.post("/console/login", data={"token": demo.admin_token, "csrf": "0" * 64})
    assert forged.status_code == 403
    assert COOKIE not in client.cookies


def test_pages_without_a_session_go_to_the_login(demo: Demo) -> None:
    client = demo.browser()
    for path in ("/console/dashboard", "/console/findings", "/console/map/data.json"):
        response = client.get(path)
        assert logged_out(response), path
    assert client.get("/").headers["location"] == "/console/login"


def test_idle_timeout_ends_the_session(demo: Demo, clock: Clock) -> None:
    client = login(demo.browser(), demo.admin_token)
    clock.now += 599
    assert client.get("/console/dashboard").status_code == 200  # activity restarts the clock
    clock.now += 599
    assert client.get("/console/dashboard").status_code == 200
    clock.now += 601
    ended = client.get("/console/dashboard")
    assert logged_out(ended) and "ended=1" in ended.headers["location"]
    clock.now -= 601  # ended for good: going back in time does not revive it
    assert logged_out(client.get("/console/dashboard"))


def test_absolute_expiry_ends_a_busy_session(demo: Demo, clock: Clock) -> None:
    client = login(demo.browser(), demo.admin_token)
    for _ in range(6):  # busy every 500 s, never idle, for 3000 s
        clock.now += 500
        assert client.get("/console/journal").status_code == 200
    clock.now += 600  # 3600 s after login
    assert logged_out(client.get("/console/journal"))


def test_revoking_the_users_tokens_ends_the_session(demo: Demo) -> None:
    user_id, token = fresh_user(demo)
    client = login(demo.browser(), token)
    assert client.get("/console/dashboard").status_code == 200
    demo.service.access.revoke_tokens(user_id)
    assert logged_out(client.get("/console/dashboard"))
    assert logged_out(client.get("/console/dashboard"))  # and it stays ended


def test_disabling_the_user_ends_the_session(demo: Demo) -> None:
    user_id, token = fresh_user(demo)
    client = login(demo.browser(), token)
    assert client.get("/console/dashboard").status_code == 200
    demo.service.registry.put_record("user", user_id, {
        "role": "enterprise", "org": "huabei-trade", "name": "Console tester",
        "status": "disabled",
    })  # fmt: skip
    assert logged_out(client.get("/console/dashboard"))


def test_logout_ends_the_session_for_the_cookie_too(demo: Demo) -> None:
    client = login(demo.browser(), demo.admin_token)
    session_id = client.cookies[COOKIE]
    page = client.get("/console/dashboard")
    assert client.post("/console/logout", data={"csrf": csrf_of(page.text)}).status_code == 303
    replay = demo.browser()
    replay.cookies.set(COOKIE, session_id)
    assert logged_out(replay.get("/console/dashboard"))


def test_state_changing_requests_need_the_sessions_csrf_token(demo: Demo) -> None:
    client = login(demo.browser(), demo.tokens["regulator-city"])
    other = login(demo.browser(), demo.tokens["regulator-city"])
    theirs = csrf_of(other.get("/console/dashboard").text)
    mine = csrf_of(client.get("/console/dashboard").text)
    assert mine != theirs
    form = {"ids": "f-" + "0" * 32, "status": "acknowledged", "comment": "checked"}
    for sent in ({}, {"csrf": ""}, {"csrf": theirs}, {"csrf": mine[:-1] + "0"}):
        refused = client.post("/console/findings/transition", data={**form, **sent})
        assert refused.status_code == 403, sent
        assert refused.headers["content-security-policy"] == CSP
    refused = client.post("/console/logout", data={"csrf": theirs})
    assert refused.status_code == 403
    assert client.get("/console/dashboard").status_code == 200  # not logged out
    accepted = client.post("/console/findings/transition", data={**form, "csrf": mine})
    assert accepted.status_code == 303  # past CSRF (that finding does not exist: failed=1)
    assert "failed=1" in accepted.headers["location"]


PAGES = [
    "/console/login", "/console/dashboard", "/console/search?q=chlorine", "/console/findings",
    "/console/findings?group=rule&status=all", "/console/map", "/console/emergency",
    "/console/journal", "/console/sites/tongzhou-depot",
    "/console/sites/tongzhou-depot?at=2026-10-01T12:00", "/console/orgs/tongzhou-store",
    "/console/items/no-such-item", "/console/sites/no-such-site", "/console/map/data.json",
]  # fmt: skip


def test_every_console_page_carries_the_strict_csp(demo: Demo) -> None:
    client = login(demo.browser(), demo.admin_token)
    for path in PAGES:
        response = client.get(path)
        assert response.status_code in (200, 404), (path, response.status_code)
        headers = response.headers
        assert headers["content-security-policy"] == CSP, path
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["referrer-policy"] == "no-referrer", path
    for directive in ("default-src 'self'", "script-src 'self'", "frame-ancestors 'none'",
                      "base-uri 'none'", "form-action 'self'", "style-src 'self'"):  # fmt: skip
        assert directive in CSP
    assert "unsafe" not in CSP


def test_pages_have_no_inline_script_or_style(demo: Demo) -> None:
    client = login(demo.browser(), demo.admin_token)
    for path in PAGES:
        html = client.get(path).text
        assert "<script>" not in html and " style=" not in html and "<style" not in html, path
        assert " on" + "click=" not in html, path


def test_an_enterprise_sees_only_its_own_in_the_ui(demo: Demo) -> None:
    client = login(demo.browser(), demo.tokens["huabei-trade-ops"])
    own = client.get("/console/orgs/huabei-trade")
    assert own.status_code == 200
    for path in ("/console/orgs/tongzhou-store", "/console/sites/tongzhou-depot",
                 "/console/sites/fangshan-plant"):  # fmt: skip
        assert client.get(path).status_code == 404, path  # like a missing one
    sites = {s["org"] for s in client.get("/console/map/data.json").json()["sites"]}
    assert sites == {"huabei-trade"}
    assert client.get("/console/journal").status_code == 403  # the API's OVERSIGHT only
    admin = login(demo.browser(), demo.admin_token)
    everything = {s["org"] for s in admin.get("/console/map/data.json").json()["sites"]}
    assert len(everything) > 1
    found = client.get("/console/search?q=tongzhou")
    assert "tongzhou-depot" not in found.text


def test_a_district_regulator_sees_its_district(demo: Demo) -> None:
    client = login(demo.browser(), demo.tokens["regulator-tongzhou"])
    assert client.get("/console/sites/tongzhou-depot").status_code == 200
    assert client.get("/console/sites/fangshan-plant").status_code == 404
    data = client.get("/console/map/data.json").json()
    assert {s["site"] for s in data["sites"]} == {"tongzhou-depot"}


def test_a_responder_reads_no_custody_chain(demo: Demo) -> None:
    _, token = fresh_user(demo, role="responder", org=None)
    client = login(demo.browser(), token)
    admin = login(demo.browser(), demo.admin_token)
    site = admin.get("/console/sites/tongzhou-depot").text
    code = site.split('href="/console/items/')[1].split('"')[0]
    assert client.get(f"/console/items/{code}").status_code == 403
    assert client.get("/console/findings").status_code == 403
    assert client.get("/console/emergency").status_code == 200
