"""Webhooks over real HTTP: a real server pushes findings to a real local receiver.

The receiver is a tiny threaded ``http.server`` on 127.0.0.1 (a random port) that records
every request and answers with a scripted status. Findings are written straight into the
server's database, as the anomaly engine would (the engine itself is off); the server's
dispatcher (every 0.1 s here, first retry after 0.2 s) signs and sends them. Signatures are
checked against the log key the server publishes at ``GET /v1/log/key``. Webhooks reach only
public addresses by default, so the server allows 127.0.0.1/32, where the receivers listen
(the refusals themselves are tested in ``tests/security/test_ssrf.py``).
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from api.webhooks import MAX_ATTEMPTS, WebhookDispatcher, verify_webhook
from ledger.note import parse_vkey
from ledger.rules import Finding, Severity
from ledger.rules.grouping import group_of
from ledger.signing import Ed25519Signer
from ledger.store.engine import make_engine
from ledger.store.findings import FindingStore, StoredFinding
from ledger.store.migrate import upgrade
from tests.api.live import BACKENDS, LiveServer, shared_server, wait_for
from tests.api.test_findings_api import role_tokens
from tests.api.test_findings_api import seed as seed_findings

PROBLEM_JSON = "application/problem+json"
FORBIDDEN, INVALID = "webhook_url_forbidden", "invalid_request"
FAST = {
    "CHEMTRACE_FINDINGS": "false",  # only the seeded findings exist
    "CHEMTRACE_WEBHOOK_INTERVAL_S": "0.1",
    "CHEMTRACE_WEBHOOK_BACKOFF_S": "0.2",
    "CHEMTRACE_WEBHOOK_ALLOW_NETWORKS": "127.0.0.1/32",
}


# -- the receiver -------------------------------------------------------------------------------


@dataclass
class Received:
    at: float
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def delivery(self) -> str:
        return self.headers.get("chemtrace-delivery", "")

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A real HTTP endpoint; ``script`` is the statuses of its first answers (then 200)."""

    script: list[int] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        answers, requests, lock = deque(self.script), self.requests, threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with lock:
                    status = answers.popleft() if answers else 200
                    requests.append(Received(time.monotonic(), self.path,
                                             {k.lower(): v for k, v in self.headers.items()},
                                             body))  # fmt: skip
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/hooks/chemtrace"

    def of(self, delivery: str) -> list[Received]:
        return [r for r in list(self.requests) if r.delivery == delivery]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def receiver() -> Iterator[Callable[..., Receiver]]:
    made: list[Receiver] = []

    def make(*script: int) -> Receiver:
        made.append(Receiver(list(script)))
        return made[-1]

    yield make
    for each in made:
        each.close()


# -- the server ---------------------------------------------------------------------------------


