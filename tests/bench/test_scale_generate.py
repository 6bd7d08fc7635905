"""The fast generator writes exactly the ledger the real ingest path writes.

A small ledger is generated with ``bench.scale``; the same envelopes are then submitted
through the real :class:`ledger.ingest.Ingestor` (every check: signatures, catalog,
issuance, custody, heads) into a second database with the same registry and the same
log times. Both must be the same log (same checkpoint root), the generated one must pass
``chemtrace verify-log`` INTACT with the generated keystore, and the store's reads (item
chains, heads, inclusion proofs, inventory now and in the past) must agree.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from api.deployment import Deployment
from api.keystore import pinned_trust
from bench.scale.city import START, issue_codes, register
from bench.scale.generate import _FixedClock, generate, plan_world
from ledger.append import Accepted
from ledger.checkpoint import claimed_size
from ledger.envelope import SignedEvent, open_envelope
from ledger.merkle import leaf_hash, root_at, verify_inclusion
from ledger.state import ItemState, Projection
from ledger.store.audit import SqlAuditSource
from ledger.store.service import ServiceStore
from ledger.timefmt import parse_utc
from ledger.units import CatalogUnits
from ledger.verify import audit

EVENTS = 5000


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def two_dbs(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fast.db'}", f"sqlite:///{tmp_path / 'real.db'}"
    factory = request.getfixturevalue("postgres_database_factory")
    return factory(), factory()


def _projection(deployment: Deployment, at: str | None) -> dict[str, ItemState]:
    units = CatalogUnits(deployment.catalogs)
    projection = Projection(kilograms=units.kilograms)
    service = ServiceStore(deployment.store.engine)
    projection.apply_all(e.event.body for e in service.all_events(until_time=at))
    return dict(projection.items)


def test_generated_ledger_is_the_one_the_ingestor_writes(
    two_dbs: tuple[str, str], tmp_path: Path
) -> None:
    fast_url, real_url = two_dbs
    keys = tmp_path / "throwaway-scale-keys"
    batches: list[tuple[list[SignedEvent], str]] = []
    report = generate(
        fast_url,
        keys,
        events=EVENTS,
        seed=7,
        workers=2,
        batch=700,
        checkpoint_every=2000,
        sink=lambda b, t: batches.append((b, t)),
    )
    assert report.events == EVENTS
    assert report.checkpoints >= 2
    assert {
        "commission",
        "fill",
        "ship",
        "waypoint",
        "receive",
        "use",
        "return",
        "dispose",
        "sell",
        "store_in",
        "store_out",
    } <= set(report.mix)

    # the generator's C-speed JCS is byte for byte RFC 8785 on every envelope it signed
    for batch, _ in batches:
        for signed in batch:
            assert open_envelope(json.loads(signed.canonical)).canonical == signed.canonical

    fast = Deployment.open(fast_url, keys, migrate=False)
    result = audit(SqlAuditSource(fast.store.engine), pinned_trust(keys))
    assert result.intact, result.to_json()

    # the same registry, codes, envelopes and log times through the real ingest path
    clock = _FixedClock(START - 86_400)
    real = Deployment.open(real_url, keys, clock=clock)
    city, stories = plan_world(EVENTS, 7, 90)
    register(real, city)
    issue_codes(real, stories, 7)
    checkpoints_at = _checkpoint_sizes(fast)
    for batch, log_time in batches:
        clock.at = int(parse_utc(log_time).timestamp())
        outcomes = real.ingestor.submit([json.loads(e.canonical) for e in batch])
        assert all(isinstance(o, Accepted) and not o.duplicate for o in outcomes), outcomes[:3]
        if real.store.log_size() in checkpoints_at:
            real.checkpoint()
    assert real.store.log_size() == fast.store.log_size()
    assert real.store.latest_checkpoint() == fast.store.latest_checkpoint()

    size = fast.store.log_size()
    rng = random.Random(3)
    codes = sorted({link.code for batch, _ in batches for e in batch for link in e.body.items})
    lengths = Counter({code: len(fast.store.item_envelopes(code)) for code in codes})
    assert max(lengths.values()) >= 20  # 20-event custody chains exist
    for code in [*rng.sample(codes, 40), lengths.most_common(1)[0][0]]:
        assert fast.store.item_envelopes(code) == real.store.item_envelopes(code)
        assert fast.store.item_head(code) == real.store.item_head(code)
    root = root_at(fast.store, size)
    for index in rng.sample(range(size), 40):
        proof = fast.store.inclusion_proof(index, size)
        assert proof == real.store.inclusion_proof(index, size)
        (leaf,) = fast.store.leaf_inputs(index, index + 1)
        verify_inclusion(leaf_hash(leaf), index, size, proof, root)  # raises if it does not hold
    middle = batches[len(batches) // 2][0][0].body.time
    for at in (None, middle):
        now = _projection(fast, at)
        assert now == _projection(real, at)
        assert any(state.site is not None for state in now.values())
    fast.store.engine.dispose()
    real.store.engine.dispose()


def _checkpoint_sizes(deployment: Deployment) -> set[int]:
    from sqlalchemy import select

    from ledger.store import schema as t

    with deployment.store.engine.connect() as conn:
        notes = conn.execute(select(t.checkpoint.c.note)).scalars().all()
    return {claimed_size(note) for note in notes}


def test_clock_is_utc() -> None:
    assert _FixedClock(START)() == datetime(2026, 3, 2, tzinfo=UTC)
