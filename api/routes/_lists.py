"""What the list endpoints share: cursors, totals, query times and CSV answers."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Annotated, Any, Final, Literal, TypedDict, TypeVar

from fastapi import Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from api import csv_export
from api.problems import ProblemError
from api.routes._common import service_of
from api.routes._params import pattern
from api.services.access import Principal
from api.services.paging import (
    InvalidCursorError,
    Page,
    Position,
    TotalKind,
    fingerprint,
    page_of,
)
from ledger.errors import LedgerError
from ledger.timefmt import OFFSET_PATTERN, format_utc, normalise_query_time, parse_utc

T = TypeVar("T")
A = TypeVar("A")
CURSOR: Final = r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$"

Cursor = Annotated[
    str | None,
    Query(description="where to continue: a previous page's `next_cursor` (opaque; one "
          "given for another query, another caller, or altered, is a 422 `invalid_cursor`)",
          json_schema_extra=pattern(CURSOR)),
]  # fmt: skip
PageLimit = Annotated[
    int | None,
    Query(ge=1, le=5000, description="rows per page (default: all); the `Link` header names "
          "the next page, `X-Total-Count` the total"),
]  # fmt: skip
Format = Annotated[
    str | None,
    Query(description="`csv` for a CSV export (as `Accept: text/csv`); default JSON",
          json_schema_extra={"enum": ["json", "csv"]}),
]  # fmt: skip
Bom = Annotated[
    bool,
    Query(description="CSV only: start with a UTF-8 byte order mark, so that Excel reads "
          "Chinese text right (default true)"),
]  # fmt: skip


class PageInfo(BaseModel):
    """How the list goes on: the total and the cursor of the next page."""

    total: int = Field(description="how many rows match, over all pages")
    total_kind: Literal["exact", "capped", "estimated"] = Field(
        description="`exact`; `capped`: at least `total` (counting stopped there); "
        "`estimated`: an estimate"
    )
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; "
                                    "null on the last page")  # fmt: skip


class PageFields(TypedDict):
    """A :class:`PageInfo`'s fields, to spread into a list answer's model."""

    total: int
    total_kind: TotalKind
    next_cursor: str | None


def query_time(value: str | None, name: str) -> str | None:
    """A query time (RFC 3339, any offset) as the UTC text signed times are compared with."""
    if value is None:
        return None
    try:
        return normalise_query_time(value)
    except LedgerError:
        raise ProblemError(
            422, "invalid_request",
            f"{name} must be an RFC 3339 time with an offset, like 2026-10-01T08:00:00+08:00 "
            "or 2026-10-01T00:00:00Z", field=name,
        ) from None  # fmt: skip


def stored_time(value: str | None, name: str) -> str | None:
    """A query time as the stores write their times (UTC, with microseconds)."""
    return None if value is None else format_utc(parse_utc(query_time(value, name) or value))


def time_param(description: str) -> Any:
    """An optional RFC 3339 time (any offset) in the query, checked by :func:`query_time`."""
    return Query(description=description + "; RFC 3339 with any offset (+08:00 or Z), "
                 "read as UTC", json_schema_extra=pattern(OFFSET_PATTERN))  # fmt: skip


def query_of(request: Request, principal: Principal) -> str:
    """The fingerprint a cursor of this request is bound to."""
    return fingerprint(request.url.path, principal.user_id, request.query_params.multi_items())


def after_of(
    request: Request, principal: Principal, cursor: str | None, shape: Sequence[type]
) -> Position | None:
    """The position ``cursor`` resumes after (checked against this request and caller)."""
    if cursor is None:
        return None
    after = service_of(request).cursors.decode(query_of(request, principal), cursor)
    if len(after) != len(shape) or not all(
        isinstance(v, t) and not isinstance(v, bool) for v, t in zip(after, shape, strict=True)
    ):
        raise InvalidCursorError("the cursor was not given for this list")
    return after


def after_pair(
    request: Request, principal: Principal, cursor: str | None
) -> tuple[str, str] | None:
    """The (time, id) position ``cursor`` resumes after, for lists a store pages itself."""
    after = after_of(request, principal, cursor, (str, str))
    return None if after is None else (after[0], after[1])


def next_cursor(request: Request, principal: Principal, page: Page[Any]) -> str | None:
    if page.next_position is None:
        return None
    return service_of(request).cursors.encode(query_of(request, principal), page.next_position)


def paged(
    request: Request, principal: Principal, rows: Iterable[T],
    key: Callable[[T], Sequence[Any]], shape: Sequence[type], *, cursor: str | None,
    limit: int | None,
) -> tuple[Page[T], str | None]:  # fmt: skip
    """One keyset page of ``rows`` (all of them for ``limit=None``) and its next cursor."""
    after = after_of(request, principal, cursor, shape)
    page = page_of(rows, key, after=after, limit=limit if limit is not None else 1 << 62)
    return page, next_cursor(request, principal, page)


def cut_page(
    request: Request, principal: Principal, rows: list[T], limit: int,
    position: Callable[[T], Position],
) -> tuple[list[T], str | None]:  # fmt: skip
    """``rows`` fetched one over ``limit``: the first ``limit`` and, if there were more, the
    cursor after the last of them (at its ``position``)."""
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    query = query_of(request, principal)
    return rows, service_of(request).cursors.encode(query, position(rows[-1]))


def page_headers(
    request: Request, response: Response, page: Page[Any], following: str | None
) -> None:
    """The page's total and next page as headers, for lists whose body is a bare array:
    ``X-Total-Count``, ``X-Total-Kind`` and an RFC 8288 ``Link: <…>; rel="next"``."""
    response.headers["X-Total-Count"] = str(page.total)
    response.headers["X-Total-Kind"] = page.total_kind
    if following is not None:
        url = request.url.include_query_params(cursor=following)
        response.headers["Link"] = f'<{url.path}?{url.query}>; rel="next"'


def headed_page(
    request: Request, response: Response, principal: Principal, rows: Iterable[T],
    key: Callable[[T], Sequence[Any]], *, cursor: str | None, limit: int | None,
) -> list[T]:  # fmt: skip
    """A page of ``rows`` by a one-string ``key``, for a list whose body is a bare array (its
    total and next page go in :func:`page_headers`)."""
    page, following = paged(request, principal, rows, key, (str,), cursor=cursor, limit=limit)
    page_headers(request, response, page, following)
    return page.rows


PAGE_HEADERS: Final[dict[str, Any]] = {
    "X-Total-Count": {"description": "how many rows match, over all pages",
                      "schema": {"type": "integer"}},
    "X-Total-Kind": {"description": "exact | capped | estimated",
                     "schema": {"type": "string", "enum": ["exact", "capped", "estimated"]}},
    "Link": {"description": 'the next page, as `<…>; rel="next"` (RFC 8288); absent on the '
             "last page", "schema": {"type": "string"}},
}  # fmt: skip


def wants_csv(request: Request, format: str | None) -> bool:
    """``format=csv``, or (without ``format``) an ``Accept`` that prefers CSV to JSON."""
    if format is not None:
        if format not in ("json", "csv"):
            raise ProblemError(422, "invalid_request", "format must be json or csv",
                               field="format")  # fmt: skip
        return format == "csv"
    best: dict[str, float] = {}
    for part in request.headers.get("accept", "").split(","):
        media, *params = (p.strip() for p in part.split(";"))
        weight = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        best[media.lower()] = max(best.get(media.lower(), 0.0), weight)
    csv = best.get("text/csv", 0.0)
    json = max(best.get("application/json", 0.0), best.get("application/*", 0.0),
               best.get("*/*", 0.0))  # fmt: skip
    return csv > 0 and csv >= json


CSV_RESPONSE: Final[dict[int | str, dict[str, Any]]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}},
          "description": "JSON, or CSV with `format=csv` or `Accept: text/csv`"},
}  # fmt: skip


def page_size(limit: int | None, csv: bool, default: int) -> int | None:
    """A page's size: as asked, else the default; a CSV export without a limit has all rows."""
    return limit if limit is not None else (None if csv else default)


