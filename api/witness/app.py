"""The witness's HTTP interface (tlog-witness): a small Starlette app around a :class:`Witness`.

::

    POST /add-checkpoint              200 text/plain: the cosignature line
                                      409 text/x.tlog.size: "<latest cosigned size>\\n"
                                      400 403 404 422 text/plain: a short reason
                                      413 body over 64 KiB; 503 after a failed durable write
    GET  /<sha256(origin) hex>/checkpoint   the latest cosigned checkpoint, 404 if none
    GET  /healthz                     200 "ok", 503 once a durable write failed

Refusals are mapped to statuses here and only here (``ledger.witness.HTTP_STATUS``). The
blocking work (the state lock, the fsyncs) runs in the thread pool, never on the event loop.
"""

from __future__ import annotations

import re
from typing import Final

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from api.witness.state import Witness, WitnessUnavailableError
from ledger.errors import OldSizeConflictError, WitnessRefusedError
from ledger.witness import HTTP_STATUS

MAX_BODY: Final = 64 * 1024
"""Far above any honest request: an old line, at most 63 proof lines and a checkpoint note."""
SIZE_TYPE: Final = "text/x.tlog.size"
_ORIGIN_HASH: Final = re.compile(r"[0-9a-f]{64}")


class _TooLargeError(Exception):
    pass


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise _TooLargeError
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > MAX_BODY:
            raise _TooLargeError
        chunks.append(chunk)
    return b"".join(chunks)


def _status(refusal: WitnessRefusedError) -> int:
    for kind in type(refusal).__mro__:
        if kind in HTTP_STATUS:
            return HTTP_STATUS[kind]
    return 400


def _refusal(refusal: WitnessRefusedError) -> Response:
    if isinstance(refusal, OldSizeConflictError):
        # Set by hand: Starlette would append "; charset=utf-8" to a text/* media type,
        # and the spec names the Content-Type exactly.
        return Response(f"{refusal.latest}\n", status_code=409, headers={"content-type": SIZE_TYPE})
    return PlainTextResponse(refusal.diagnostics() + "\n", status_code=_status(refusal))


def create_app(witness: Witness) -> Starlette:
    """Return the ASGI app serving ``witness`` (which the caller opened and will close)."""

    async def add_checkpoint(request: Request) -> Response:
        try:
            body = await _read_body(request)
        except _TooLargeError:
            return PlainTextResponse(f"request body over {MAX_BODY} bytes\n", status_code=413)
        try:
            lines = await run_in_threadpool(witness.add_checkpoint, body)
        except WitnessRefusedError as refusal:
            return _refusal(refusal)
        except WitnessUnavailableError as exc:
            return PlainTextResponse(f"{exc}\n", status_code=503)
        return PlainTextResponse(lines)

    async def checkpoint(request: Request) -> Response:
        hashed = request.path_params["origin_hash"]
        note = None
        if _ORIGIN_HASH.fullmatch(hashed):
            note = await run_in_threadpool(witness.cosigned_note, hashed)
        if note is None:
            return PlainTextResponse("this witness has cosigned no checkpoint of that log\n", 404)
        return PlainTextResponse(note)

    async def healthz(_: Request) -> Response:
        if witness.healthy:
            return PlainTextResponse("ok\n")
        return PlainTextResponse("storage failed; restart the witness\n", status_code=503)

    return Starlette(
        routes=[
            Route("/add-checkpoint", add_checkpoint, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/{origin_hash}/checkpoint", checkpoint, methods=["GET"]),
        ]
    )
