"""The rule facts the store reads include certificates and revocations, so a backdated
revocation of a logged key reaches the anomaly engine (``keys.backdated_revocation``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from api.anomaly import new_engine
from ledger.append import Accepted
from ledger.revocations import issue_revocation
from ledger.rules import CertificateFact, EventFact, RevocationFact
from ledger.signing import ED25519
from ledger.store.findings import FindingStore
from tests.harness import Harness
from tests.ledger.rules.scenario import CATALOG


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 10, 1, 8, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def timed(db_url: str, clock: Clock) -> Iterator[Harness]:
    harness = Harness.create(db_url, clock=clock)
    yield harness
    harness.store.engine.dispose()


def _logged(outcome: object) -> str:
    assert isinstance(outcome, Accepted), outcome
    return "sha256:" + outcome.receipt.entry_hash.hex()


@pytest.mark.parametrize(
    ("effective", "reached"), [("08:30:00", True), ("09:00:00", True), ("09:00:01", False)]
)
def test_a_revocation_logged_after_events_it_reaches_back_over_is_found(
    timed: Harness, clock: Clock, effective: str, reached: bool
) -> None:
    device = timed.device("acme")
    device.catalog_version = CATALOG  # the engine judges against the shipped catalogs
    timed.submit([timed.commission(device, "CYL-0001")])
    clock.now += timedelta(hours=1)
    used = _logged(timed.submit([timed.use(device, "CYL-0001")])[0])  # logged at 09:00
    clock.now += timedelta(hours=1)
    revocation = issue_revocation(timed.root, key_id=device.signer.key_id, org="acme",
                                  effective_from=f"2026-10-01T{effective}Z",
                                  reason="key found compromised")  # fmt: skip
    timed.store.append_revocation(
        revocation, root=(ED25519, timed.root.public_key), log_signer=timed.log
    )

    facts = list(FindingStore(timed.store.engine).all_facts())
    kinds = {type(fact) for fact in facts}
    assert {CertificateFact, EventFact, RevocationFact} <= kinds
    engine = new_engine()
    found = [f for f in engine.feed_all(facts) if f.rule == "keys.backdated_revocation"]
    if reached:
        (finding,) = found
        assert finding.evidence == (used,) and finding.org == "acme"
    else:
        assert found == []
