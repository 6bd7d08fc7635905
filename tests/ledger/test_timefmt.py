"""``UTC_PATTERN`` (what schemas say a time is) accepts exactly what ``parse_utc`` does."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import InvalidInputError
from ledger.timefmt import UTC_PATTERN, format_utc, parse_utc

PATTERN = re.compile(UTC_PATTERN)


def _parses(text: str) -> bool:
    try:
        parse_utc(text)
    except InvalidInputError:
        return False
    return True


def _agree(text: str) -> None:
    assert (PATTERN.fullmatch(text) is not None) == _parses(text), text


def test_every_day_of_leap_and_common_years_and_none_of_the_impossible_ones() -> None:
    for year in (0, 1, 4, 100, 400, 1900, 2000, 2023, 2024, 2100, 9996, 9999):
        for month in range(14):
            for day in range(33):
                _agree(f"{year:04d}-{month:02d}-{day:02d}T00:00:00Z")


def test_29_february_in_every_year() -> None:
    for year in range(10_000):
        _agree(f"{year:04d}-02-29T23:59:59.999999Z")


def test_clock_fields_and_fractions() -> None:
    for hour, minute, second in (
        (h, m, s) for h in range(26) for m in (0, 59, 60) for s in (0, 59, 60)
    ):
        _agree(f"2026-01-01T{hour:02d}:{minute:02d}:{second:02d}Z")
    for text in ("2026-01-01T00:00:00.Z", "2026-01-01T00:00:00.1234567Z", "2026-01-01t00:00:00Z",
                 "2026-01-01T00:00:00+00:00", "2026-01-01T00:00:00.000000Z", "2026-01-01 00:00:00Z"):  # fmt: skip
        _agree(text)


@given(st.datetimes(min_value=datetime(1, 1, 1), timezones=st.just(UTC)))
def test_every_time_the_log_writes_matches(moment: datetime) -> None:
    assert PATTERN.fullmatch(format_utc(moment))


@given(
    st.from_regex(
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,7})?Z", fullmatch=True
    )
)
def test_near_misses_agree(text: str) -> None:
    _agree(text)


@given(st.from_regex(PATTERN, fullmatch=True))
def test_what_the_pattern_generates_parses(text: str) -> None:
    parse_utc(text)


# -- query times: any offset (ledger.timefmt.parse_rfc3339) ------------------------------------


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2026-10-01T08:00:00+08:00", "2026-10-01T00:00:00Z"),
        ("2026-10-01T00:00:00Z", "2026-10-01T00:00:00Z"),
        ("2026-10-01t00:00:00z", "2026-10-01T00:00:00Z"),
        ("2026-09-30T23:30:00-00:30", "2026-10-01T00:00:00Z"),
        ("2026-10-01T00:00:00-00:00", "2026-10-01T00:00:00Z"),
        ("2026-10-01T08:00:00.5+08:00", "2026-10-01T00:00:00.500000Z"),
        ("2026-10-01T08:00:00.123456789+08:00", "2026-10-01T00:00:00.123456Z"),
        ("2024-02-29T23:00:00-02:00", "2024-03-01T01:00:00Z"),
        ("2026-01-01T07:59:59+08:00", "2025-12-31T23:59:59Z"),
    ],
)
def test_a_query_time_with_any_offset_is_read_as_utc(text: str, utc: str) -> None:
    from ledger.timefmt import OFFSET_PATTERN, normalise_query_time

    assert normalise_query_time(text) == utc
    assert re.fullmatch(OFFSET_PATTERN, text)


@pytest.mark.parametrize("text", ["2026-10-01T08:00:00", "2026-10-01 08:00:00Z",
                                  "2026-10-01T08:00:00+0800", "2026-10-01T08:00:00+24:00",
                                  "2026-10-01T08:00:00+08:60", "2026-02-29T00:00:00Z",
                                  "2026-10-01T24:00:00Z", "2026-10-01T08:00:60Z", "",
                                  "0000-01-01T00:00:00Z"])  # fmt: skip
def test_a_query_time_without_an_offset_or_impossible_is_refused(text: str) -> None:
    from ledger.timefmt import OFFSET_PATTERN, parse_rfc3339

    with pytest.raises(InvalidInputError):
        parse_rfc3339(text)
    assert not re.fullmatch(OFFSET_PATTERN, text)
