"""keys.backdated_revocation: a revocation logged after events that its effective time makes
signed by an untrusted key (docs/architecture.md, "Identity and trust")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.ledger.rules.scenario import City, rules_config

ORG_KEY = "0a" * 16
OTHER_ORG_KEY = "0b" * 16


def _signed(city: City, key: str, *log_at: datetime) -> list[str]:
    """One use of DRUM-1 by the lab per log time, signed by device key ``key``."""
    return [
        city.use("DRUM-1", "0.1", at=moment - timedelta(seconds=5), log_at=moment, device_key=key)
        for moment in log_at
    ]


def _lab(config_evidence: int | None = None) -> tuple[City, str]:
    city = (
        City()
        if config_evidence is None
        else City(config=rules_config(keys={"evidence_limit": config_evidence}))
    )
    city.commission("DRUM-1", value="20")
    city.deliver(["DRUM-1"])
    city.clean()
    device = city.certificate(b"d" * 32, org="user", issuer=ORG_KEY)
    return city, device


T1 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
T2 = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)  # 00:00 Beijing on 3 March
T3 = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)


def test_a_backdated_revocation_names_the_events_it_reaches_back_over() -> None:
    city, device = _lab()
    _, second, third = _signed(city, device, T1, T2, T3)
    city.revocation(device, org="user", effective_from=T1 + timedelta(minutes=30),
                    log_at=T3 + timedelta(hours=1))  # fmt: skip
    found = city.only("keys.backdated_revocation")
    assert found.evidence == (second, third)
    assert found.org == "user"
    assert "2 event(s) logged from 2026-03-02T16:00:00Z to 2026-03-02T17:00:00Z" in found.message
    assert found.severity == "high"


@pytest.mark.parametrize(
    ("offset_s", "reached"),
    [(-1, [1, 2]), (0, [1, 2]), (1, [2])],  # effective at T2 - 1 s, at T2, at T2 + 1 s
)
def test_an_event_logged_at_the_effective_time_is_reached(
    offset_s: int, reached: list[int]
) -> None:
    city, device = _lab()
    events = _signed(city, device, T1, T2, T3)
    city.revocation(device, org="user", effective_from=T2 + timedelta(seconds=offset_s),
                    log_at=T3 + timedelta(hours=1))  # fmt: skip
    assert city.only("keys.backdated_revocation").evidence == tuple(events[i] for i in reached)


def test_a_revocation_that_reaches_back_over_nothing_is_quiet() -> None:
    city, device = _lab()
    _signed(city, device, T1, T2)
    # effective one second after the last event, logged an hour later: backdated, harmless
    city.revocation(device, org="user", effective_from=T2 + timedelta(seconds=1),
                    log_at=T3)  # fmt: skip
    # another key's revocation, far back, does not reach this key's events
    city.revocation("0c" * 16, org="user", effective_from=T1 - timedelta(days=30), log_at=T3)
    city.clean()


def test_an_organisation_key_s_revocation_reaches_its_devices_events() -> None:
    city, device = _lab()
    first, second = _signed(city, device, T1, T2)
    city.revocation(ORG_KEY, org="user", effective_from=T1, log_at=T3)
    found = city.only("keys.backdated_revocation")
    assert found.evidence == (first, second)


def test_a_device_also_certified_by_an_unrevoked_organisation_key_is_not_reached() -> None:
    city, device = _lab()
    city.certificate(b"d" * 32, org="user", issuer=OTHER_ORG_KEY)  # re-certified on rotation
    _signed(city, device, T1, T2)
    city.revocation(ORG_KEY, org="user", effective_from=T1, log_at=T3)
    city.clean()
    city.revocation(OTHER_ORG_KEY, org="user", effective_from=T1, log_at=T3)
    assert city.rules() == ["keys.backdated_revocation"]


def test_the_finding_names_the_newest_events_and_counts_them_all() -> None:
    city, device = _lab(config_evidence=2)
    events = _signed(city, device, T1, T2, T3)
    city.revocation(device, org="user", effective_from=T1, log_at=T3 + timedelta(hours=1))
    found = city.only("keys.backdated_revocation")
    assert found.evidence == tuple(events[1:])
    assert "3 event(s)" in found.message and "the newest 2 named" in found.message
