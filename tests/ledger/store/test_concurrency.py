"""Races on real databases: threads and processes appending to the same and to different items."""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ThreadPoolExecutor

from ledger.append import Accepted, Rejected
from ledger.errors import CheckpointConflictError, StaleHeadError
from ledger.signing import Ed25519Signer
from tests.harness import Harness
from tests.ledger.store._workers import append_worker


def test_two_devices_racing_on_one_head_exactly_one_wins(ledger: Harness) -> None:
    device = ledger.device("acme")
    codes = [f"CYL-{n:04d}" for n in range(12)]
    ledger.submit([ledger.commission(device, code) for code in codes])
    pairs = []
    for code in codes:
        base = ledger.heads[code]
        first = ledger.use(device, code, "1")
        ledger.heads[code] = base
        pairs.append((first, ledger.use(device, code, "2")))
        ledger.heads[code] = base
    barrier = threading.Barrier(2)

    def submit(event: dict) -> object:  # type: ignore[type-arg]
        barrier.wait()
        return ledger.submit([event])[0]

    with ThreadPoolExecutor(max_workers=2) as pool:
        for first, second in pairs:
            outcomes = list(pool.map(submit, [first, second]))
            kinds = sorted(type(o).__name__ for o in outcomes)
            assert kinds == ["Accepted", "Rejected"], outcomes
            loser = next(o for o in outcomes if isinstance(o, Rejected))
            assert isinstance(loser.error, StaleHeadError)
    for code in codes:
        head = ledger.store.item_head(code)
        assert head is not None and head.seq == 1
    assert ledger.audit().intact


def test_threads_on_different_items_lose_nothing(ledger: Harness) -> None:
    devices = [ledger.device("acme", shared_heads=False) for _ in range(4)]

    def run(worker: int) -> int:
        device = devices[worker]
        accepted = 0
        for n in range(10):
            code = f"T{worker}-{n:04d}"
            for event in (ledger.commission(device, code), ledger.use(device, code)):
                outcome = ledger.submit([event])[0]
                assert isinstance(outcome, Accepted), outcome
                accepted += 1
        return accepted

    before = ledger.store.log_size()
    with ThreadPoolExecutor(max_workers=4) as pool:
        total = sum(pool.map(run, range(4)))
    assert total == 80
    assert ledger.store.log_size() == before + 80
    report = ledger.audit()
    assert report.intact, report.faults
    assert report.events == 80


def test_processes_racing_on_shared_and_private_items(db_url: str) -> None:
    root, log, device = (Ed25519Signer.generate() for _ in range(3))
    seeds = {"root": _seed(root), "log": _seed(log), "device": _seed(device)}
    harness = Harness.create(
        db_url,
        root=Ed25519Signer.from_seed(bytes.fromhex(seeds["root"])),
        log=Ed25519Signer.from_seed(bytes.fromhex(seeds["log"])),
    )
    session = harness.device("acme")
    _recertify(harness, session, Ed25519Signer.from_seed(bytes.fromhex(seeds["device"])))
    harness.submit([harness.commission(session, "SHARED-01")])
    rounds, workers = 6, 3
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers) as pool:
        results = pool.starmap(
            append_worker, [(db_url, seeds, w, rounds, "SHARED-01") for w in range(workers)]
        )
    assert sum(r["accepted"] for r in results) == rounds * workers
    head = harness.store.item_head("SHARED-01")
    assert head is not None and head.seq == rounds * workers
    report = harness.audit()
    assert report.intact, report.faults
    assert report.events == 1 + workers * (1 + 2 * rounds)
    harness.store.engine.dispose()


def test_two_checkpoint_signers_never_fork_the_log(ledger: Harness) -> None:
    device = ledger.device("acme")
    other = Harness.create(ledger.url, root=ledger.root, log=ledger.log)
    outcomes: list[str] = []
    for round_ in range(8):
        ledger.submit([ledger.commission(device, f"CYL-{round_:04d}")])
        barrier = threading.Barrier(2)

        def sign(harness: Harness, barrier: threading.Barrier = barrier) -> str:
            barrier.wait()
            try:
                return "signed" if harness.checkpoint() else "nothing-new"
            except CheckpointConflictError:
                return "conflict"

        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(sign, [ledger, other]))
        assert results.count("signed") == 1, results
        outcomes.extend(results)
    assert set(outcomes) <= {"signed", "conflict", "nothing-new"}
    report = ledger.audit()
    assert report.intact, report.faults
    assert report.checkpoints == 8
    other.store.engine.dispose()


def _seed(signer: Ed25519Signer) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    raw = signer._private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return raw.hex()


def _recertify(harness: Harness, session: object, signer: Ed25519Signer) -> None:
    from ledger.certificates import issue_certificate

    cert = issue_certificate(
        harness.orgs["acme"],
        role="device",
        subject_algorithm="ed25519",
        subject_public_key=signer.public_key,
        org="acme",
        valid_from="2020-01-01T00:00:00Z",
        valid_until="2036-01-01T00:00:00Z",
    )
    harness.store.append_certificate(
        cert, root=("ed25519", harness.root.public_key), log_signer=harness.log
    )
    session.signer = signer  # type: ignore[attr-defined]


def test_two_stores_taking_turns_on_one_log_build_one_true_tree(ledger: Harness) -> None:
    """Each store keeps the frontier its last append left; the other store's appends (events
    and records) in between must make it read the frontier afresh, or the tree forks."""
    other = Harness.create(ledger.url, root=ledger.root, log=ledger.log)
    device = ledger.device("acme")
    for round_ in range(6):
        writer = ledger if round_ % 2 else other
        writer.submit([ledger.commission(device, f"TURN-{round_:04d}")])
        writer.submit([ledger.commission(device, f"TURN-{round_:04d}-B")])
        if round_ % 3 == 0:
            ledger.device("acme")  # a certificate appended between two event appends
        assert writer.checkpoint() is not None
    report = ledger.audit()
    assert report.intact, report.faults
    assert report.events == 12 and report.checkpoints == 6
    other.store.engine.dispose()
