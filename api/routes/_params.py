"""Path and query parameters shared by the routes, with the constraints the server enforces.

Most constraints here are stated for the OpenAPI document only (``json_schema_extra``): the
route, or the service behind it, already refuses a value that breaks them, with its own
status and code (a malformed id is a 404 like a missing one, so that scopes leak nothing; a
malformed finding filter a 400 ``invalid_filter``), and declaring them to FastAPI would
turn those answers into its generic 422. Where nothing else checks a value, FastAPI does
(``pattern=``), which is said at the declaration.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import Path, Query
from starlette.convertors import Convertor, register_url_convertor

from ledger.codes import CODE_PATTERN
from ledger.timefmt import UTC_PATTERN

ENTITY_ID: Final = r"^[a-z0-9][a-z0-9._-]{1,63}$"
"""A registry record's id (``ledger.events.EntityId``)."""
KEY_ID: Final = r"^[0-9a-f]{32}$"
FINDING_ID: Final = r"^f-[0-9a-f]{32}$"
WEBHOOK_ID: Final = r"^wh-[0-9a-f]{24}$"
PLAIN: Final = r"^[^\x00-\x1f\x7f]*$"
"""Text without control characters."""


class _Segment(Convertor[str]):
    """``{name:segment}``: a path segment without ``:``, so that ``/findings/{id}`` does not
    also match ``/findings/{id}:transition`` (nor claim its methods in ``Allow``)."""

    regex = "[^/:]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("segment", _Segment())


class _Anything(Convertor[str]):
    """``{name:anything}``: the rest of the path up to what follows it, line breaks too.
    Starlette's ``path`` stops at one (``.``), so a value holding one would match no route
    and get a bare 404 rather than the route's own answer."""

    regex = r"[\s\S]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("anything", _Anything())


def pattern(regex: str, **extra: Any) -> dict[str, Any]:
    """``json_schema_extra`` stating a pattern (and more) the route enforces itself."""
    return {"pattern": regex, **extra}


Code = Annotated[
    str,
    Path(
        description="a trace code in its printed form, CT-XXXXX-XXXXX-XXXXX (typed forms are "
        "read too: lowercase, without hyphens, O for 0, I or L for 1); one that is "
        "not issued, or not in your scope, is a 404",
        json_schema_extra=pattern(CODE_PATTERN.pattern),
    ),
]
LabelCode = Annotated[
    str,
    Path(
        description="a trace code in its printed form, CT-XXXXX-XXXXX-XXXXX (typed forms are "
        "read too); a malformed one (a wrong check character, say) is a 422 `invalid_code`, "
        "one that is not issued, or not in your scope, a 404",
        json_schema_extra=pattern(CODE_PATTERN.pattern),
    ),
]
RecordId = Annotated[
    str,
    Path(description="the record's id; an unknown one is a 404",
         json_schema_extra=pattern(ENTITY_ID)),
]  # fmt: skip
UserId = Annotated[str, Path(description="a user's id", pattern=ENTITY_ID)]
"""Checked here: revoking the tokens of no user is not an error (none are revoked)."""
SiteId = Annotated[
    str,
    Path(description="a site's id; an unknown one is a 404", json_schema_extra=pattern(ENTITY_ID)),
]
KeyId = Annotated[
    str,
    Path(description="a device key id (32 hex digits); an unknown one is a 404",
         json_schema_extra=pattern(KEY_ID)),
]  # fmt: skip
FindingId = Annotated[
    str,
    Path(description="a finding id; an unknown one, or one outside your scope, is a 404",
         json_schema_extra=pattern(FINDING_ID)),
]  # fmt: skip
WebhookId = Annotated[
    str,
    Path(description="a webhook id; an unknown one, or another user's, is a 404",
         json_schema_extra=pattern(WEBHOOK_ID)),
]  # fmt: skip


def time_query(description: str) -> Any:
    """An optional RFC 3339 UTC time in the query, checked by the route."""
    return Query(description=description, json_schema_extra=pattern(UTC_PATTERN))


def enum_query(values: tuple[str, ...] | frozenset[str], description: str = "") -> Any:
    """An optional choice in the query, checked by the route."""
    choices = list(values) if isinstance(values, tuple) else sorted(values)
    return Query(description=description or " | ".join(choices),
                 json_schema_extra={"enum": choices})  # fmt: skip


def plain_query(description: str = "") -> Any:
    """Optional free text in the query, which the route refuses with control characters in."""
    return Query(description=description or None, json_schema_extra=pattern(PLAIN))
