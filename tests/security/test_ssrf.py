"""Webhooks cannot be turned inward (SSRF): refused when subscribed, re-checked when sent.

Three layers, and no packet ever leaves 127.0.0.0/8:

* the subscription API of a real ``chemtrace serve`` process, which resolves with the
  system resolver, so only literal addresses and ``localhost`` (answered by /etc/hosts) are
  subscribed there, once without an allow-list and once allowing 127.0.0.1/32;
* the subscription API in-process, with a fake resolver injected through the route's
  ``webhook_resolver`` dependency: names that resolve inward, or to public and private;
* the dispatcher, with a fake resolver and a spy transport standing where the connection
  would be made, so a refusal is shown to happen before any connection. Public addresses
  are only ever handed to the spy; real sockets are used on loopback only, to show that the
  dispatcher connects to the address it checked and follows no redirect.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi import FastAPI
from pydantic import ValidationError

from api.app import create_app
from api.routes import findings as findings_routes
from api.services.root import Service
from api.settings import Settings
from api.webhooks import WebhookDispatcher
from ledger.rules import Finding
from ledger.signing import Ed25519Signer
from ledger.store.engine import make_engine
from ledger.store.findings import FindingStore, StoredFinding
from ledger.store.migrate import upgrade
from tests.api.live import LiveServer, wait_for

PROBLEM_JSON = "application/problem+json"
PUBLIC = "93.184.215.14"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"

INWARD = {
    "loopback": "127.0.0.1",
    "loopback-8": "127.9.8.7",
    "loopback-v6": "::1",
    "unspecified": "0.0.0.0",  # noqa: S104 - a target to refuse, never bound
    "unspecified-v6": "::",
    "link-local": "169.254.7.7",
    "metadata": "169.254.169.254",
    "link-local-v6": "fe80::1",
    "rfc1918-10": "10.0.0.1",
    "rfc1918-172": "172.16.0.1",
    "rfc1918-172-top": "172.31.255.254",
    "rfc1918-192": "192.168.1.1",
    "cgnat": "100.64.0.1",
    "cgnat-top": "100.127.255.254",
    "ula-fc": "fc00::1",
    "ula-fd": "fd12:3456::1",
    "mapped-loopback": "::ffff:127.0.0.1",
    "mapped-metadata": "::ffff:169.254.169.254",
    "mapped-private": "::ffff:10.0.0.1",
    "ipv4-compatible": "::127.0.0.1",
    "nat64-loopback": "64:ff9b::7f00:1",
    "6to4-loopback": "2002:7f00:1::1",
    "site-local-v6": "fec0::1",
    "multicast": "224.0.0.1",
    "multicast-v6": "ff02::1",
    "multicast-v6-global": "ff0e::1",
    "broadcast": "255.255.255.255",
    "reserved": "240.0.0.1",
    "documentation": "192.0.2.10",
    "documentation-v6": "2001:db8::1",
    "benchmarking": "198.18.0.1",
}
CLASSES = pytest.mark.parametrize("address", list(INWARD.values()), ids=list(INWARD))
NUMERIC_LOOPBACK = ["2130706433", "0x7f.1", "127.1", "017700000001", "0"]
"""Spellings of 127.0.0.1 and 0.0.0.0 that ``inet_aton`` (and so ``getaddrinfo``) accepts."""
SCHEMES = ["file:///etc/passwd", "gopher://127.0.0.1:70/_stats", "ftp://localhost/x",
           "dict://localhost:11211/stat", "ws://localhost/x", "javascript:alert(1)"]  # fmt: skip
USERINFO = ["http://user:secret@localhost/x", "http://user@localhost/x",
            "http://@localhost/x", "http://localhost@127.0.0.1/x"]  # fmt: skip


def url_of(address: str, port: int | None = None, path: str = "/hook", scheme: str = "http") -> str:
    host = f"[{address}]" if ":" in address else address
    return f"{scheme}://{host}{'' if port is None else f':{port}'}{path}"


def finding() -> Finding:
    return Finding(rule="clone.unissued_code", key=uuid.uuid4().hex, severity="critical",
                   at="2026-10-02T08:00:00Z", message="a critical finding",
                   evidence=("sha256:" + "cd" * 32,), org="p-chem", site="p-chem-site",
                   district="d1", chemical="1")  # fmt: skip


# -- seams: a fake resolver, a spy transport, real loopback receivers -----------------------------


@dataclass
class FakeDNS:
    """The resolver seam: scripted answers per host, each used once but the last (which
    repeats); an unknown host does not resolve. Never touches the network."""

    table: dict[str, list[list[str]]] = field(default_factory=dict)
    calls: list[tuple[str, int]] = field(default_factory=list)

    def answer(self, host: str, *answers: list[str]) -> FakeDNS:
        self.table[host] = list(answers)
        return self

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        answers = self.table.get(host)
        if not answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return answers.pop(0) if len(answers) > 1 else answers[0]


@dataclass
class Spy:
    """Stands where the dispatcher would connect: records what reaches it, sends nothing."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def transport(self) -> httpx.BaseTransport:
        return httpx.MockTransport(self._answer)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, headers=self.headers)


