"""storage.cylinder_failed_fill: a cylinder filled at or after a failed inspection (TSG 23-2021,
R-CYL-2), until a later inspection passes it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.ledger.rules.scenario import INSPECTOR, City


def _cylinder(city: City, packaging: str = "cylinder") -> None:
    city.commission("CYL-1", chemical="16.1", value="0.5", packaging=packaging)  # nitrogen


def _inspect(city: City, outcome: str, at: datetime | None = None, **extra: Any) -> str:
    return city.event("inspect", "maker", ["CYL-1"], {"outcome": outcome, "inspector": INSPECTOR},
                      site="plant", at=at, **extra)  # fmt: skip


def _fill(city: City, at: datetime | None = None, **extra: Any) -> str:
    return city.event("fill", "maker", ["CYL-1"], {"quantity": {"value": "9", "unit": "kg"},
                      "lot": "F1"}, site="plant", at=at, **extra)  # fmt: skip


def test_a_fill_after_a_failed_inspection_is_found() -> None:
    city = City()
    _cylinder(city)
    failed = _inspect(city, "fail")
    filled = _fill(city)
    found = city.only("storage.cylinder_failed_fill")
    assert found.evidence == (failed, filled)
    assert (found.org, found.site, found.item, found.chemical) == (
        "maker",
        "plant",
        "CYL-1",
        "16.1",
    )
    assert found.severity == "critical"


@pytest.mark.parametrize(("offset_s", "flagged"), [(-1, False), (0, True), (1, True)])
def test_the_boundary_is_the_inspection_s_own_instant(offset_s: int, flagged: bool) -> None:
    # both signed on the same handheld clock; logged in order (inspection first)
    city = City()
    _cylinder(city)
    inspected_at = city.at(hours=1)
    _inspect(city, "fail", at=inspected_at, log_at=inspected_at + timedelta(seconds=5))
    fill_at = inspected_at + timedelta(seconds=offset_s)
    _fill(city, at=fill_at, log_at=inspected_at + timedelta(seconds=10))
    assert city.rules() == (["storage.cylinder_failed_fill"] if flagged else []), city.describe()


@pytest.mark.parametrize("hour_utc", [16, 23])  # 00:00 and 07:00 Beijing, the next local day
def test_between_midnight_and_eight_beijing_the_instant_decides_not_the_date(
    hour_utc: int,
) -> None:
    city = City()
    _cylinder(city)
    failed_at = datetime(2026, 3, 2, hour_utc, 0, 0, tzinfo=city.clock.tzinfo)
    city.clock = failed_at
    _inspect(city, "fail", at=failed_at)
    _fill(city, at=failed_at - timedelta(seconds=1), log_at=failed_at + timedelta(seconds=10))
    city.clean()  # filled one second before it failed: same UTC date, same Beijing date
    _fill(city, at=failed_at + timedelta(seconds=1), log_at=failed_at + timedelta(seconds=20))
    assert city.rules() == ["storage.cylinder_failed_fill"]


def test_a_later_pass_lifts_it_and_an_observation_does_not_block() -> None:
    city = City()
    _cylinder(city)
    _inspect(city, "fail")
    _inspect(city, "pass")
    _fill(city)
    _inspect(city, "observation")
    _fill(city)
    city.clean()


def test_a_pass_signed_before_the_failure_but_synced_after_it_does_not_lift_it() -> None:
    city = City()
    _cylinder(city)
    failed_at = city.at(hours=1)
    _inspect(city, "fail", at=failed_at)
    _inspect(city, "pass", at=failed_at - timedelta(hours=1), log_at=failed_at + timedelta(hours=1))
    _fill(city, at=failed_at + timedelta(hours=2))
    assert city.rules() == ["storage.cylinder_failed_fill"]


def test_a_failure_signed_after_the_fill_does_not_make_the_fill_late() -> None:
    city = City()
    _cylinder(city)
    filled_at = city.at(hours=1)
    _fill(city, at=filled_at)
    _inspect(city, "fail", at=filled_at + timedelta(minutes=1))
    city.clean()
    _fill(city, at=filled_at + timedelta(hours=1))
    assert city.rules() == ["storage.cylinder_failed_fill"]


def test_only_cylinders_are_judged_and_each_fill_is_its_own_finding() -> None:
    city = City()
    _cylinder(city, packaging="drum")
    _inspect(city, "fail")
    _fill(city)
    city.clean()
    other = City()
    _cylinder(other)
    _inspect(other, "fail")
    first, second = _fill(other), _fill(other)
    assert [f.evidence[1] for f in other.of("storage.cylinder_failed_fill")] == [first, second]
