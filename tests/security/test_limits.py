"""Limits come before anything else, and every error is problem+json (issue 12, item 3).

Against a real ``chemtrace serve`` process, on SQLite and on PostgreSQL with Redis:

* JSON nested deeper than ``max_json_depth`` is a 422 ``malformed_json`` on every route,
  before authentication, and never reaches a parser (a RecursionError used to be a 500);
* a declared ``Content-Length`` over ``max_body_bytes`` is a 413 ``payload_too_large``
  answered before the body is sent, and a chunked body is cut off at the limit, also before
  authentication (typed-body routes used to read any size of body before the token check);
* a 405 is problem+json with an ``Allow`` header naming every method of the path;
* header garbage: what our code can see is a problem with a stable code (431
  ``headers_too_large``, 400 ``invalid_header``, 401, 415, 422); what uvicorn's parser
  refuses never reaches the app (:func:`test_protocol_garbage_is_refused_by_uvicorn`), and
  what its h11 parser lets through is shown on a uvicorn process of its own;
* a 200 MB unauthenticated upload grows the server's memory by at most the limit (slow).

Raw sockets are used where a client library would refuse to send the request, or would
insist on sending the whole body before it reads the answer.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.limits import JsonDepth
from tests.api.live import BACKENDS, REPO, LiveServer, World, shared_server
from tests.servers import pick_free_port

PROBLEM_JSON = "application/problem+json"
LIMIT = 256 * 1024
"""``max_body_bytes`` of the module's servers: small, so oversized bodies are quick to send."""
DEPTH = 64
"""The default ``max_json_depth``."""
NESTED = b"[" * 100_000 + b"]" * 100_000
"""Deep enough to overflow the recursion of any JSON parser; still under :data:`LIMIT`."""


@pytest.fixture(scope="module", params=BACKENDS)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, World]]:
    home = tmp_path_factory.mktemp("limits")
    env = {"CHEMTRACE_MAX_BODY_BYTES": str(LIMIT)}
    with shared_server(request, home, str(request.param), **env) as pair:
        yield pair


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


