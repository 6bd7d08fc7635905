"""The Beijing calendar: local dates, and Civil Code day counting (arts. 201, 203)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.localtime import (
    OFFICIAL_YEARS,
    day_end,
    day_start,
    days_after,
    is_official,
    is_rest_day,
    local_date,
)

DAY = timedelta(days=1)
Moments = st.datetimes(datetime(2004, 1, 1), datetime(2030, 12, 31), timezones=st.just(UTC))


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- local dates -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "day"),
    [
        ("2026-03-04T15:59:59Z", "2026-03-04"),  # 23:59:59 Beijing
        ("2026-03-04T16:00:00Z", "2026-03-05"),  # 00:00:00 Beijing: the next day
        ("2026-03-04T23:59:59Z", "2026-03-05"),  # 07:59:59 Beijing, still the UTC 4th
        ("2026-03-05T00:00:00Z", "2026-03-05"),  # 08:00 Beijing
        ("2026-12-31T16:00:00Z", "2027-01-01"),  # a new Beijing year while UTC's is old
    ],
)
def test_the_local_date_is_beijings(moment: str, day: str) -> None:
    assert local_date(_utc(moment)) == date.fromisoformat(day)
    assert local_date(_utc(moment).timestamp()) == date.fromisoformat(day)


def test_a_naive_datetime_names_no_instant() -> None:
    with pytest.raises(ValueError, match="naive"):
        local_date(datetime(2026, 3, 4, 12))


@given(moment=Moments)
def test_the_local_date_is_the_utc_date_eight_hours_on(moment: datetime) -> None:
    assert local_date(moment) == (moment + timedelta(hours=8)).date()
    day = local_date(moment)
    assert day_start(day) <= moment < day_end(day)
    assert day_end(day) - day_start(day) == DAY
    assert day_start(day).hour == 16 and day_start(day).date() == day - DAY


# -- rest days -----------------------------------------------------------------------------


def test_official_data_covers_2004_to_2026() -> None:
    assert range(2004, 2027) == OFFICIAL_YEARS
    assert is_official(date(2004, 1, 1)) and is_official(date(2026, 12, 31))
    assert not is_official(date(2003, 12, 31)) and not is_official(date(2027, 1, 1))


@pytest.mark.parametrize(
    ("day", "rest"),
    [
        ("2026-02-13", False),  # Friday before the Spring Festival
        ("2026-02-14", False),  # Saturday made a working day (调休)
        ("2026-02-15", True),  # Spring Festival holiday, Feb 15-23
        ("2026-02-17", True),  # 初一
        ("2026-02-23", True),  # a Monday, still the holiday
        ("2026-02-24", False),
        ("2026-02-28", False),  # Saturday made a working day
        ("2026-09-20", False),  # Sunday made a working day for National Day
        ("2026-10-01", True),
        ("2026-10-07", True),  # a Wednesday, the holiday's last day
        ("2026-10-08", False),
        ("2026-10-10", False),  # Saturday made a working day
        ("2026-10-11", True),  # an ordinary Sunday
        ("2025-01-26", False),  # Sunday made a working day (Spring Festival 2025)
        ("2026-03-07", True),  # an ordinary Saturday
        ("2026-03-09", False),  # an ordinary Monday
    ],
)
def test_rest_days_follow_the_official_notices(day: str, rest: bool) -> None:
    assert is_rest_day(date.fromisoformat(day)) is rest


def test_outside_official_data_only_weekends_rest() -> None:
    assert is_rest_day(date(2027, 1, 2))  # Saturday
    assert not is_rest_day(date(2027, 1, 1))  # New Year's Day, not yet published: unknown
    assert not is_rest_day(date(2003, 10, 1))


# -- Civil Code periods ----------------------------------------------------------------------


def test_the_first_day_is_not_counted_and_the_last_runs_to_2400() -> None:
    period = days_after(_utc("2026-03-04T02:00:00Z"), 5)  # Wednesday 10:00 Beijing
    assert (period.start, period.nominal, period.last) == (
        date(2026, 3, 4), date(2026, 3, 9), date(2026, 3, 9))  # fmt: skip
    assert period.ends == _utc("2026-03-09T16:00:00Z")  # 24:00 Beijing on Monday the 9th
    assert not period.extended and period.official


@pytest.mark.parametrize(
    ("sold", "ends"),
    [
        ("2026-03-04T15:59:59Z", "2026-03-09T16:00:00Z"),  # 23:59:59 Beijing on the 4th
        ("2026-03-04T16:00:00Z", "2026-03-10T16:00:00Z"),  # 00:00:00 Beijing on the 5th
        ("2026-03-04T23:59:59Z", "2026-03-10T16:00:00Z"),  # 07:59:59 Beijing on the 5th
    ],
)
def test_the_start_day_is_beijings(sold: str, ends: str) -> None:
    assert days_after(_utc(sold), 5).ends == _utc(ends)


def test_a_period_ending_on_a_weekend_ends_on_monday() -> None:
    period = days_after(_utc("2026-03-02T08:00:00Z"), 5)  # Monday → Saturday the 7th
    assert period.nominal == date(2026, 3, 7) and period.last == date(2026, 3, 9)
    assert period.extended


def test_a_period_ending_in_national_day_ends_the_day_after_it() -> None:
    period = days_after(_utc("2026-09-28T02:00:00Z"), 5)  # → Saturday 3 October
    assert period.nominal == date(2026, 10, 3)
    assert period.last == date(2026, 10, 8)
    assert period.ends == _utc("2026-10-08T16:00:00Z")


def test_a_period_ending_in_the_spring_festival_ends_the_day_after_it() -> None:
    period = days_after(_utc("2026-02-12T02:00:00Z"), 5)  # → 17 February, 初一
    assert period.last == date(2026, 2, 24)


def test_a_period_ending_on_an_adjusted_working_saturday_is_not_moved() -> None:
    period = days_after(_utc("2026-10-05T02:00:00Z"), 5)  # a holiday start, → Sat 10 October
    assert period.nominal == period.last == date(2026, 10, 10)
    assert period.ends == _utc("2026-10-10T16:00:00Z")
    assert days_after(_utc("2026-02-09T02:00:00Z"), 5).last == date(2026, 2, 14)


def test_a_period_beyond_official_data_counts_weekends_only_and_says_so() -> None:
    period = days_after(_utc("2026-12-27T02:00:00Z"), 5)  # → Friday 1 January 2027
    assert period.last == date(2027, 1, 1)
    assert not period.official
    assert days_after(_utc("2026-12-28T02:00:00Z"), 5).last == date(2027, 1, 4)  # Sat → Mon
    assert days_after(_utc("2026-03-04T02:00:00Z"), 5).official


@pytest.mark.parametrize("days", [0, -1])
def test_a_period_counts_at_least_one_day(days: int) -> None:
    with pytest.raises(ValueError, match="whole days"):
        days_after(_utc("2026-03-04T02:00:00Z"), days)


@given(moment=Moments, days=st.integers(1, 40))
def test_a_period_ends_at_2400_of_the_first_working_day_on_or_after_its_count(
    moment: datetime, days: int
) -> None:
    period = days_after(moment, days)
    assert period.start == local_date(moment)
    assert period.nominal == period.start + days * DAY
    assert not is_rest_day(period.last)
    day = period.nominal
    while day < period.last:
        assert is_rest_day(day)
        day += DAY
    assert period.ends == day_end(period.last) and period.ends > moment
    assert period.ends.astimezone(UTC).time().isoformat() == "16:00:00"
    assert period.official == all(
        is_official(period.nominal + n * DAY)
        for n in range((period.last - period.nominal).days + 1)
    )


@given(a=Moments, b=Moments, days=st.integers(1, 10))
def test_a_later_act_never_has_an_earlier_deadline(a: datetime, b: datetime, days: int) -> None:
    first, second = sorted((a, b))
    assert days_after(first, days).ends <= days_after(second, days).ends