class Inbox:
    """A real HTTP endpoint on a loopback address, answering ``status`` (with ``location``);
    with ``tls``, HTTPS, recording the server name each client asked for in ``sni``."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        status: int = 200,
        location: str = "",
        tls: ssl.SSLContext | None = None,
    ) -> None:
        requests: list[tuple[str, dict[str, str]]] = []
        self.requests = requests
        self.sni: list[str | None] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:  # a followed 303 would arrive as a GET
                self.do_POST()

            def log_message(self, *_: Any) -> None:
                pass

        self.host = host
        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.port = int(self.httpd.server_address[1])
        if tls is not None:
            tls.sni_callback = lambda _socket, name, _context: self.sni.append(name)
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return url_of(self.host, self.port, path)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def inbox() -> Iterator[Callable[..., Inbox]]:
    made: list[Inbox] = []

    def make(
        host: str = "127.0.0.1",
        status: int = 200,
        location: str = "",
        tls: ssl.SSLContext | None = None,
    ) -> Inbox:
        made.append(Inbox(host, status, location, tls))
        return made[-1]

    yield make
    for each in made:
        each.close()


# -- the dispatcher -----------------------------------------------------------------------------


@dataclass
class Outbox:
    """A findings store with one hook at a time, and one dispatcher round per delivery."""

    store: FindingStore
    signer: Ed25519Signer = field(default_factory=Ed25519Signer.generate)

    def deliver(
        self,
        url: str,
        resolver: FakeDNS,
        *,
        allow: tuple[str, ...] = (),
        transport: Callable[[], httpx.BaseTransport] | None = None,
    ) -> dict[str, Any]:
        hook_id = f"wh-{uuid.uuid4().hex[:24]}"
        self.store.add_webhook(hook_id, "admin", url, "critical", districts=None, org=None)
        try:
            return self.send(resolver, hook_id, allow=allow, transport=transport)
        finally:
            self.store.disable_webhook(hook_id, None)

    def send(
        self,
        resolver: FakeDNS,
        hook_id: str,
        *,
        allow: tuple[str, ...] = (),
        transport: Callable[[], httpx.BaseTransport] | None = None,
    ) -> dict[str, Any]:
        """A new finding, one round of the dispatcher: the delivery row of ``hook_id``."""
        made = finding()
        self.store.save([made])
        extra: dict[str, Any] = {} if transport is None else {"transport": transport}
        dispatcher = WebhookDispatcher(self.store, self.signer, "test.example/log",
                                       describe=StoredFinding.to_json, resolver=resolver,
                                       allow_networks=allow, timeout_s=5.0, **extra)  # fmt: skip
        dispatcher.step()
        (row,) = [row for row in self.store.deliveries(made.id) if row["webhook_id"] == hook_id]
        return row


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    url = f"sqlite:///{tmp_path}/findings.db"
    upgrade(url)
    engine = make_engine(url)
    try:
        yield Outbox(FindingStore(engine))
    finally:
        engine.dispose()


def assert_refused(row: dict[str, Any], spy: Spy, reason: str) -> None:
    assert row["delivered_at"] is None
    assert row["last_error"] is not None and row["last_error"].startswith(f"refused ({reason})")
    assert spy.requests == []  # refused before any connection


@CLASSES
def test_delivery_to_an_inward_address_is_refused_before_any_connection(
    outbox: Outbox, address: str
) -> None:
    dns, spy = FakeDNS(), Spy()
    row = outbox.deliver(url_of(address), dns, transport=spy.transport)
    assert_refused(row, spy, "private_address")
    assert dns.calls == []  # a literal is not resolved


@pytest.mark.parametrize("host", NUMERIC_LOOPBACK)
def test_delivery_to_a_numeric_spelling_of_loopback_is_refused(outbox: Outbox, host: str) -> None:
    dns, spy = FakeDNS(), Spy()
    assert_refused(outbox.deliver(f"http://{host}/x", dns, transport=spy.transport), spy,
                   "private_address")  # fmt: skip


@CLASSES
def test_delivery_to_a_name_that_resolves_inward_is_refused(outbox: Outbox, address: str) -> None:
    dns, spy = FakeDNS().answer("hooks.example", [address]), Spy()
    row = outbox.deliver("https://hooks.example/hook", dns, transport=spy.transport)
    assert_refused(row, spy, "private_name")
    assert dns.calls == [("hooks.example", 443)]
    assert address not in row["last_error"]  # which internal address a name has stays internal


@pytest.mark.parametrize(
    "addresses",
    [[PUBLIC, "10.0.0.1"], ["127.0.0.1", PUBLIC], [PUBLIC_V6, "fd00::1"], [PUBLIC, "::1"],
     [PUBLIC, PUBLIC_V6, "169.254.169.254"]],
    ids=["public-then-private", "loopback-then-public", "v6-public-then-ula",
         "v4-public-then-v6-loopback", "public-pair-then-metadata"],
)  # fmt: skip
def test_delivery_to_a_name_with_public_and_private_addresses_is_refused(
    outbox: Outbox, addresses: list[str]
) -> None:
    dns, spy = FakeDNS().answer("mixed.example", addresses), Spy()
    assert_refused(outbox.deliver("http://mixed.example/hook", dns, transport=spy.transport),
                   spy, "private_name")  # fmt: skip


@pytest.mark.parametrize("url", [*SCHEMES, *USERINFO, "http://user:pw@hooks.example/x"])
def test_a_stored_url_with_a_bad_scheme_or_userinfo_is_never_sent(outbox: Outbox, url: str) -> None:
    """Hooks stored before subscriptions were checked are re-checked at every delivery."""
    dns, spy = FakeDNS().answer("hooks.example", [PUBLIC]), Spy()
    row = outbox.deliver(url, dns, transport=spy.transport)
    assert row["delivered_at"] is None and spy.requests == [] and dns.calls == []
    assert row["last_error"].startswith(("refused (scheme)", "refused (userinfo)"))


def test_a_public_destination_is_pinned_to_the_address_that_was_checked(outbox: Outbox) -> None:
    dns, spy = FakeDNS().answer("hooks.example", [PUBLIC, PUBLIC_V6]), Spy()
    row = outbox.deliver("https://hooks.example:8443/in?x=1", dns, transport=spy.transport)
    assert row["delivered_at"] is not None and row["last_error"] is None
    assert dns.calls == [("hooks.example", 8443)]  # resolved once, by the check
    (sent,) = spy.requests
    assert (sent.url.scheme, sent.url.host, sent.url.port) == ("https", PUBLIC, 8443)
    assert sent.url.raw_path == b"/in?x=1"
    assert sent.headers["host"] == "hooks.example:8443"
    assert sent.extensions["sni_hostname"] == "hooks.example"  # the certificate is checked for it
    assert sent.headers["chemtrace-delivery"].startswith("wh-")


def test_an_unresolvable_name_fails_the_delivery_without_a_connection(outbox: Outbox) -> None:
    dns, spy = FakeDNS(), Spy()
    row = outbox.deliver("http://gone.example/hook", dns, transport=spy.transport)
    assert_refused(row, spy, "unresolvable")
    assert row["next_attempt_at"] is not None  # retried later: names come back


def test_the_connection_goes_to_the_checked_address_over_real_sockets(
    outbox: Outbox, inbox: Callable[..., Inbox]
) -> None:
    """The fake resolver says ``localhost`` is 127.0.0.3, where the only receiver listens;
    the system would say 127.0.0.1 or ::1, where nothing listens on that port."""
    pinned = inbox("127.0.0.3")
    dns = FakeDNS().answer("localhost", ["127.0.0.3"])
    row = outbox.deliver(f"http://localhost:{pinned.port}/pinned", dns, allow=("127.0.0.0/8",))
    assert (row["delivered_at"] is not None, row["last_error"]) == (True, None)
    ((path, headers),) = pinned.requests
    assert path == "/pinned" and headers["host"] == f"localhost:{pinned.port}"


def _certificate(directory: Path, name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A self-signed certificate for ``name``: the server's context, and a client's that
    trusts it (and nothing else)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    (directory / "cert.pem").write_bytes(pem)
    (directory / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))  # fmt: skip
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    return server, ssl.create_default_context(cadata=pem.decode("ascii"))


def test_https_is_pinned_and_the_certificate_still_checked_for_the_name(
    outbox: Outbox, inbox: Callable[..., Inbox], tmp_path: Path
) -> None:
    """Connecting to the checked address keeps TLS honest: the server name sent (SNI) and
    the name the certificate must match are the URL's host, not the address."""
    server_tls, trusting = _certificate(tmp_path, "hooks.test")
    receiver = inbox("127.0.0.3", tls=server_tls)
    dns = FakeDNS().answer("hooks.test", ["127.0.0.3"]).answer("other.test", ["127.0.0.3"])

    def transport() -> httpx.BaseTransport:
        return httpx.HTTPTransport(
            verify=trusting, limits=httpx.Limits(max_keepalive_connections=0)
        )

    allow = ("127.0.0.0/8",)
    url = f"https://hooks.test:{receiver.port}/tls"
    row = outbox.deliver(url, dns, allow=allow, transport=transport)
    assert (row["delivered_at"] is not None, row["last_error"]) == (True, None)
    ((path, headers),) = receiver.requests
    assert (path, headers["host"], receiver.sni) == ("/tls", f"hooks.test:{receiver.port}",
                                                      ["hooks.test"])  # fmt: skip
    # the same address under another name: the certificate does not match, nothing is sent
    other = f"https://other.test:{receiver.port}/tls"
    row = outbox.deliver(other, dns, allow=allow, transport=transport)
    assert row["delivered_at"] is None and "certificate" in row["last_error"].lower()
    assert len(receiver.requests) == 1 and receiver.sni[-1] == "other.test"


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirects_are_not_followed(
    outbox: Outbox, inbox: Callable[..., Inbox], status: int
) -> None:
    target = inbox()  # allowed, so only the refusal to follow keeps the request away from it
    redirector = inbox(status=status, location=target.url("/moved"))
    row = outbox.deliver(redirector.url(), FakeDNS(), allow=("127.0.0.1/32",))
    assert row["delivered_at"] is None and row["last_error"].startswith(f"HTTP {status}")
    assert len(redirector.requests) == 1 and target.requests == []
    spy = Spy(status=status, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    dns = FakeDNS().answer("hooks.example", [PUBLIC])
    row = outbox.deliver("http://hooks.example/hook", dns, transport=spy.transport)
    assert row["delivered_at"] is None and [r.url.host for r in spy.requests] == [PUBLIC]


def test_the_allow_list_admits_a_private_range_only_when_configured(outbox: Outbox) -> None:
    dns = FakeDNS().answer("build.internal", ["10.20.30.40"])
    spy = Spy()
    assert_refused(outbox.deliver("http://build.internal/hook", dns, transport=spy.transport),
                   spy, "private_name")  # fmt: skip
    row = outbox.deliver("http://build.internal/hook", dns, allow=("10.0.0.0/8",),
                         transport=spy.transport)  # fmt: skip
    assert row["delivered_at"] is not None
    assert [(r.url.host, r.headers["host"]) for r in spy.requests] == [
        ("10.20.30.40", "build.internal")
    ]
    spy.requests.clear()
    admitted = {"10.0.0.0/8": ["::ffff:10.1.1.1"], "127.0.0.0/8": ["127.0.0.1"],
                "fd00::/8": ["fd00::5"]}  # fmt: skip
    for network, addresses in admitted.items():
        for address in addresses:
            row = outbox.deliver(url_of(address), dns, allow=(network,), transport=spy.transport)
            assert row["delivered_at"] is not None, (network, address, row["last_error"])
    assert len(spy.requests) == 3
    spy.requests.clear()
    outside = {"10.0.0.0/8": ["192.168.1.1", "169.254.169.254", "::1"],
               "127.0.0.1/32": ["127.0.0.2", "::1"],
               "0.0.0.0/0": ["0.0.0.0", "224.0.0.1", "255.255.255.255"]}  # noqa: S104  # fmt: skip
    for network, addresses in outside.items():
        for address in addresses:
            row = outbox.deliver(url_of(address), dns, allow=(network,), transport=spy.transport)
            assert row["delivered_at"] is None, (network, address)
    assert spy.requests == []


# -- the subscription API of a real server process ----------------------------------------------


@dataclass
class Api:
    server: LiveServer
    http: httpx.Client

    def subscribe(self, url: str, *, keep: bool = False) -> httpx.Response:
        """Subscribe as the admin; a hook made is unsubscribed again at once unless ``keep``,
        so no finding a test seeds can ever go to it."""
        response = self.http.post("/v1/webhooks", json={"url": url})
        if response.status_code == 201 and not keep:
            assert self.http.delete(f"/v1/webhooks/{response.json()['id']}").status_code == 204
        return response

    def hooks(self) -> list[str]:
        return [hook["url"] for hook in self.http.get("/v1/webhooks").json()]


@contextlib.contextmanager
def _api(home: Path, **env: str) -> Iterator[Api]:
    server = LiveServer(home, f"sqlite:///{home}/var/chemtrace.db", CHEMTRACE_FINDINGS="false",
                        CHEMTRACE_WEBHOOK_INTERVAL_S="0.1", CHEMTRACE_WEBHOOK_BACKOFF_S="0.2",
                        **env)  # fmt: skip
    try:
        server.start()
        headers = {"Authorization": f"Bearer {server.admin_token}"}
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as http:
            yield Api(server, http)
    finally:
        server.close()


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """A server with the default policy: public addresses only."""
    with _api(tmp_path_factory.mktemp("ssrf-strict"), CHEMTRACE_WEBHOOK_ALLOW_NETWORKS="") as api:
        yield api


@pytest.fixture(scope="module")
def allowing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """A server whose operator allows 127.0.0.1/32 (and nothing else private)."""
    home = tmp_path_factory.mktemp("ssrf-allowing")
    with _api(home, CHEMTRACE_WEBHOOK_ALLOW_NETWORKS="127.0.0.1/32") as api:
        yield api


def assert_forbidden(response: httpx.Response, reason: str) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    assert (body["code"], body["field"], body["reason"]) == ("webhook_url_forbidden", "url", reason)
    return body


@CLASSES
def test_subscribing_an_inward_address_is_refused(strict: Api, address: str) -> None:
    assert_forbidden(strict.subscribe(url_of(address, 8080)), "private_address")


@pytest.mark.parametrize("host", NUMERIC_LOOPBACK)
def test_subscribing_a_numeric_spelling_of_loopback_is_refused(strict: Api, host: str) -> None:
    assert_forbidden(strict.subscribe(f"http://{host}:8080/x"), "private_address")


def test_subscribing_a_name_that_resolves_to_loopback_is_refused(strict: Api) -> None:
    body = assert_forbidden(strict.subscribe("http://localhost:8080/hook"), "private_name")
    assert "127.0.0.1" not in body["detail"]


@pytest.mark.parametrize("url", SCHEMES)
def test_subscribing_a_non_http_scheme_is_refused(strict: Api, url: str) -> None:
    assert_forbidden(strict.subscribe(url), "scheme")


@pytest.mark.parametrize("url", USERINFO)
def test_subscribing_a_url_with_userinfo_is_refused(strict: Api, url: str) -> None:
    assert_forbidden(strict.subscribe(url), "userinfo")


def test_the_allow_list_admits_its_range_and_nothing_more(allowing: Api) -> None:
    made = allowing.subscribe("http://127.0.0.1:9/hook")
    assert made.status_code == 201, made.text
    for address in ("127.0.0.2", "::1", "10.0.0.1", "169.254.169.254", "::ffff:127.0.0.2"):
        assert_forbidden(allowing.subscribe(url_of(address, 9)), "private_address")


def test_a_real_server_rechecks_a_stored_hook_before_delivering(
    allowing: Api, inbox: Callable[..., Inbox]
) -> None:
    """A hook stored before subscriptions were checked (to 127.0.0.2, outside the allow-list)
    gets nothing, while an allowed hook on 127.0.0.1 gets the same finding."""
    allowed, inward = inbox("127.0.0.1"), inbox("127.0.0.2")
    made = allowing.subscribe(allowed.url(), keep=True)
    assert made.status_code == 201, made.text
    assert allowing.hooks() == [allowed.url()]  # no other hook can receive the finding
    engine = make_engine(allowing.server.db_url)
    try:
        store = FindingStore(engine)
        store.add_webhook("wh-" + "ab" * 12, "admin", inward.url(), "critical", districts=None,
                          org=None)  # fmt: skip
        new = finding()
        store.save([new])
        wait_for(lambda: allowed.requests)

        def refused() -> dict[str, Any] | None:
            rows = {r["webhook_id"]: r for r in store.deliveries(new.id)}
            row = rows["wh-" + "ab" * 12]
            return row if row["last_error"] else None

        row = wait_for(refused)
        assert row["last_error"].startswith("refused (private_address)")
        assert row["delivered_at"] is None and inward.requests == []
        store.disable_webhook("wh-" + "ab" * 12, None)
    finally:
        engine.dispose()
        allowing.http.delete(f"/v1/webhooks/{made.json()['id']}")


# -- the subscription API in-process, with a fake resolver ---------------------------------------


@dataclass
class App:
    """The app in-process (over httpx's ASGI transport), its service, and its fake resolver."""

    app: FastAPI
    service: Service
    dns: FakeDNS
    token: str

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            headers = {"Authorization": f"Bearer {self.token}"}
            async with httpx.AsyncClient(
                transport=transport, base_url="http://app", headers=headers
            ) as client:
                return await client.request(method, path, **kwargs)

        return asyncio.run(go())

    def subscribe(self, url: str) -> httpx.Response:
        return self.call("POST", "/v1/webhooks", json={"url": url})

    def unsubscribe(self, hook_id: str) -> None:
        response = self.call("DELETE", f"/v1/webhooks/{hook_id}")
        assert response.status_code == 204, response.text


@contextlib.contextmanager
def _app(home: Path, allow: list[str]) -> Iterator[App]:
    home.mkdir(parents=True, exist_ok=True)
    settings = Settings(db=f"sqlite:///{home}/chemtrace.db", keys=home / "keys", background=False,
                        findings=False, webhook_allow_networks=allow)  # fmt: skip
    service = Service.open(settings)
    try:
        token = service.registry.bootstrap_admin(home / "admin.token")
        assert token is not None
        app = create_app(settings, service=service)
        dns = FakeDNS()
        app.dependency_overrides[findings_routes.webhook_resolver] = lambda: dns
        yield App(app, service, dns, token)
    finally:
        service.close()


@pytest.fixture(scope="module")
def app_strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    with _app(tmp_path_factory.mktemp("ssrf-app"), []) as app:
        yield app


@pytest.fixture
def app(app_strict: App) -> App:
    app_strict.dns.table.clear()
    app_strict.dns.calls.clear()
    return app_strict


@CLASSES
def test_subscribing_a_name_that_resolves_inward_is_refused(app: App, address: str) -> None:
    app.dns.answer("hooks.example", [address])
    body = assert_forbidden(app.subscribe("https://hooks.example/hook"), "private_name")
    assert app.dns.calls == [("hooks.example", 443)]
    assert "hooks.example" in body["detail"]


@pytest.mark.parametrize(
    "addresses",
    [
        [PUBLIC, "10.0.0.1"],
        ["127.0.0.1", PUBLIC],
        [PUBLIC_V6, "fe80::1"],
        [PUBLIC, "::ffff:7f00:1"],
    ],
)
def test_subscribing_a_name_with_public_and_private_addresses_is_refused(
    app: App, addresses: list[str]
) -> None:
    app.dns.answer("mixed.example", addresses)
    assert_forbidden(app.subscribe("http://mixed.example:8080/hook"), "private_name")
    assert app.dns.calls == [("mixed.example", 8080)]


def test_subscribing_a_public_name_is_accepted_and_an_unresolvable_one_is_not(app: App) -> None:
    app.dns.answer("hooks.example", [PUBLIC, PUBLIC_V6])
    made = app.subscribe("https://hooks.example/hook")
    assert made.status_code == 201, made.text
    assert made.json()["url"] == "https://hooks.example/hook"  # stored as given, not pinned
    app.unsubscribe(made.json()["id"])
    gone = app.subscribe("https://gone.example/hook")
    assert gone.status_code == 422, gone.text
    assert (gone.json()["code"], gone.json()["field"]) == ("webhook_url_unresolvable", "url")
    assert app.dns.calls == [("hooks.example", 443), ("gone.example", 443)]


def test_rebinding_between_subscription_and_delivery_is_refused(app: App) -> None:
    """The name is public when subscribed and loopback when the finding is sent."""
    app.dns.answer("rebind.example", [PUBLIC], ["127.0.0.1"])
    made = app.subscribe("http://rebind.example/hook")
    assert made.status_code == 201, made.text
    store = FindingStore(app.service.deployment.store.engine)
    spy = Spy()
    try:
        row = Outbox(store).send(app.dns, made.json()["id"], transport=spy.transport)
    finally:
        store.disable_webhook(made.json()["id"], None)
    assert_refused(row, spy, "private_name")
    assert app.dns.calls == [("rebind.example", 80), ("rebind.example", 80)]


def test_an_in_process_allow_list_admits_a_private_name_only_inside_it(tmp_path: Path) -> None:
    with _app(tmp_path / "app", ["10.0.0.0/8"]) as each:
        each.dns.answer("build.internal", ["10.1.2.3"])
        each.dns.answer("half.internal", ["10.1.2.3", "192.168.0.1"])
        assert each.subscribe("http://build.internal/hook").status_code == 201
        assert each.subscribe("http://10.9.9.9/hook").status_code == 201
        assert_forbidden(each.subscribe("http://half.internal/hook"), "private_name")
        assert_forbidden(each.subscribe("http://192.168.0.1/hook"), "private_address")


# -- the setting --------------------------------------------------------------------------------


def test_the_allow_list_setting_reads_cidrs_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CHEMTRACE_WEBHOOK_ALLOW_NETWORKS", raising=False)
    assert Settings().webhook_allow_networks == []
    monkeypatch.setenv("CHEMTRACE_WEBHOOK_ALLOW_NETWORKS", "10.0.0.0/8, fd00::/8")
    assert Settings().webhook_allow_networks == ["10.0.0.0/8", "fd00::/8"]
    monkeypatch.setenv("CHEMTRACE_WEBHOOK_ALLOW_NETWORKS", '["127.0.0.1/32"]')
    assert Settings().webhook_allow_networks == ["127.0.0.1/32"]
    for bad in ("10.0.0.1/8", "not-a-network", "10.0.0.0/33"):
        monkeypatch.setenv("CHEMTRACE_WEBHOOK_ALLOW_NETWORKS", bad)
        with pytest.raises(ValidationError):
            Settings()