def page_fields(page: Page[Any], following: str | None) -> PageFields:
    return {"total": page.total, "total_kind": page.total_kind, "next_cursor": following}


def list_answer(
    csv: bool, rows: Iterable[T], fields: PageFields, answer: Callable[[PageFields], A], *,
    name: str, columns: Sequence[str], bom: bool,
    cells: Callable[[T], Sequence[object]] | None = None,
) -> A | StreamingResponse:  # fmt: skip
    """A page as a list route answers it: ``answer(fields)`` (JSON), or (``csv``) the
    ``columns`` of ``rows`` as ``name``.csv, with the total and next cursor in
    ``X-Total-Count`` / ``X-Next-Cursor``. ``cells`` defaults to the rows' attributes."""
    if not csv:
        return answer(fields)
    row_of = cells or (lambda row: [getattr(row, n) for n in columns])
    headers = {"Content-Disposition": f'attachment; filename="{name}.csv"',
               "X-Total-Count": str(fields["total"])}  # fmt: skip
    if fields["next_cursor"] is not None:
        headers["X-Next-Cursor"] = fields["next_cursor"]
    return StreamingResponse(csv_export.lines(columns, (row_of(row) for row in rows), bom=bom),
                             media_type=csv_export.MEDIA_TYPE, headers=headers)  # fmt: skip