@dataclass
class Setup:
    server: LiveServer
    http: httpx.Client
    tokens: dict[str, str | None]
    vkey: str
    hooks: list[tuple[str, str]] = field(default_factory=list)

    def call(self, role: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        token = self.tokens[role]
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        return self.http.request(method, path, headers=headers, **kwargs)

    def subscribe(self, role: str, url: str, **fields: Any) -> dict[str, Any]:
        response = self.call(role, "POST", "/v1/webhooks", json={"url": url, **fields})
        assert response.status_code == 201, response.text
        hook: dict[str, Any] = response.json()
        self.hooks.append((role, hook["id"]))
        return hook

    def unsubscribe_all(self) -> None:
        while self.hooks:
            role, hook_id = self.hooks.pop()
            self.call(role, "DELETE", f"/v1/webhooks/{hook_id}")

    def seed(self, *findings: Finding) -> None:
        assert len(seed_findings(self.server, *findings)) == len(findings)

    def detail(self, finding_id: str) -> dict[str, Any]:
        response = self.call("admin", "GET", f"/v1/findings/{finding_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture(scope="module", params=BACKENDS)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Setup]:
    home = tmp_path_factory.mktemp("webhooks")
    with (
        shared_server(request, home, request.param, **FAST) as (server, world),
        httpx.Client(base_url=server.base_url, timeout=30) as http,
    ):
        vkey = http.get("/v1/log/key").text.strip()
        yield Setup(server, http, role_tokens(server, world), vkey)


@pytest.fixture
def setup(live: Setup) -> Iterator[Setup]:
    yield live
    live.unsubscribe_all()  # a later test's findings go to no earlier test's receiver


def finding(severity: Severity, district: str = "d1", org: str = "p-chem") -> Finding:
    return Finding(rule="clone.unissued_code", key=uuid.uuid4().hex, severity=severity,
                   at="2026-10-02T08:00:00Z", message=f"a {severity} finding",
                   evidence=("sha256:" + "cd" * 32,), org=org, site=f"{org}-site",
                   district=district, chemical="1")  # fmt: skip


def _check_signed(request: Received, vkey: str) -> None:
    """The signature verifies, with the helper and independently of it."""
    assert verify_webhook(request.headers, request.body, vkey)
    fields = dict(part.split("=", 1) for part in request.headers["chemtrace-signature"].split(","))
    assert set(fields) == {"t", "key_id", "ed25519"}
    verifier = parse_vkey(vkey)
    assert fields["key_id"] == verifier.key_id.hex()
    assert abs(int(fields["t"]) - time.time()) < 60
    message = b"chemtrace-webhook-v1\n" + fields["t"].encode() + b"\n" + request.body
    Ed25519PublicKey.from_public_bytes(verifier.public_key).verify(
        base64.b64decode(fields["ed25519"]), message
    )


def _quiet(seconds: float = 1.0) -> None:
    """Let the dispatcher run several more rounds (to catch a duplicate or a late push)."""
    time.sleep(seconds)


# -- tests --------------------------------------------------------------------------------------


def test_a_critical_finding_is_pushed_once_signed_by_the_log_key(
    setup: Setup, receiver: Callable[..., Receiver]
) -> None:
    inbox = receiver()
    hook = setup.subscribe("admin", inbox.url)
    assert hook["min_severity"] == "critical" and hook["districts"] is None
    assert hook["signature"] == {"algorithm": "ed25519",
                                 "key_id": parse_vkey(setup.vkey).key_id.hex(),
                                 "vkey": setup.vkey}  # fmt: skip
    made = finding("critical")
    setup.seed(made)
    delivery = f"{hook['id']}/{made.id}"
    (got,) = wait_for(lambda: inbox.of(delivery), timeout=10)
    assert got.path == "/hooks/chemtrace"
    assert got.headers["content-type"] == "application/json"
    _check_signed(got, setup.vkey)
    detail = setup.detail(made.id)
    # the pushed body describes the finding exactly as the API does (catalog names too)
    assert got.json() == {"finding": detail["finding"],
                          "delivery": {"webhook": hook["id"], "attempt": 1}}  # fmt: skip
    # a receiver's checks fail on a changed body, another key, or a replay
    assert not verify_webhook(got.headers, got.body.replace(b"critical", b"low"), setup.vkey)
    assert not verify_webhook(got.headers, got.body, Ed25519Signer.generate().public_key)
    assert not verify_webhook(got.headers, got.body, setup.vkey, now=time.time() + 3600)
    _quiet()
    assert len(inbox.of(delivery)) == 1  # exactly once
    (record,) = setup.detail(made.id)["deliveries"]
    assert record["webhook_id"] == hook["id"]
    assert (record["state"], record["attempts"], record["last_error"]) == ("delivered", 1, None)


def late_sync(day: int, site: str) -> Finding:
    """The ``day``-th late sync at ``site``: each one more occurrence of one finding."""
    return Finding(rule="device.late_sync", key=f"sha256:{uuid.uuid4().hex:0>64}",
                   severity="critical", at=f"2026-10-{day:02d}T08:00:00Z",
                   message=f"late sync {day}", evidence=("sha256:" + "cd" * 32,),
                   org="p-chem", site=site, district="d1", chemical="1")  # fmt: skip


def test_a_finding_is_pushed_when_made_and_when_reopened_not_per_occurrence(
    setup: Setup, receiver: Callable[..., Receiver]
) -> None:
    inbox = receiver()
    hook = setup.subscribe("admin", inbox.url)
    site = f"site-{uuid.uuid4().hex[:8]}"
    setup.seed(late_sync(1, site))
    gid = group_of(late_sync(1, site))
    delivery = f"{hook['id']}/{gid}"
    (first,) = wait_for(lambda: inbox.of(delivery), timeout=10)
    assert first.json()["finding"]["count"] == 1
    setup.seed(late_sync(2, site), late_sync(3, site))  # counted, not pushed
    _quiet()
    assert len(inbox.requests) == 1 and setup.detail(gid)["finding"]["count"] == 3
    moved = setup.call("admin", "POST", f"/v1/findings/{gid}:transition",
                       json={"status": "resolved", "comment": "handheld replaced"})  # fmt: skip
    assert moved.status_code == 200, moved.text
    setup.seed(late_sync(4, site))
    (again,) = wait_for(lambda: inbox.of(f"{delivery}/2"), timeout=10)
    _check_signed(again, setup.vkey)
    body = again.json()["finding"]
    assert (body["status"], body["count"], body["openings"]) == ("open", 4, 2)
    detail = setup.detail(gid)
    assert [t["user_id"] for t in detail["transitions"]] == ["admin", "engine"]
    assert detail["occurrences_total"] == 4 and len(detail["occurrences"]) == 4


def test_a_failing_receiver_is_retried_with_backoff_and_delivered_once(
    setup: Setup, receiver: Callable[..., Receiver]
) -> None:
    inbox = receiver(500, 500)  # then 200
    hook = setup.subscribe("admin", inbox.url)
    made = finding("critical")
    setup.seed(made)
    delivery = f"{hook['id']}/{made.id}"
    tries = wait_for(lambda: (found := inbox.of(delivery)) and len(found) >= 3 and found)
    assert [t.json()["delivery"]["attempt"] for t in tries] == [1, 2, 3]
    for each in tries:
        _check_signed(each, setup.vkey)
        assert each.json()["finding"]["id"] == made.id
    # backoff: 0.2 s, then 0.4 s (plus the dispatcher's polling)
    assert tries[1].at - tries[0].at >= 0.19
    assert tries[2].at - tries[1].at >= 0.39
    _quiet()
    assert len(inbox.of(delivery)) == 3
    (record,) = setup.detail(made.id)["deliveries"]
    assert (record["state"], record["attempts"]) == ("delivered", 3)
    assert record["last_error"] == "HTTP 500"  # the last failure is kept


@pytest.mark.parametrize(
    ("threshold", "pushed", "held"),
    [("critical", ["critical"], ["low", "high"]), ("high", ["high", "critical"], ["medium"])],
)
def test_findings_below_the_hooks_severity_are_not_pushed(
    setup: Setup,
    receiver: Callable[..., Receiver],
    threshold: str,
    pushed: list[Severity],
    held: list[Severity],
) -> None:
    inbox = receiver()
    hook = setup.subscribe("admin", inbox.url, min_severity=threshold)
    made = {severity: finding(severity) for severity in [*held, *pushed]}
    setup.seed(*made.values())
    for severity in pushed:
        wait_for(lambda s=severity: inbox.of(f"{hook['id']}/{made[s].id}"))
    _quiet(0.5)
    for severity in held:
        assert inbox.of(f"{hook['id']}/{made[severity].id}") == []
        assert setup.detail(made[severity].id)["deliveries"] == []
    assert len(inbox.requests) == len(pushed)


def test_a_finding_outside_the_regulators_districts_is_not_pushed(
    setup: Setup, receiver: Callable[..., Receiver]
) -> None:
    inbox = receiver()
    hook = setup.subscribe("reg_d1", inbox.url, min_severity="low")
    assert hook["districts"] == ["d1"] and hook["user_id"] == "reg-d1"
    outside = finding("critical", district="d2", org="u-lab")
    inside = finding("low", district="d1", org="t-trade")
    setup.seed(outside, inside)
    (got,) = wait_for(lambda: inbox.of(f"{hook['id']}/{inside.id}"))
    _check_signed(got, setup.vkey)
    _quiet(0.5)
    assert [r.delivery for r in inbox.requests] == [f"{hook['id']}/{inside.id}"]
    assert setup.detail(outside.id)["deliveries"] == []
    # the regulator sees its own hook's deliveries on findings of its districts
    reg = setup.call("reg_d1", "GET", f"/v1/findings/{inside.id}").json()
    assert [d["webhook_id"] for d in reg["deliveries"]] == [hook["id"]]


def test_subscriptions_are_listed_to_their_owner_and_end_when_deleted(
    setup: Setup, receiver: Callable[..., Receiver]
) -> None:
    inbox = receiver()
    mine = setup.subscribe("reg_d1", inbox.url)
    theirs = setup.subscribe("reg_d2", inbox.url + "/d2", min_severity="high")
    listed = {role: setup.call(role, "GET", "/v1/webhooks") for role in ("admin", "reg_d1")}
    assert {h["id"] for h in listed["reg_d1"].json()} == {mine["id"]}
    assert {mine["id"], theirs["id"]} <= {h["id"] for h in listed["admin"].json()}
    # another regulator cannot end it; its owner can
    refused = setup.call("reg_d2", "DELETE", f"/v1/webhooks/{mine['id']}")
    assert (refused.status_code, refused.json()["code"]) == (404, "webhook_not_found")
    ended = setup.call("reg_d1", "DELETE", f"/v1/webhooks/{mine['id']}")
    assert ended.status_code == 204 and ended.content == b""
    again = setup.call("reg_d1", "DELETE", f"/v1/webhooks/{mine['id']}")
    assert again.status_code == 404
    assert setup.call("reg_d1", "GET", "/v1/webhooks").json() == []
    made = finding("critical")
    setup.seed(made)
    _quiet(0.5)
    assert inbox.of(f"{mine['id']}/{made.id}") == []
    assert setup.detail(made.id)["deliveries"] == []


@pytest.mark.parametrize("role", ["p_chem", "inspector"])
def test_enterprises_and_inspectors_cannot_subscribe(setup: Setup, role: str) -> None:
    for method, path in (("POST", "/v1/webhooks"), ("GET", "/v1/webhooks"),
                         ("DELETE", "/v1/webhooks/wh-" + "0" * 24)):  # fmt: skip
        response = setup.call(role, method, path, json={"url": "http://127.0.0.1:9/x"})
        assert (response.status_code, response.json()["code"]) == (403, "forbidden")
    anon = setup.call("anon", "POST", "/v1/webhooks", json={"url": "http://127.0.0.1:9/x"})
    assert anon.status_code == 401


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"url": "ftp://127.0.0.1/x"}, "url", FORBIDDEN),
        ({"url": "http://127.0.0.2/x"}, "url", FORBIDDEN),  # outside the allow-list
        ({"url": "http:///no-host"}, "url", INVALID),
        ({"url": "http://[::1/x"}, "url", INVALID),
        ({"url": "http://127.0.0.1:99999/x"}, "url", INVALID),
        ({"url": "http://127.0.0.1/\x00"}, "url", INVALID),
        ({"url": "http://127.0.0.1/x", "min_severity": "urgent"}, "min_severity", INVALID),
        ({"url": "http://127.0.0.1/x", "secret": "s"}, "secret", INVALID),
    ],
)
def test_a_bad_subscription_is_refused(
    setup: Setup, body: dict[str, Any], field: str, code: str
) -> None:
    response = setup.call("admin", "POST", "/v1/webhooks", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert (response.json()["field"], response.json()["code"]) == (field, code)


# -- the dispatcher alone: the retry schedule and giving up, on a simulated clock ---------------


def test_the_dispatcher_backs_off_exponentially_then_gives_up(
    tmp_path: Path, receiver: Callable[..., Receiver]
) -> None:
    url = f"sqlite:///{tmp_path}/findings.db"
    upgrade(url)
    engine = make_engine(url)
    now = [datetime(2026, 10, 1, 8, 0, tzinfo=UTC)]
    store = FindingStore(engine, clock=lambda: now[0])
    inbox = receiver(*[503] * 20)
    store.add_webhook("wh-test", "admin", inbox.url, "critical", districts=None, org=None)
    made = finding("critical")
    store.save([made])
    signer = Ed25519Signer.generate()
    dispatcher = WebhookDispatcher(store, signer, "test.example/log", clock=lambda: now[0],
                                   describe=StoredFinding.to_json,
                                   allow_networks=["127.0.0.1/32"])  # fmt: skip
    waits = []
    try:
        for _ in range(MAX_ATTEMPTS):
            assert dispatcher.step() == 0
            (row,) = store.deliveries(made.id)
            if row["attempts"] == MAX_ATTEMPTS:
                break
            due = datetime.fromisoformat(row["next_attempt_at"].replace("Z", "+00:00"))
            waits.append((due - now[0]).total_seconds())
            now[0] = due - timedelta(microseconds=1)
            assert store.due_deliveries() == []  # not a moment early
            now[0] = due
        assert waits == [min(2.0**n, 600.0) for n in range(MAX_ATTEMPTS - 1)]
        (row,) = store.deliveries(made.id)
        assert (row["attempts"], row["delivered_at"], row["last_error"]) == (12, None, "HTTP 503")
        now[0] += timedelta(days=365)
        assert store.due_deliveries() == []  # given up for good
        assert dispatcher.step() == 0
        assert len(inbox.requests) == MAX_ATTEMPTS
        vkey = parse_vkey(f"test.example/log+{dispatcher.key_id}+"
                          + base64.b64encode(b"\x01" + signer.public_key).decode())  # fmt: skip
        assert verify_webhook(inbox.requests[0].headers, inbox.requests[0].body, vkey.vkey(),
                              now=now[0].timestamp(), max_age_s=None)  # fmt: skip
    finally:
        engine.dispose()
