"""Logs a bureau can operate: JSON lines (or plain text for development), a request id on
every line logged while a request is handled, and one access-log line per request.

:func:`configure` routes the standard :mod:`logging` used across the package
(``logging.getLogger("chemtrace.…")``) through structlog's formatter, so existing log calls
come out structured too, with the ``extra=`` fields of a call as members of the line.
Every process of a deployment configures itself the same way from ``CHEMTRACE_LOG_FORMAT``
and ``CHEMTRACE_LOG_LEVEL``: ``chemtrace serve`` (which resolves ``auto`` and exports the
result), each uvicorn worker (``api.asgi``), and the findings worker child process.

:class:`RequestContext` is the ASGI middleware giving each request its id (the client's
``X-Request-ID`` if it is a short safe token, else a fresh one), binding it for every log
line (:func:`current_request_id`; threads of the request's thread pool inherit it), sending
it back in an ``X-Request-ID`` header and in the ``request_id`` member of a problem+json
(``api.problems.respond``), and logging the access line at the end. The access line never
holds a header (so no ``Authorization``), and query parameters whose name looks secret
(``token``, ``key``, ``secret``, ``password``, …) or any value shaped like a chemtrace token
are written ``REDACTED``. uvicorn's own access log is off (``chemtrace serve``).
"""

from __future__ import annotations

import enum
import logging
import os
import re
import sys
import time
import uuid
from collections.abc import Callable, MutableMapping
from contextvars import ContextVar
from typing import Any, Final, TextIO
from urllib.parse import quote, unquote_plus

import structlog
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.typing import Processor


class LogFormat(enum.StrEnum):
    """How log lines are written: ``auto`` is ``text`` on a terminal, else ``json``."""

    auto = "auto"
    json = "json"
    text = "text"


FORMAT_ENV: Final = "CHEMTRACE_LOG_FORMAT"
LEVEL_ENV: Final = "CHEMTRACE_LOG_LEVEL"
REQUEST_ID_HEADER: Final = "X-Request-ID"
REDACTED: Final = "REDACTED"
_HANDLER: Final = "chemtrace-structlog"
_SAFE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_SECRET_NAME = re.compile(r"token|key|secret|pass|pwd|auth|bearer|sig|session|credential", re.I)
_TOKEN_LIKE = re.compile(r"ct_[A-Za-z0-9_-]{8,}")
"""A chemtrace API token (``ct_`` + base64url) pasted where it does not belong."""
_MAX_LOGGED = 2048
"""The most characters of a path or query an access line holds."""

_request_id: ContextVar[str | None] = ContextVar("chemtrace_request_id", default=None)
access_log = logging.getLogger("chemtrace.access")


def current_request_id() -> str | None:
    """The id of the request being handled here, if any."""
    return _request_id.get()


def resolve_format(value: str | None = None, stream: TextIO | None = None) -> LogFormat:
    """``value``, else ``CHEMTRACE_LOG_FORMAT``, else ``auto``; ``auto`` resolved for
    ``stream`` (default: stderr): ``text`` on a terminal, ``json`` otherwise."""
    name = (value or os.environ.get(FORMAT_ENV) or LogFormat.auto).lower()
    try:
        chosen = LogFormat(name)
    except ValueError:
        raise ValueError(f"unknown log format {name!r}; use auto, json or text") from None
    if chosen is LogFormat.auto:
        return LogFormat.text if _is_tty(stream or sys.stderr) else LogFormat.json
    return chosen


