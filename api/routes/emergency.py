"""The emergency view: hazardous material near a point (``api.services.emergency``)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from api.auth import Principal, current_principal, require
from api.pack_sheet import render_html, render_pdf
from api.problems import ProblemError, responses
from api.routes._common import service_of
from api.services.emergency import MAX_RADIUS_M, NearbyAnswer

router = APIRouter(prefix="/v1/emergency", tags=["emergency"])
READER = Depends(require("admin", "regulator", "responder"))
"""A city-wide regulator is a regulator (``api.auth.IMPLIED``); enterprises and
inspectors get 403."""

_DATE_TIME: Final = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
RFC3339: Final = re.compile(_DATE_TIME)
"""RFC 3339 ``date-time`` (section 5.6): an offset is required, ``Z`` or ``±hh:mm``."""


def parse_rfc3339(value: str, name: str) -> datetime:
    """An RFC 3339 time with any offset, as an aware datetime (fractions past microseconds
    are cut, as the ledger keeps microseconds).

    Raises:
        ProblemError: 422 ``invalid_request`` naming the parameter.
    """
    if RFC3339.fullmatch(value) is None:
        example = "2026-10-01T16:00:00+08:00 or 2026-10-01T08:00:00Z"
        raise ProblemError(
            422,
            "invalid_request",
            f"{name} must be RFC 3339 with an offset, like {example}",
            field=name,
        )
    text = value.upper().replace("Z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:
        digits = re.match(r"[0-9]+", rest)
        fraction = digits.group(0) if digits else ""
        text = f"{head}.{fraction[:6].ljust(6, '0')}{rest[len(fraction) :]}"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ProblemError(422, "invalid_request", f"{name} is not a real date and time",
                           field=name) from None  # fmt: skip


@router.get(
    "/nearby",
    response_model=NearbyAnswer,
    responses=responses(401, 403, 422),
    summary="Hazardous material within a radius of a point: sites nearest first, with what "
    "they hold at a time, and shipments in transit whose last GPS fix is inside.",
    description="Coordinates are **WGS-84** degrees (what GPS gives; a GCJ-02 map tile's "
    "coordinates must be converted first), distances geodesic metres on the WGS-84 "
    "ellipsoid. For each site: items, quantities and kilograms, totals per chemical and per "
    "hazard class (the UN transport class of the catalog's form), toxic-inhalation and "
    "flammable totals (defined in docs/emergency.md), the catalog's emergency advice and "
    "the holder's contact roles from the registry. Open to regulators (their districts; a "
    "city regulator every district), responders and admins.",
)
def nearby(
    request: Request,
    lat: Annotated[float, Query(description="WGS-84 latitude, -90 to 90")],
    lon: Annotated[float, Query(description="WGS-84 longitude, -180 to 180")],
    radius_m: Annotated[float, Query(
        description=f"radius in metres, more than 0 and at most {MAX_RADIUS_M:.0f}")],
    at: Annotated[str | None, Query(
        description="RFC 3339 time with any offset (default: now); the answer is in UTC",
        json_schema_extra={"pattern": f"^{_DATE_TIME}$"})] = None,
    principal: Principal = READER,
) -> NearbyAnswer:  # fmt: skip
    moment = None if at is None else parse_rfc3339(at, "at")
    return service_of(request).emergency.nearby(principal, lat=lat, lon=lon,
                                                radius_m=radius_m, at=moment)  # fmt: skip


ANYONE = Depends(current_principal)
"""The pack's scope is the service's: to a caller who may not see a district it is an
unknown one, so enterprises and inspectors get the same 404, not a 403."""
PACK_FORMATS: Final = {"json": "application/json", "html": "text/html",
                       "pdf": "application/pdf"}  # fmt: skip


def _pack_format(requested: str | None, accept: str | None) -> str:
    """``format`` if given, else the first of PDF or HTML the ``Accept`` header names,
    else JSON.

    Raises:
        ProblemError: 422 ``invalid_request`` for a format not offered.
    """
    if requested is not None:
        if requested not in PACK_FORMATS:
            raise ProblemError(422, "invalid_request",
                               f"format must be one of {', '.join(PACK_FORMATS)}",
                               field="format")  # fmt: skip
        return requested
    offered = [part.split(";", 1)[0].strip().lower() for part in (accept or "").split(",")]
    for media in offered:
        for name, media_type in PACK_FORMATS.items():
            if media == media_type:
                return name
    return "json"


@router.get(
    "/pack",
    responses={
        **responses(401, 404, 422),
        200: {"content": {"application/json": {}, "text/html": {}, "application/pdf": {}}},
    },
    summary="The offline responder pack of a district: what every site holds at the newest "
    "checkpoint, signed by the log key (JSON), or its printable HTML or PDF sheet.",
    description="Each site as `/v1/emergency/nearby` answers it (without `distance_m`; "
    "coordinates as decimal strings), at the newest checkpoint's log size, with district "
    "totals, the checkpoint (a C2SP signed note) and a detached signed note by the log key "
    "over the pack's RFC 8785 bytes. Verify it offline with `chemtrace emergency "
    "verify-pack` (docs/emergency.md, Responder pack). `format=html|pdf` (or `Accept: "
    "text/html`, `application/pdf`) gives the sheet instead. Open to regulators (their "
    "districts; a city regulator every district), responders and admins; to anyone else, "
    "and for a district out of scope, the answer is that of an unknown district (404 "
    "`district_not_found`).",
)
def pack(
    request: Request,
    district: Annotated[str, Query(min_length=1, max_length=32,
                                   description="the district, as the site records name it")],
    format: Annotated[str | None, Query(
        description="json (default), html or pdf")] = None,
    principal: Principal = ANYONE,
) -> Response:  # fmt: skip
    chosen = _pack_format(format, request.headers.get("accept"))
    return pack_answer(service_of(request).emergency_pack.pack(principal, district), chosen)


def pack_answer(document: dict[str, Any], chosen: str) -> Response:
    """The pack as JSON, or its HTML or PDF sheet (``chosen``: a :data:`PACK_FORMATS` key)."""
    if chosen == "html":
        return HTMLResponse(render_html(document))
    if chosen == "pdf":
        disposition = f'inline; filename="responder-pack-{document["district"]}.pdf"'
        return Response(render_pdf(document), media_type="application/pdf",
                        headers={"Content-Disposition": disposition})  # fmt: skip
    return JSONResponse(document)
