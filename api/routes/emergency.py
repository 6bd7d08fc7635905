"""The emergency view: hazardous material near a point (``api.services.emergency``)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Query, Request

from api.auth import Principal, require
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
