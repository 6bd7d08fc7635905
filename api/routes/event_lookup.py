"""One event by its hash, as findings and receipts cite it, scoped like the custody chain."""

from __future__ import annotations

import re
from typing import Annotated, Any, Final

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from api.auth import Caller
from api.problems import responses
from api.routes._common import service_of
from api.routes._params import pattern
from api.services.errors import NotFoundError
from ledger.canonical import b64encode, format_hash

router = APIRouter(prefix="/v1", tags=["events"])
HASH: Final = r"^(?:sha256:)?[0-9a-fA-F]{64}$"
_HASH: Final = re.compile(HASH)


class ItemLink(BaseModel):
    code: str
    seq: int
    role: str


class EventOut(BaseModel):
    """The event as it was signed and logged: its body, signature and place in the log."""

    event_hash: str
    index: int = Field(description="its log index (prove it with /v1/log/proof/inclusion)")
    log_time: str
    type: str
    time: str = Field(description="the device's time, as signed (UTC)")
    org: str
    site: str | None
    device_key: str
    items: list[ItemLink]
    body: dict[str, Any] = Field(description="the signed body, exactly as submitted")
    signature: dict[str, str]


@router.get(
    "/events/{event_hash}",
    response_model=EventOut,
    responses=responses(401, 403, 404),
    summary="An event by its hash, if it is in the part of a chain you may see.",
)
def get_event(
    request: Request,
    event_hash: Annotated[str, Path(description="`sha256:<64 hex>` (as findings' evidence and "
                          "chains cite it) or the bare hex; an event outside your view of "
                          "its items' chains is a 404, like one that does not exist",
                          json_schema_extra=pattern(HASH))],
    principal: Caller,
) -> EventOut:  # fmt: skip
    """Scoped exactly like `GET /v1/items/{code}/events`: an admin, regulator or inspector
    sees an event of an item in scope; an enterprise only an event of its own span of an
    item's chain. Errors: 403 `forbidden` (the responder role sees no chains); 404
    `event_not_found`."""
    if not _HASH.fullmatch(event_hash):
        raise NotFoundError("event", event_hash[:80], "no such event within your scope")
    digest = bytes.fromhex(event_hash.removeprefix("sha256:").lower())
    logged = service_of(request).queries.event(principal, digest)
    signed, body = logged.event, logged.event.body
    return EventOut(
        event_hash=format_hash(signed.event_hash), index=logged.index, log_time=logged.log_time,
        type=body.type, time=body.time, org=body.org, site=body.site, device_key=signed.key_id,
        items=[ItemLink(code=link.code, seq=link.seq, role=link.role) for link in body.items],
        body=dict(signed.raw_body),
        signature={"alg": signed.algorithm, "value": b64encode(signed.signature)},
    )  # fmt: skip
