"""Logs a bureau can operate (``api.logs``): JSON lines or text, a request id on every line
logged while a request is handled and in its answer, one access line per request, and no
token anywhere in them.

Most of it against a real ``chemtrace serve`` process: its stderr is what an operator ships.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI

from api import logs
from api.app import create_app
from api.problems import PROBLEM_JSON
from api.settings import Settings
from tests.api.live import LiveServer, wait_for

FRESH_ID = re.compile(r"[0-9a-f]{32}")
BOGUS_TOKEN = "ct_" + "S3cr3tB0gusT0ken" * 3  # token-shaped, unknown to the server


def _server(tmp_path_factory: pytest.TempPathFactory, log_format: str) -> Iterator[LiveServer]:
    home = tmp_path_factory.mktemp(f"logs-{log_format}")
    server = LiveServer(home, f"sqlite:///{home}/var/chemtrace.db",
                        CHEMTRACE_LOG_FORMAT=log_format)  # fmt: skip
    try:
        yield server.start()
    finally:
        server.close()


@pytest.fixture(scope="module")
def json_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """``auto``, writing to a file: JSON."""
    yield from _server(tmp_path_factory, "auto")


@pytest.fixture(scope="module")
def text_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from _server(tmp_path_factory, "text")


def _lines(server: LiveServer) -> list[dict[str, Any]]:
    """Every line the server (and its findings worker) wrote, each parsed as JSON."""
    text = server.log_path.read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _of(server: LiveServer, request_id: str, logger: str | None = None) -> list[dict[str, Any]]:
    return [line for line in _lines(server) if line.get("request_id") == request_id
            and (logger is None or line["logger"] == logger)]  # fmt: skip


def _access(server: LiveServer, request_id: str) -> dict[str, Any]:
    """The access line of a request (written once the answer is sent: waited for)."""
    found: list[dict[str, Any]] = wait_for(lambda: _of(server, request_id, "chemtrace.access"))
    assert len(found) == 1, found
    return found[0]


def _problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    assert (body["status"], body["code"]) == (status, code), body
    assert body["request_id"] == response.headers["x-request-id"]
    return body


# -- JSON lines, against a live server -------------------------------------------------------


def test_every_line_is_json_the_findings_worker_child_included(json_server: LiveServer) -> None:
    httpx.get(json_server.base_url + "/healthz").raise_for_status()
    wait_for(lambda: any(line["logger"] == "chemtrace.findings" for line in _lines(json_server)))
    lines = _lines(json_server)
    for line in lines:
        assert {"timestamp", "level", "logger", "event"} <= line.keys(), line
    serving = next(line for line in lines if line["event"].startswith("serving "))
    assert serving["logger"] == "chemtrace.serve"
    assert serving["url"] == json_server.base_url
    assert serving["db"].startswith("sqlite:///")
    assert any(line["event"].startswith("findings worker running") for line in lines)


def test_a_request_id_is_on_every_line_of_the_request_and_in_its_problem(
    json_server: LiveServer,
) -> None:
    response = httpx.get(json_server.base_url + "/v1/items/X1",
                         headers={"Authorization": f"Bearer {BOGUS_TOKEN}"})  # fmt: skip
    request_id = _problem(response, 401, "unauthenticated")["request_id"]
    assert FRESH_ID.fullmatch(request_id)
    access = _access(json_server, request_id)
    assert (access["method"], access["path"], access["status"]) == ("GET", "/v1/items/X1", 401)
    assert access["client"] == "127.0.0.1"
    assert access["user_id"] is None
    assert isinstance(access["duration_ms"], float)
    assert access["level"] == "info"
    # the refusal is logged from the thread pool that runs the dependency: the id is there too
    refused = _of(json_server, request_id, "chemtrace.auth")
    assert [line["event"] for line in refused] == [
        "authentication refused: unknown or revoked token"
    ]
    assert {line["logger"] for line in _of(json_server, request_id)} == {
        "chemtrace.auth", "chemtrace.access"
    }  # fmt: skip


def test_every_answer_has_a_request_id_header(json_server: LiveServer) -> None:
    response = httpx.get(json_server.base_url + "/healthz")
    assert response.status_code == 200
    request_id = response.headers["x-request-id"]
    assert FRESH_ID.fullmatch(request_id)
    assert _access(json_server, request_id)["status"] == 200


def test_a_safe_incoming_request_id_is_kept(json_server: LiveServer) -> None:
    response = httpx.get(json_server.base_url + "/v1/items",
                         headers={"X-Request-ID": "bureau-42.trace_7"})  # fmt: skip
    assert _problem(response, 401, "unauthenticated")["request_id"] == "bureau-42.trace_7"
    assert _access(json_server, "bureau-42.trace_7")["status"] == 401
    assert len(_of(json_server, "bureau-42.trace_7", "chemtrace.auth")) == 1


@pytest.mark.parametrize(
    "incoming",
    [b"has space", b"x" * 65, b"", b"semi;colon", b'quote"d', "é中".encode(), b"a/../b"],
)
def test_an_unsafe_incoming_request_id_is_replaced(
    json_server: LiveServer, incoming: bytes
) -> None:
    response = httpx.get(json_server.base_url + "/v1/items",
                         headers=[(b"X-Request-ID", incoming)])  # fmt: skip
    request_id = _problem(response, 401, "unauthenticated")["request_id"]
    assert FRESH_ID.fullmatch(request_id)
    assert _access(json_server, request_id)["path"] == "/v1/items"


def test_limit_refusals_carry_a_request_id_too(json_server: LiveServer) -> None:
    """The request-id middleware is around ``RequestLimits``: a refused body is logged."""
    response = httpx.post(json_server.base_url + "/v1/events", content=b"[" * 200,
                          headers={"Content-Type": "application/json"})  # fmt: skip
    request_id = _problem(response, 422, "malformed_json")["request_id"]
    access = _access(json_server, request_id)
    assert (access["method"], access["path"], access["status"]) == ("POST", "/v1/events", 422)


def test_no_token_reaches_the_log(json_server: LiveServer) -> None:
    admin = json_server.admin_token
    response = httpx.get(
        json_server.base_url + f"/v1/items/NOPE?token={admin}&limit=5&access_token={admin}",
        headers={"Authorization": f"Bearer {admin}"},
    )
    # /v1 refuses parameters it does not take: the refusal is logged like any answer
    authenticated = _problem(response, 422, "unknown_parameter")["request_id"]
    response = httpx.get(
        json_server.base_url + f"/v1/items?Api-Key=K3yValu3&q={BOGUS_TOKEN}&%74oken={admin}",
        headers={"Authorization": f"Bearer {BOGUS_TOKEN}"},
    )
    anonymous = _problem(response, 401, "unauthenticated")["request_id"]
    response = httpx.get(json_server.base_url + f"/v1/items/{admin}",
                         headers={"Authorization": f"Bearer {admin}"})  # fmt: skip
    in_path = _problem(response, 404, "item_not_found")["request_id"]
    access = _access(json_server, authenticated)
    assert access["user_id"] == "admin"
    assert access["query"] == "token=REDACTED&limit=5&access_token=REDACTED"
    assert access["status"] == 422
    assert (
        _access(json_server, anonymous)["query"] == "Api-Key=REDACTED&q=REDACTED&%74oken=REDACTED"
    )
    assert _access(json_server, in_path)["path"] == "/v1/items/ct_REDACTED"
    text = json_server.log_path.read_text(encoding="utf-8")
    for secret in (admin, admin[3:], BOGUS_TOKEN, BOGUS_TOKEN[3:], "Bearer", "K3yValu3"):
        assert secret not in text


# -- the text format -------------------------------------------------------------------------


def test_the_text_format_is_for_people(text_server: LiveServer) -> None:
    admin = text_server.admin_token
    response = httpx.get(text_server.base_url + f"/v1/items/X2?token={admin}",
                         headers={"Authorization": f"Bearer {BOGUS_TOKEN}",
                                  "X-Request-ID": "text-1"})  # fmt: skip
    assert _problem(response, 401, "unauthenticated")["request_id"] == "text-1"

    def access_line() -> str | None:
        text = text_server.log_path.read_text(encoding="utf-8")
        return next((line for line in text.splitlines()
                     if "chemtrace.access" in line and "request_id=text-1" in line), None)  # fmt: skip

    line = wait_for(access_line)
    assert re.search(r"\[info\s*\] request\b", line), line
    for member in ("method=GET", "path=/v1/items/X2", "query='token=REDACTED'", "status=401",
                   "client=127.0.0.1"):  # fmt: skip
        assert member in line, line
    text = text_server.log_path.read_text(encoding="utf-8")
    assert "authentication refused" in text
    wait_for(lambda: "findings worker running" in text_server.log_path.read_text())
    for raw in text.splitlines():
        if raw.strip():
            with pytest.raises(json.JSONDecodeError):
                json.loads(raw)
    assert admin not in text and BOGUS_TOKEN not in text and "Bearer" not in text


# -- in-process: the pieces, and an unexpected error -----------------------------------------


@pytest.mark.parametrize(
    ("query", "logged"),
    [
        (b"", ""),
        (b"limit=5&offset=0", "limit=5&offset=0"),
        (b"token=abc", "token=REDACTED"),
        (b"TOKEN=abc&x=1", "TOKEN=REDACTED&x=1"),
        (
            b"id_token=a&apikey=b&client_secret=c&password=d&sig=e",
            "id_token=REDACTED&"
            "apikey=REDACTED&client_secret=REDACTED&password=REDACTED&sig=REDACTED",
        ),
        (b"%74oken=abc", "%74oken=REDACTED"),
        (b"tok%65n=abc", "tok%65n=REDACTED"),
        (b"token&x", "REDACTED&x"),  # a bare name that looks secret may be the secret
        (b"q=ct_abcdefghijkl", "q=REDACTED"),
        (b"q=ct%5Fabcdefghijkl", "q=REDACTED"),
        (b"ct_abcdefghijkl", "REDACTED"),
        (b"rule=clone.unissued_code&severity=high", "rule=clone.unissued_code&severity=high"),
    ],
)
def test_query_redaction(query: bytes, logged: str) -> None:
    assert logs.redact_query(query) == logged


def test_request_id_acceptance() -> None:
    assert logs.incoming_request_id([(b"x-request-id", b"A.b_c-9")]) == "A.b_c-9"
    assert logs.incoming_request_id([(b"X-Request-ID", b"a" * 64)]) == "a" * 64
    assert logs.incoming_request_id([(b"x-request-id", b"a" * 65)]) is None
    assert logs.incoming_request_id([(b"x-request-id", b"a\nb")]) is None
    assert logs.incoming_request_id([(b"x-request-id", b"abc\n")]) is None
    assert logs.incoming_request_id([(b"x-request-id", b"one"), (b"x-request-id", b"two")]) == "one"
    assert logs.incoming_request_id([(b"x-other", b"abc")]) is None


def test_the_format_is_resolved_from_the_flag_the_variable_and_the_stream(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv(logs.FORMAT_ENV, raising=False)
    assert logs.resolve_format(None, io.StringIO()) is logs.LogFormat.json
    assert logs.resolve_format(None, Tty()) is logs.LogFormat.text
    assert logs.resolve_format("JSON", Tty()) is logs.LogFormat.json
    monkeypatch.setenv(logs.FORMAT_ENV, "text")
    assert logs.resolve_format(None, io.StringIO()) is logs.LogFormat.text
    with pytest.raises(ValueError, match="unknown log format 'xml'"):
        logs.resolve_format("xml")


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """This process's logging configured as JSON into a buffer, and put back afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logging.getLogger("chemtrace").level)
    stream = io.StringIO()
    logs.configure("json", stream=stream)
    try:
        yield stream
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging.getLogger("chemtrace").setLevel(saved[2])
        logging.captureWarnings(False)
        structlog.reset_defaults()


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    """The app on a fresh SQLite database, with a route that fails unexpectedly."""
    settings = Settings(db=f"sqlite:///{tmp_path}/chemtrace.db", keys=tmp_path / "keys",
                        background=False, findings=False)  # fmt: skip
    app = create_app(settings)

    def boom() -> None:
        structlog.get_logger("chemtrace.test").warning("about to fail", step=1)
        raise RuntimeError("boom")

    app.add_api_route("/boom", boom)
    return app


def _call(app: FastAPI, path: str, **headers: str) -> httpx.Response:
    """One request in-process, between the app's startup and shutdown (its own service)."""

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://app") as client,
        ):
            return await client.get(path, headers=headers)

    return asyncio.run(go())


def test_an_unexpected_error_is_a_problem_and_log_lines_with_its_request_id(
    app: FastAPI, captured: io.StringIO
) -> None:
    response = _call(app, "/boom", **{"X-Request-ID": "boom-1"})
    assert _problem(response, 500, "internal_error")["request_id"] == "boom-1"
    lines = [json.loads(line) for line in captured.getvalue().splitlines()]
    by_logger = {line["logger"]: line for line in lines}
    assert {line["request_id"] for line in lines} == {"boom-1"}
    assert by_logger["chemtrace.test"]["event"] == "about to fail"
    assert by_logger["chemtrace.test"]["step"] == 1  # a structlog logger's own fields
    assert by_logger["chemtrace.api"]["event"] == "unhandled error"
    assert "RuntimeError: boom" in by_logger["chemtrace.api"]["exception"]
    assert by_logger["chemtrace.access"]["status"] == 500
