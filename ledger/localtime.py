"""Beijing's calendar: local dates, and periods counted in days as the Civil Code counts them.

Every calendar rule judges Asia/Shanghai dates (UTC+8, no daylight saving since 1991), so
an act at 00:30 Beijing belongs to that Beijing day, not to the UTC day before it.

Periods counted in days follow the Civil Code (民法典):

- art. 201: the day the period starts is not counted; counting starts the next day;
- art. 203: the last day runs to 24:00; when the last day is a statutory rest day
  (法定休假日), the period ends on the day after the rest days end.

Statutory rest days are the official public holidays and the weekends that the State
Council's yearly notice does not turn into working days (调休): an adjusted working
Saturday is a working day, and a weekend is a rest day (as the courts read 法定休假日,
as the Supreme People's Court's opinion on the General Principles of Civil Law, art. 198,
read it, now repealed but still the courts' practice). They come
from the ``chinese-calendar`` package's transcription of those notices, which covers only
the years it ships (:data:`OFFICIAL_YEARS`). For any other year this module falls back to
"Saturdays and Sundays are rest days" and says so (:attr:`Period.official` is false), so
a rule can surface that its deadline is provisional instead of silently trusting it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

import chinese_calendar  # type: ignore[import-untyped]

BEIJING: Final = ZoneInfo("Asia/Shanghai")
OFFICIAL_YEARS: Final = range(
    min(day.year for day in chinese_calendar.holidays),
    max(day.year for day in chinese_calendar.holidays) + 1,
)
"""Years with official holiday data (2004–2026 in chinese-calendar 1.11.0)."""
_DAY: Final = timedelta(days=1)


def local_date(moment: datetime | float) -> date:
    """The Beijing calendar date of an instant (an aware datetime or epoch seconds)."""
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            raise ValueError("a naive datetime names no instant")
        return moment.astimezone(BEIJING).date()
    return datetime.fromtimestamp(moment, BEIJING).date()


def day_start(day: date) -> datetime:
    """00:00 Beijing of ``day``, as an aware UTC datetime."""
    return datetime.combine(day, time(0), BEIJING).astimezone(UTC)


def day_end(day: date) -> datetime:
    """24:00 Beijing of ``day`` (the same instant as 00:00 of the next day), in UTC."""
    return day_start(day + _DAY)


def is_official(day: date) -> bool:
    """Whether official holiday data exists for ``day``'s year."""
    return day.year in OFFICIAL_YEARS


def is_rest_day(day: date) -> bool:
    """A statutory rest day: a public holiday, or a weekend not made a working day.

    Outside :data:`OFFICIAL_YEARS` only weekends are known (see :func:`is_official`).
    """
    if is_official(day):
        return bool(chinese_calendar.is_holiday(day))
    return day.weekday() >= 5


@dataclass(frozen=True, slots=True)
class Period:
    """A period of whole days counted from an act, per Civil Code arts. 201 and 203."""

    start: date
    """The Beijing date of the act; not counted."""
    nominal: date
    """The last day by count: ``start`` plus the number of days."""
    last: date
    """The last day after moving past statutory rest days (``nominal`` if it is a working day)."""
    official: bool
    """Whether every day judged (``nominal`` to ``last``) had official holiday data."""

    @property
    def ends(self) -> datetime:
        """24:00 Beijing of :attr:`last`; an act at exactly this instant is on time."""
        return day_end(self.last)

    @property
    def extended(self) -> bool:
        return self.last != self.nominal


def days_after(moment: datetime | float, days: int) -> Period:
    """The period of ``days`` days that starts with an act at ``moment``.

    Raises:
        ValueError: ``days`` is not a positive whole number.
    """
    if days < 1:
        raise ValueError(f"a period counts one or more whole days, not {days!r}")
    start = local_date(moment)
    nominal = last = start + days * _DAY
    official = is_official(last)
    while is_rest_day(last):
        last += _DAY
        official = official and is_official(last)
    return Period(start=start, nominal=nominal, last=last, official=official)
