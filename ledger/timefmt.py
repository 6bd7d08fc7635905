"""RFC 3339 UTC timestamps: the only time format in signed bytes.

Signed times are strings ending in ``Z`` with at most microsecond precision.
Offsets other than ``Z`` are rejected rather than converted; fractional digits may vary
(``…00Z`` and ``…00.000Z`` are the same instant), and the log writes microseconds.
"""

from __future__ import annotations

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
