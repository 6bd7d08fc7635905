"""The log as C2SP tlog-tiles (https://c2sp.org/tlog-tiles), public like ``/v1/log``.

``/tlog/checkpoint`` is the latest checkpoint (what ``/v1/log/checkpoint`` serves), and
``/tlog/tile/<L>/<N>[.p/<W>]`` and ``/tlog/tile/entries/<N>[.p/<W>]`` its hash tiles and
entry bundles. Full tiles never change and are cached for a year (``immutable``, with an
``ETag``); partial tiles and the checkpoint for seconds. Only the tiles of the latest
checkpoint exist, with the narrower partial tiles earlier checkpoints needed until their
full tile is there (:func:`ledger.tiles.is_servable`): anything else is a 404
``tile_not_found``, as from a static copy.

These routes are left out of the OpenAPI document: their contract is the C2SP spec, and
their paths (``x001/x234/067``) are files, not parameters.
"""

from __future__ import annotations

import hashlib
from typing import Final

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse

from api.routes._common import service_of

router = APIRouter(prefix="/tlog", tags=["log (C2SP tlog-tiles)"], include_in_schema=False)
OCTET_STREAM: Final = "application/octet-stream"
IMMUTABLE: Final = "public, max-age=31536000, immutable"
SHORT_LIVED: Final = "public, max-age=5"
CHECKPOINT_CACHE: Final = "no-cache"


# HEAD as well: caches and CDN origins ask it before they fetch (Starlette answers it
# without a body).
@router.api_route("/checkpoint", methods=["GET", "HEAD"], response_class=PlainTextResponse)
def checkpoint(request: Request) -> PlainTextResponse:
    """The latest checkpoint (a C2SP signed note), never cached for long."""
    note = service_of(request).tiles.checkpoint()
    return PlainTextResponse(note, headers={"Cache-Control": CHECKPOINT_CACHE})


@router.api_route("/tile/{path:path}", methods=["GET", "HEAD"])
def tile(request: Request, path: str) -> Response:
    """A hash tile or entry bundle the latest checkpoint requires."""
    served = service_of(request).tiles.get(f"tile/{path}")
    if not served.immutable:
        return Response(served.data, media_type=OCTET_STREAM,
                        headers={"Cache-Control": SHORT_LIVED})  # fmt: skip
    etag = f'"{hashlib.sha256(served.data).hexdigest()[:32]}"'
    headers = {"Cache-Control": IMMUTABLE, "ETag": etag}
    if etag in _etags(request.headers.get("if-none-match", "")):
        return Response(status_code=304, headers=headers)
    return Response(served.data, media_type=OCTET_STREAM, headers=headers)


def _etags(header: str) -> set[str]:
    """The entity tags of an ``If-None-Match`` header (weak ones compare alike here)."""
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}