def _exchange(port: int, request: bytes, timeout: float = 15.0) -> Reply:
    """Send raw bytes and read one response, without sending anything more."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = response.read()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, body)


def _head(method: str, path: str, *headers: bytes) -> bytes:
    lines = [f"{method} {path} HTTP/1.1".encode(), b"Host: 127.0.0.1", *headers]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _post(server: LiveServer, path: str, body: bytes, *headers: bytes) -> Reply:
    content = (b"Content-Type: application/json", b"Content-Length: %d" % len(body))
    return _exchange(
        server.port, _head("POST", path, *content, *headers, b"Connection: close") + body
    )


def _reply(response: httpx.Response) -> Reply:
    return Reply(response.status_code, dict(response.headers), response.content)


def _problem(reply: Reply, status: int, code: str) -> dict[str, Any]:
    assert reply.status == status, reply.body[:500]
    assert reply.headers["content-type"].startswith(PROBLEM_JSON), reply.headers
    problem: dict[str, Any] = json.loads(reply.body)
    assert (problem["status"], problem["code"]) == (status, code), problem
    return problem


def _bearer(token: str) -> bytes:
    return b"Authorization: Bearer " + token.encode()


def _writer(world: World) -> str:
    token = world.actors["p-chem"].client.token
    assert token
    return token


# --------------------------------------------------------------------------------------------
# JSON depth


@pytest.mark.parametrize(
    "path", ["/v1/events", "/v1/events:batch", "/v1/licences", "/v1/devices", "/v1/nowhere"]
)
def test_deep_json_is_refused_before_authentication(
    live: tuple[LiveServer, World], path: str
) -> None:
    problem = _problem(_post(live[0], path, NESTED), 422, "malformed_json")
    assert str(DEPTH) in problem["detail"]


def test_deep_json_with_a_token_is_a_problem_not_a_500(live: tuple[LiveServer, World]) -> None:
    server, world = live
    _problem(_post(server, "/v1/events", NESTED, _bearer(_writer(world))), 422, "malformed_json")
    _problem(_post(server, "/v1/licences", NESTED, _bearer(server.admin_token)), 422,
             "malformed_json")  # fmt: skip


def test_the_depth_bound_is_exact(live: tuple[LiveServer, World]) -> None:
    server, world = live
    token = _bearer(_writer(world))
    deepest = b'{"body":' * DEPTH + b"1" + b"}" * DEPTH
    _problem(_post(server, "/v1/events", b"[" + deepest + b"]", token), 422, "malformed_json")
    at_bound = _post(server, "/v1/events", deepest, token)
    assert at_bound.status == 422, at_bound.body
    assert json.loads(at_bound.body)["code"] != "malformed_json"


def test_brackets_in_strings_and_escapes_do_not_count(live: tuple[LiveServer, World]) -> None:
    server, _ = live
    body = b'{"a": "' + b"[{" * 5_000 + b'\\"' + b"[" * 100 + b'\\\\", "b": ["]]]"]}'
    _problem(_post(server, "/v1/events", body), 401, "unauthenticated")


@pytest.mark.parametrize(
    ("pieces", "depth", "within"),
    [
        ([b"[[[", b"]]]"], 0, True),
        ([b"[" * 65], 65, False),
        ([b'["[[[[', b'[[[[[["]'], 0, True),
        ([b'["\\', b'"[[[[[[[["]'], 0, True),  # an escaped quote split from its backslash
        ([b'["\\\\', b'"', b"[[[[[[[[[]]]]]]]]]]"], 0, True),
        ([b'["\\\\"', b"[" * 70], DEPTH + 1, False),  # an escaped backslash escapes no quote
        ([b'{"k":{"k":', b'{"k":"}}}}}"', b"}}}"], 0, True),
        ([b"]]]]][[[", b"["], 4, True),  # unbalanced closers are for the parser to refuse
        ([b"", b'"', b"", b"[[", b'"', b"[{"], 2, True),
    ],
)
def test_the_depth_scanner_tracks_strings_across_pieces(
    pieces: list[bytes], depth: int, within: bool
) -> None:
    scanner = JsonDepth(DEPTH)
    results = [scanner.feed(piece) for piece in pieces]
    assert all(results) is within
    assert scanner.depth == depth
    assert JsonDepth(DEPTH).feed(b"".join(pieces)) is within


# --------------------------------------------------------------------------------------------
# body size


@pytest.mark.parametrize("path", ["/v1/events", "/v1/licences", "/healthz", "/v1/nowhere"])
def test_a_declared_oversized_body_is_refused_unread(
    live: tuple[LiveServer, World], path: str
) -> None:
    """Only one byte of the declared terabyte is sent; the answer comes anyway."""
    head = _head("POST", path, b"Content-Type: application/json", b"Content-Length: %d" % 10**12)
    problem = _problem(_exchange(live[0].port, head + b"{"), 413, "payload_too_large")
    assert problem["limit"] == LIMIT


@pytest.mark.parametrize("path", ["/v1/events", "/v1/licences"])
def test_a_chunked_body_is_cut_off_at_the_limit(live: tuple[LiveServer, World], path: str) -> None:
    """The body never ends (no last chunk); the 413 comes once the limit is passed."""
    piece = b"x" * 4096
    chunk = b"%x\r\n%s\r\n" % (len(piece), piece)
    head = _head("POST", path, b"Content-Type: application/json", b"Transfer-Encoding: chunked")
    body = chunk * (LIMIT // len(piece) + 1)
    _problem(_exchange(live[0].port, head + body), 413, "payload_too_large")


def test_a_streamed_oversized_body_is_413_for_an_ordinary_client(
    live: tuple[LiveServer, World],
) -> None:
    def stream() -> Iterator[bytes]:
        for _ in range(4 * LIMIT // 65536):
            yield b" " * 65536

    response = httpx.post(live[0].base_url + "/v1/events", content=stream(),
                          headers={"content-type": "application/json"}, timeout=60)  # fmt: skip
    _problem(_reply(response), 413, "payload_too_large")


def test_a_chunked_body_under_the_limit_reaches_the_route_intact(
    live: tuple[LiveServer, World],
) -> None:
    server, world = live
    (code,) = world.issue("p-chem", 1)
    body = json.dumps(world.commission("p-chem", code)).encode()

    def stream() -> Iterator[bytes]:
        for start in range(0, len(body), 7):
            yield body[start : start + 7]

    headers = {"content-type": "application/json", "authorization": f"Bearer {_writer(world)}"}
    response = httpx.post(server.base_url + "/v1/events", content=stream(), headers=headers)
    assert response.status_code == 201, response.text


# --------------------------------------------------------------------------------------------
# routing errors


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/v1/events", {"POST"}),
        ("PUT", "/v1/licences", {"GET", "POST"}),
        ("GET", "/v1/users/someone/tokens", {"POST", "DELETE"}),
        ("POST", "/healthz", {"GET"}),
        ("PATCH", "/openapi.json", {"GET", "HEAD"}),
        ("OPTIONS", "/v1/webhooks/w1", {"DELETE"}),
    ],
)
def test_405_is_a_problem_with_an_allow_header(
    live: tuple[LiveServer, World], method: str, path: str, allowed: set[str]
) -> None:
    reply = _reply(httpx.request(method, live[0].base_url + path))
    _problem(reply, 405, "method_not_allowed")
    assert set(reply.headers["allow"].split(", ")) == allowed


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/nowhere"), ("POST", "/v1/nowhere"), ("GET", "/%00%ff"), ("DELETE", "/v1/items/x/y")],
)
def test_an_unknown_path_is_a_404_problem(
    live: tuple[LiveServer, World], method: str, path: str
) -> None:
    _problem(_reply(httpx.request(method, live[0].base_url + path)), 404, "not_found")


# --------------------------------------------------------------------------------------------
# header garbage


@pytest.mark.parametrize(
    "request_bytes",
    [
        _head("GET", "/v1/items", b"X-Note: a\x01b"),  # a control byte in a value
        _head("GET", "/v1/items", b"Authorization: Bearer ct_\x00"),
        _head("GET", "/v1/items", b"Authorization: Bearer ct_\x7f"),  # DEL
        _head("GET", "/v1/items", b"X\x00Name: b"),  # NUL in a name
        _head("GET", "/v1/items", b"Bad Name: b"),
        _head("GET", "/v1/items/\xc3\xa9"),  # a raw non-ASCII request target
        _head("POST", "/v1/events", b"Content-Length: abc") + b"{}",
        _head("POST", "/v1/events", b"Content-Length: 2", b"Content-Length: 3") + b"{}",
        _head("POST", "/v1/events", b"Content-Length: 2", b"Transfer-Encoding: chunked")
        + b"0\r\n\r\n",
    ],
    ids=[
        "ctl-value",
        "nul-auth",
        "del-auth",
        "nul-name",
        "space-name",
        "raw-utf8-target",
        "bad-length",
        "two-lengths",
        "length-and-chunked",
    ],
)
def test_protocol_garbage_is_refused_by_uvicorn(
    live: tuple[LiveServer, World], request_bytes: bytes
) -> None:
    """Refused by uvicorn's HTTP parser before any ASGI app runs.

    ``chemtrace serve`` runs uvicorn with its default parser, httptools (llhttp), which
    answers these itself with a 400 ``text/plain`` "Invalid HTTP request received." and
    closes the connection: the app never sees the request, so it cannot make it a
    problem+json. Pinned here so that a change of server layer shows up; uvicorn's other
    parser, h11, passes control bytes in values on to the app (see the next test).
    """
    server, _ = live
    reply = _exchange(server.port, request_bytes)
    assert (reply.status, reply.body) == (400, b"Invalid HTTP request received.")
    assert reply.headers["content-type"].startswith("text/plain")
    assert reply.headers["server"] == "uvicorn"
    assert httpx.get(server.base_url + "/healthz").status_code == 200


@pytest.fixture(scope="module")
def h11_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The app served by uvicorn with its h11 parser, on SQLite, in a process of its own."""
    home = tmp_path_factory.mktemp("h11")
    port = pick_free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "CHEMTRACE_DB": f"sqlite:///{home}/ct.db",
           "CHEMTRACE_KEYS": str(home / "keys"), "CHEMTRACE_FINDINGS": "false"}  # fmt: skip
    env.pop("CHEMTRACE_REDIS_URL", None)
    command = [sys.executable, "-m", "uvicorn", "api.asgi:app", "--http", "h11",
               "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]  # fmt: skip
    with (home / "server.log").open("ab") as log:
        process = subprocess.Popen(command, cwd=home, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (home / "server.log").read_text()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            assert time.monotonic() < deadline, "the h11 server did not start"
            time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@pytest.mark.parametrize(
    "header",
    [b"X-Note: a\x01b", b"Authorization: Bearer ct_\x7f", b"Content-Type: application/json\x1b"],
)
def test_control_bytes_that_h11_lets_through_are_a_problem(h11_port: int, header: bytes) -> None:
    problem = _problem(_exchange(h11_port, _head("GET", "/healthz", header)), 400,
                       "invalid_header")  # fmt: skip
    assert problem["header"] == header.split(b":")[0].decode().lower()


@pytest.mark.parametrize(
    "authorization",
    [
        b"Bearer",
        b"Bearer ",
        b"Bearer  ",
        b"bearer",
        b"Basic Zm9vOmJhcg==",
        b"ct_" + b"A" * 43,  # a token with no scheme
        b"Bearer ct_" + "é中".encode(),  # UTF-8
        b"Bearer ct_\xe9\x80\xff",  # bytes that are not UTF-8
        b"Bearer \tct_x\t",
        b"Bearer ct_a ct_b",
    ],
)
def test_odd_authorization_headers_are_401_problems(
    live: tuple[LiveServer, World], authorization: bytes
) -> None:
    reply = _exchange(live[0].port, _head("GET", "/v1/items", b"Authorization: " + authorization))
    _problem(reply, 401, "unauthenticated")


@pytest.mark.parametrize(
    "headers",
    [
        (b"Authorization: Bearer ct_" + b"A" * 100_000,),
        tuple(b"X-Pad-%d: %s" % (n, b"p" * 40) for n in range(2_000)),
    ],
    ids=["one-huge-header", "many-headers"],
)
@pytest.mark.parametrize("path", ["/v1/items", "/healthz"])
def test_oversized_headers_are_refused_first(
    live: tuple[LiveServer, World], headers: tuple[bytes, ...], path: str
) -> None:
    _problem(_exchange(live[0].port, _head("GET", path, *headers)), 431, "headers_too_large")


def test_ordinary_headers_pass(live: tuple[LiveServer, World]) -> None:
    reply = _exchange(live[0].port, _head("GET", "/healthz", b"X-Pad: " + b"p" * 8_000))
    assert reply.status == 200, reply.body


@pytest.mark.parametrize(
    "content_type", [b";;;===", b"text/plain", b"application/x-\xff", b"application/jsonx"]
)
def test_an_unusable_content_type_is_a_problem(
    live: tuple[LiveServer, World], content_type: bytes
) -> None:
    server, world = live
    head = _head("POST", "/v1/events", _bearer(_writer(world)), b"Content-Type: " + content_type,
                 b"Content-Length: 2")  # fmt: skip
    _problem(_exchange(server.port, head + b"{}"), 415, "unsupported_media_type")
    typed = _head("POST", "/v1/licences", _bearer(server.admin_token),
                  b"Content-Type: " + content_type, b"Content-Length: 2")  # fmt: skip
    _problem(_exchange(server.port, typed + b"{}"), 422, "invalid_request")


@pytest.mark.parametrize("path", ["/v1/events", "/v1/licences", "/v1/devices"])
def test_a_body_that_is_not_utf8_is_malformed_json(
    live: tuple[LiveServer, World], path: str
) -> None:
    server, world = live
    token = _writer(world) if path == "/v1/events" else server.admin_token
    _problem(_post(server, path, b'{"a": "\xff\xfe"}', _bearer(token)), 422, "malformed_json")


# --------------------------------------------------------------------------------------------
# memory


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


@pytest.mark.slow
def test_a_200_mb_chunked_upload_keeps_the_server_memory_flat(tmp_path: Path) -> None:
    """200 MB streamed, unauthenticated, to POST /v1/events with the default 16 MiB limit.

    The server's peak RSS over the upload (VmHWM, reset through ``clear_refs`` once the
    server is warm; also sampled every 5 ms) must grow by less than 20 MB. The limits are
    checked before authentication, so up to the limit is held before the 413: the growth
    is about 16 MiB, whatever the size of the upload.
    """
    server = LiveServer(tmp_path, f"sqlite:///{tmp_path}/var/chemtrace.db").start()
    try:
        assert server.process is not None
        pid = server.process.pid
        for _ in range(3):  # warm the code paths, with bodies far under the limit
            httpx.post(server.base_url + "/v1/events", content=iter([b"[1]"] * 64),
                       headers={"content-type": "application/json"})  # fmt: skip
            _post(server, "/v1/events", NESTED)
        time.sleep(0.5)
        baseline = _status_kb(pid, "VmRSS")
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
            reset = True
        except OSError:  # then the startup peak would hide the upload's: sample only
            reset = False
        sampled, done = [baseline], threading.Event()

        def sample() -> None:
            while not done.is_set():
                sampled.append(_status_kb(pid, "VmRSS"))
                time.sleep(0.005)

        def stream() -> Iterator[bytes]:
            block = b" " * (1 << 20)
            for _ in range(200):
                yield block

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.monotonic()
        response = httpx.post(server.base_url + "/v1/events", content=stream(),
                              headers={"content-type": "application/json"}, timeout=120)  # fmt: skip
        elapsed = time.monotonic() - started
        done.set()
        sampler.join()
        peak = max(_status_kb(pid, "VmHWM") if reset else 0, *sampled)
        growth_mb = (peak - baseline) / 1024
        print(f"\nserver RSS: baseline {baseline / 1024:.1f} MB, peak {peak / 1024:.1f} MB, "
              f"growth {growth_mb:.1f} MB over a 200 MB chunked upload ({elapsed:.1f} s)")  # fmt: skip
        _problem(_reply(response), 413, "payload_too_large")
        assert growth_mb < 20
    finally:
        server.close()
