"""Honest checkpoint signers racing: the loser gets a conflict to retry, never a tamper alarm."""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import event, select

from api.accel import LocalAccelerator
from api.background import Integrator, SingletonLock
from ledger.append import Accepted
from ledger.checkpoint import open_checkpoint
from ledger.errors import CheckpointConflictError, LedgerError
from ledger.merkle import verify_consistency
from ledger.note import NoteVerifier
from ledger.store import schema as t
from ledger.store.service import ServiceStore
from tests.harness import ORIGIN, Harness


def _attempt(harness: Harness) -> str:
    try:
        return "signed" if harness.checkpoint() else "nothing-new"
    except CheckpointConflictError:
        return "conflict"


def _reads_log_state(statement: str) -> bool:
    sql = " ".join(statement.split()).upper()
    return sql.startswith("SELECT") and "FROM LOG_STATE" in sql and "FOR UPDATE" not in sql


@pytest.fixture
def rival(ledger: Harness) -> Iterator[Harness]:
    """A second signer with the same log key on its own engine (another process, in effect)."""
    other = Harness.create(ledger.url, root=ledger.root, log=ledger.log)
    yield other
    other.store.engine.dispose()


def test_a_checkpoint_committed_between_the_signers_reads_is_a_conflict(
    ledger: Harness, rival: Harness
) -> None:
    device = ledger.device("acme")
    ledger.submit([ledger.commission(device, "CYL-0000")])
    assert ledger.checkpoint() is not None
    ledger.submit([ledger.commission(device, "CYL-0001")])
    rival_outcome: list[str] = []
    competitors: list[threading.Thread] = []

    def sign_in_between(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if competitors or not _reads_log_state(statement):
            return
        competitor = threading.Thread(target=lambda: rival_outcome.append(_attempt(rival)))
        competitors.append(competitor)
        competitor.start()
        # A fix that locks log_state would hold the rival back until this signer is done.
        competitor.join(timeout=5)

    event.listen(ledger.store.engine, "after_cursor_execute", sign_in_between)
    try:
        outcome = _attempt(ledger)
    finally:
        event.remove(ledger.store.engine, "after_cursor_execute", sign_in_between)
    assert competitors, "write_checkpoint no longer reads log_state: move the seam"
    competitors[0].join(timeout=30)
    assert sorted([outcome, *rival_outcome]) == ["conflict", "signed"]
    assert _attempt(ledger if outcome == "conflict" else rival) == "nothing-new"
    report = ledger.audit()
    assert report.intact, report.faults
    assert report.checkpoints == 2


def test_the_integrator_takes_a_conflict_as_a_round_to_retry(ledger: Harness) -> None:
    device = ledger.device("acme")
    ledger.submit([ledger.commission(device, "CYL-0000")])
    calls: list[int] = []

    def write() -> str | None:
        calls.append(1)
        if len(calls) == 1:
            raise CheckpointConflictError("another signer moved the checkpoint", expected=0)
        return ledger.checkpoint()

    service = ServiceStore(ledger.store.engine)
    lock = SingletonLock(ledger.url, ledger.store.engine)
    integrator = Integrator(service, write, lock, LocalAccelerator())
    try:
        integrator.step()  # the conflict ends the round without raising
        assert service.checkpoint_state() == (ledger.store.log_size(), 0)
        integrator.step()
    finally:
        integrator.close()
    assert len(calls) == 2
    size, covered = service.checkpoint_state()
    assert size == covered


# -- stress: many rounds of 2-4 signers while events keep arriving ----------------------------

ROUNDS = 200
MAX_SIGNERS = 4
MAX_RETRIES = 20


@pytest.mark.slow
def test_racing_signers_under_ingest_raise_no_false_alarm_and_never_fork(
    postgres_database: str,
) -> None:
    writer = Harness.create(postgres_database)
    signers = [
        Harness.create(postgres_database, root=writer.root, log=writer.log)
        for _ in range(MAX_SIGNERS)
    ]
    device = writer.device("acme", shared_heads=False)
    stop, appended = threading.Event(), threading.Event()
    events = [0]
    refused: list[object] = []

    def ingest() -> None:
        n = 0
        while not stop.is_set():
            codes = [f"S{n:05d}-{k}" for k in range(2)]
            n += 1
            outcomes = writer.submit([writer.commission(device, code) for code in codes])
            refused.extend(o for o in outcomes if not isinstance(o, Accepted))
            events[0] += len(outcomes)
            appended.set()

    tally: Counter[str] = Counter()
    alarms: list[str] = []
    notes: list[str] = []
    tally_lock = threading.Lock()

    def sign(harness: Harness, barrier: threading.Barrier) -> None:
        barrier.wait()
        for _ in range(MAX_RETRIES):
            try:
                note = harness.checkpoint()
            except CheckpointConflictError:
                with tally_lock:
                    tally["conflict"] += 1
                continue
            except LedgerError as exc:
                with tally_lock:
                    alarms.append(exc.diagnostics())
                return
            with tally_lock:
                if note is None:
                    tally["nothing-new"] += 1
                else:
                    tally["signed"] += 1
                    notes.append(note)
            return
        with tally_lock:
            tally["gave-up"] += 1

    started = time.monotonic()
    appender = threading.Thread(target=ingest, name="ingest")
    appender.start()
    try:
        with ThreadPoolExecutor(max_workers=MAX_SIGNERS) as pool:
            for round_ in range(ROUNDS):
                appended.wait(timeout=10)
                appended.clear()
                count = 2 + round_ % (MAX_SIGNERS - 1)
                barrier = threading.Barrier(count)
                tally["signers"] += count
                for future in [pool.submit(sign, s, barrier) for s in signers[:count]]:
                    future.result()
    finally:
        stop.set()
        appender.join(timeout=60)
    duration = time.monotonic() - started
    checkpoints = _check_no_fork(writer, notes)
    print(
        f"\ncheckpoint race: rounds={ROUNDS} signers/round=2-{MAX_SIGNERS}"
        f" signer_runs={tally['signers']} signed={tally['signed']}"
        f" conflicts={tally['conflict']} nothing_new={tally['nothing-new']}"
        f" gave_up={tally['gave-up']} false_alarms={len(alarms)} events={events[0]}"
        f" checkpoints={checkpoints} duration={duration:.1f}s"
    )
    assert alarms == [], alarms[:3]
    assert refused == [], refused[:3]
    assert tally["gave-up"] == 0
    report = writer.audit()
    assert report.intact, report.faults
    for harness in (writer, *signers):
        harness.store.engine.dispose()


def _check_no_fork(harness: Harness, notes: list[str]) -> int:
    """Every stored checkpoint is one a signer reported, and each extends the one before."""
    with harness.store.engine.connect() as conn:
        rows = conn.execute(
            select(t.checkpoint.c.size, t.checkpoint.c.root_hash, t.checkpoint.c.note).order_by(
                t.checkpoint.c.size
            )
        ).all()
        covered = conn.execute(select(t.log_state.c.checkpoint_size)).scalar_one()
    assert sorted(row.note for row in rows) == sorted(notes)
    verifier = NoteVerifier.for_key(ORIGIN, harness.log.public_key)
    opened = [open_checkpoint(row.note, verifier, expected_origin=ORIGIN) for row in rows]
    assert [(cp.size, cp.root_hash) for cp in opened] == [(r.size, r.root_hash) for r in rows]
    sizes = [cp.size for cp in opened]
    assert all(a < b for a, b in itertools.pairwise(sizes)), sizes
    assert covered == sizes[-1]
    for first, second in itertools.pairwise(opened):
        proof = harness.store.consistency_proof(first.size, second.size)
        verify_consistency(first.size, second.size, proof, first.root_hash, second.root_hash)
    return len(rows)