def _is_tty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _add_request_id(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    request_id = _request_id.get()
    if request_id is not None:
        event.setdefault("request_id", request_id)
    return event


def _drop_color_message(
    _: Any, __: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    event.pop("color_message", None)  # uvicorn's ANSI-coloured copy of the message
    return event


def configure(
    log_format: str | None = None, level: str | None = None, stream: TextIO | None = None
) -> LogFormat:
    """Send every log record of this process through structlog, as JSON lines or text.

    One handler on the root logger, writing to ``stream`` (default: stderr); calling this
    again replaces it. The root level is WARNING (libraries stay quiet; httpx, say, would
    log every URL it fetches at INFO); ``chemtrace.*`` loggers log from ``level`` (default:
    ``CHEMTRACE_LOG_LEVEL``, else INFO). Python warnings are logged too. Returns the format.
    """
    stream = stream or sys.stderr
    chosen = resolve_format(log_format, stream)
    level_name = (level or os.environ.get(LEVEL_ENV) or "INFO").upper()
    shared: list[Processor] = [
        _add_request_id,
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: list[Processor]
    if chosen is LogFormat.json:
        # a plain traceback string: structlog's dict tracebacks would hold frame locals
        renderer = [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    else:  # no rich tracebacks either: they show frame locals (a bearer token, say)
        renderer = [structlog.dev.ConsoleRenderer(
            colors=_is_tty(stream), exception_formatter=structlog.dev.plain_traceback
        )]  # fmt: skip
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder(), _drop_color_message],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderer],
    )
    handler = logging.StreamHandler(stream)
    handler.set_name(_HANDLER)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("chemtrace").setLevel(level_name)
    logging.captureWarnings(True)
    # uvicorn's own lines through this handler too, whoever configured them before (a bare
    # ``uvicorn api.asgi:app`` has); its access log off for good, since it writes the query
    # string as sent, tokens and all: the access line is ours (:class:`RequestContext`).
    for name in ("uvicorn", "uvicorn.error", "uvicorn.asgi"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    uvicorn_access = logging.getLogger("uvicorn.access")
    uvicorn_access.handlers.clear()
    uvicorn_access.propagate = False
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    return chosen


def incoming_request_id(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The client's ``X-Request-ID`` (the first one), if it is a short safe token."""
    for name, value in headers:
        if name.lower() == b"x-request-id":
            text = value.decode("latin-1")
            return text if len(text) <= 64 and _SAFE_ID.fullmatch(text) else None
    return None


def redact(text: str) -> str:
    """``text`` with every chemtrace-token-shaped run written ``ct_REDACTED``."""
    return _TOKEN_LIKE.sub("ct_" + REDACTED, text)


def redact_query(query: bytes) -> str:
    """A query string fit for a log: the value of a parameter whose (decoded) name looks
    secret is ``REDACTED``, and so is any parameter holding something token-shaped."""
    pairs = []
    for pair in query.decode("ascii", "backslashreplace").split("&"):
        name, equals, _ = pair.partition("=")
        if _SECRET_NAME.search(unquote_plus(name)) or _TOKEN_LIKE.search(unquote_plus(pair)):
            pair = f"{redact(name)}{equals}{REDACTED}" if equals else REDACTED
        pairs.append(pair)
    return _clip("&".join(pairs))


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_LOGGED else text[:_MAX_LOGGED] + "…"


def _path_of(scope: Scope) -> str:
    """The path as the client sent it, still percent-encoded (so no control characters)."""
    raw = scope.get("raw_path")
    if isinstance(raw, bytes):
        path = raw.partition(b"?")[0].decode("ascii", "backslashreplace")
    else:
        path = quote(str(scope.get("path", "")), safe="/:@!$&'()*+,;=-._~")
    return _clip(redact(path))


ClientOf = Callable[[Request], str | None]


class RequestContext:
    """ASGI middleware: a request id for each request, its header, and the access log line.

    It reads one header and never the body (``receive`` is passed on untouched), so it can
    sit outside :class:`api.limits.RequestLimits`: the limits still run before anything
    reads or parses the body, and their refusals carry a request id and get their access
    line like any other answer.

    The id stays bound after the app returns, on purpose: the request's task ends with the
    request, and Starlette answers an unhandled exception (``api.problems``' 500) after
    every middleware has returned, in the same task, so its log line and problem+json get
    the id too. A new request's task starts from a context without one.
    """

    def __init__(self, app: ASGIApp, *, client_of: ClientOf | None = None) -> None:
        self.app = app
        self.client_of = client_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = incoming_request_id(scope["headers"]) or uuid.uuid4().hex
        _request_id.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        header = (b"x-request-id", request_id.encode("ascii"))
        started = time.perf_counter()
        status: int | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", ()))
                if not any(name.lower() == b"x-request-id" for name, _ in headers):
                    message = {**message, "headers": [*headers, header]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            status = status or 500  # Starlette's error middleware answers it, outside this one
            raise
        finally:
            self._log(scope, status, time.perf_counter() - started)

    def _log(self, scope: Scope, status: int | None, elapsed: float) -> None:
        principal = (scope.get("state") or {}).get("principal")
        access_log.info("request", extra={
            "method": scope.get("method"), "path": _path_of(scope),
            "query": redact_query(scope.get("query_string", b"")), "status": status,
            "duration_ms": round(elapsed * 1000, 2), "client": self._client(scope),
            "user_id": getattr(principal, "user_id", None),
        })  # fmt: skip

    def _client(self, scope: Scope) -> str | None:
        peer = scope.get("client")
        fallback = str(peer[0]) if peer else None
        if self.client_of is None:
            return fallback
        try:
            return self.client_of(Request(scope))
        except Exception:  # no service yet (a failed startup): the socket's peer
            return fallback
