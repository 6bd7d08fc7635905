"""Request limits, applied before anything else: header size, body size, JSON nesting depth.

:class:`RequestLimits` is the outermost middleware of the app. It reads the whole body, up
to ``max_body_bytes``, before authentication, routing or parsing run, so no route can be
made to buffer more than that (FastAPI reads a typed body before it checks the token), and
it tracks the nesting of a JSON body as the bytes arrive, so no JSON parser ever sees
nesting deep enough to recurse out of the stack. The body is then handed on to the app,
chunk by chunk as it came, without copying.

This is the one place the body size is enforced. Refusals are problem+json:

* 431 ``headers_too_large``: the header fields are over ``max_header_bytes``;
* 413 ``payload_too_large``: a declared ``Content-Length`` over the limit (answered before
  any of the body is read), or a streamed body that grows over it (cut off at the limit);
* 422 ``malformed_json``: a JSON body nested deeper than ``max_json_depth``;
* 400 ``invalid_header``: a field name that is not a token, or a control byte in a value;
* 400 ``invalid_content_length``: a ``Content-Length`` that is not a number.

What the HTTP server refuses never reaches an ASGI app: uvicorn's default parser (httptools)
answers control bytes in headers, conflicting lengths and the like with a plain-text 400
of its own. ``invalid_header`` is for servers that let such fields through (h11 does).
"""

from __future__ import annotations

import re
from collections import deque

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import ProblemError, respond

_OUTSIDE = re.compile(rb'(?:[^"\[\]{}]++|"[^"\\]*+(?:\\.[^"\\]*+)*+")*+', re.DOTALL)
"""Everything up to the next bracket outside a string, or to an unterminated string."""
_INSIDE = re.compile(rb'[^"\\]*+(?:\\.[^"\\]*+)*+', re.DOTALL)
"""The rest of a string up to its closing quote, or to a backslash that ends the piece."""
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
"""Bytes no field value may hold (RFC 9110, section 5.5): controls other than tab, and DEL."""
_QUOTE, _BACKSLASH = ord('"'), ord("\\")
_OPENERS = frozenset(b"[{")


def _skip(pattern: re.Pattern[bytes], data: bytes, position: int) -> int:
    found = pattern.match(data, position)
    return found.end() if found is not None else position


class JsonDepth:
    """The nesting depth of a JSON text fed in pieces: ``[ {`` and ``] }`` outside strings.

    Only depth is tracked; whether the text is JSON is for the parser to decide later.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.depth = 0
        self._in_string = False
        self._escaped = False  # the last piece ended on a backslash in a string

    def feed(self, data: bytes) -> bool:
        """Scan the next piece; False once the nesting has gone deeper than the limit."""
        position, end = 0, len(data)
        if self._escaped and end:
            position, self._escaped = 1, False
        while position < end:
            if self._in_string:
                position = _skip(_INSIDE, data, position)
                if position == end:
                    break
                if data[position] == _BACKSLASH:
                    self._escaped = True
                    break
                self._in_string = False
                position += 1
                continue
            position = _skip(_OUTSIDE, data, position)
            if position == end:
                break
            byte = data[position]
            position += 1
            if byte == _QUOTE:
                self._in_string = True
            elif byte in _OPENERS:
                self.depth += 1
                if self.depth > self.limit:
                    return False
            elif self.depth:
                self.depth -= 1
        return True


def _is_json(content_type: bytes | None) -> bool:
    """Whether some route parses a body of this type as JSON (``read_json`` does untyped ones)."""
    media = (content_type or b"").split(b";", 1)[0].strip().lower()
    return media in (b"", b"application/json") or (
        media.startswith(b"application/") and media.endswith(b"+json")
    )


def _check_headers(headers: list[tuple[bytes, bytes]], limit: int) -> None:
    """Refuse header fields over ``limit`` bytes in all, or not as RFC 9110 spells them."""
    if sum(len(name) + len(value) for name, value in headers) > limit:
        detail = f"the header fields are over {limit} bytes"
        raise ProblemError(431, "headers_too_large", detail, limit=limit)
    for name, value in headers:
        if _TOKEN.fullmatch(name) is None:
            raise ProblemError(400, "invalid_header", "a header field name is not a token")
        if _CONTROL.search(value) is not None:
            detail = f"the {name.decode('ascii')} header field holds a control character"
            raise ProblemError(400, "invalid_header", detail, header=name.decode("ascii"))


class _ClientGoneError(Exception):
    """The client went away while its body was being read."""


class RequestLimits:
    """ASGI middleware refusing oversized headers and bodies and over-deep JSON, first."""

    def __init__(
        self, app: ASGIApp, *, max_header_bytes: int, max_body_bytes: int, max_json_depth: int
    ) -> None:
        self.app = app
        self.max_header_bytes = max_header_bytes
        self.max_body_bytes = max_body_bytes
        self.max_json_depth = max_json_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            chunks = await self._read(scope, receive)
        except ProblemError as refusal:
            await respond(refusal)(scope, receive, send)
            return
        except _ClientGoneError:
            return
        await self.app(scope, _replay(chunks, receive), send)

    def _too_large(self) -> ProblemError:
        limit = self.max_body_bytes
        return ProblemError(
            413, "payload_too_large", f"the body is over {limit} bytes", limit=limit
        )

    async def _read(self, scope: Scope, receive: Receive) -> deque[bytes]:
        """The body, checked against every limit; raises the refusal's problem."""
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        _check_headers(headers, self.max_header_bytes)
        fields = dict(reversed(headers))  # the first of repeated fields wins, as in Starlette
        declared = fields.get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                raise ProblemError(400, "invalid_content_length", "Content-Length is not a number")
            if int(declared) > self.max_body_bytes:
                raise self._too_large()
        depth = JsonDepth(self.max_json_depth) if _is_json(fields.get(b"content-type")) else None
        chunks: deque[bytes] = deque()
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _ClientGoneError
            body: bytes = message.get("body", b"")
            more = bool(message.get("more_body", False))
            size += len(body)
            if size > self.max_body_bytes:
                chunks.clear()
                raise self._too_large()
            if depth is not None and not depth.feed(body):
                chunks.clear()
                detail = f"the JSON is nested deeper than {depth.limit} levels"
                raise ProblemError(422, "malformed_json", detail, field="$", limit=depth.limit)
            if body:
                chunks.append(body)
        return chunks


def _replay(chunks: deque[bytes], receive: Receive) -> Receive:
    """A ``receive`` giving the app the body read already, then the client's later messages."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if chunks or not replayed:
            replayed = True
            body = chunks.popleft() if chunks else b""
            return {"type": "http.request", "body": body, "more_body": bool(chunks)}
        return await receive()

    return replay
