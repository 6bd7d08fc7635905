"""RFC 3339 UTC timestamps: the only time format in signed bytes.

Signed times are strings ending in ``Z`` with at most microsecond precision.
Offsets other than ``Z`` are rejected rather than converted; fractional digits may vary
(``…00Z`` and ``…00.000Z`` are the same instant), and the log writes microseconds.
"""

from __future__ import annotations

import contextlib
import functools
import re
from datetime import UTC, datetime

from ledger.errors import InvalidInputError

_RFC3339_UTC = re.compile(
    r"^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,6}))?Z$"
)

_YEAR = r"(?:000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})"
_LEAP_YEAR = r"(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"
_MONTH_DAY = (
    r"(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)
UTC_PATTERN = (
    rf"^(?:{_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?Z$"
)
"""Exactly the texts :func:`parse_utc` accepts, as one regular expression (for schemas:
JSON Schema cannot call a parser). Unlike ``_RFC3339_UTC`` it knows the calendar: months
have their lengths, 29 February is in leap years only, and there is no year 0."""


@functools.lru_cache(maxsize=4096)
def parse_utc(text: str) -> datetime:
    """Parse ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z`` into an aware UTC datetime.

    Raises:
        InvalidInputError: the text is not an RFC 3339 UTC timestamp.
    """
    match = _RFC3339_UTC.fullmatch(text)
    if match is None:
        raise InvalidInputError("time must be RFC 3339 UTC like 2026-01-31T08:00:00Z", value=text)
    with contextlib.suppress(ValueError):
        # the same datetime as below (UTC, the fraction padded to microseconds), built in C;
        # an impossible date falls through to the message below
        return datetime.fromisoformat(text)
    year, month, day, hour, minute, second, fraction = match.groups()
    micro = int((fraction or "0").ljust(6, "0"))
    try:
        return datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=UTC
        )
    except ValueError as exc:
        raise InvalidInputError(f"impossible date or time: {exc}", value=text) from exc


def format_utc(moment: datetime) -> str:
    """Render an aware datetime as RFC 3339 UTC with microseconds.

    Raises:
        InvalidInputError: the datetime is naive.
    """
    if moment.tzinfo is None:
        raise InvalidInputError("naive datetime has no time zone")
    utc = moment.astimezone(UTC)
    # strftime("%Y") does not zero-pad years below 1000 on glibc.
    return f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S.%f}Z"


_RFC3339_ANY = re.compile(
    r"^([0-9]{4}-[0-9]{2}-[0-9]{2})[Tt]([0-9]{2}:[0-9]{2}:[0-9]{2})(\.[0-9]{1,9})?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
OFFSET_PATTERN = (
    rf"^(?:{_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
    r"[Tt](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,9})?"
    r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$"
)
"""Exactly the texts :func:`parse_rfc3339` accepts (for schemas), like :data:`UTC_PATTERN`."""


def parse_rfc3339(text: str) -> datetime:
    """Parse an RFC 3339 date-time with any offset (``+08:00``, ``-05:00``, ``Z``) into an
    aware UTC datetime, for query parameters (signed bytes stay :func:`parse_utc`'s ``Z``).

    Fractions beyond microseconds are truncated; ``-00:00`` (RFC 3339 §4.3, "offset
    unknown") is read as UTC. No leap seconds (``:60``): Python's datetime has none.

    Raises:
        InvalidInputError: the text is not an RFC 3339 date-time with an offset.
    """
    match = _RFC3339_ANY.fullmatch(text)
    if match is None:
        raise InvalidInputError(
            "time must be RFC 3339 with an offset, like 2026-10-01T08:00:00+08:00", value=text
        )
    day, clock, fraction, zone = match.groups()
    micro = (fraction or ".0")[1:7].ljust(6, "0")
    zone = "+00:00" if zone in ("Z", "z") else zone
    if not (0 <= int(zone[1:3]) <= 23 and 0 <= int(zone[4:6]) <= 59):
        raise InvalidInputError("impossible offset", value=text)
    try:
        return datetime.fromisoformat(f"{day}T{clock}.{micro}{zone}").astimezone(UTC)
    except ValueError as exc:
        raise InvalidInputError(f"impossible date or time: {exc}", value=text) from exc
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is in year 0, which datetime lacks
        raise InvalidInputError("the time is before year 1 or after 9999 in UTC",
                                value=text) from None  # fmt: skip


def normalise_query_time(text: str) -> str:
    """A query time with any offset as the UTC text signed times are compared with: whole
    seconds as ``…:SSZ``, a fraction as its microseconds (``…:SS.ffffffZ``)."""
    moment = parse_rfc3339(text)
    if moment.microsecond:
        return format_utc(moment)
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}Z"
