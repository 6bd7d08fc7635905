"""Crash safety with a real process: SIGKILL a writer mid-append, then check all-or-nothing.

A child process (``_crash_writer.py``) appends batches of 200 events through the real
ingest path into the same database as the parent (a SQLite file, or a real PostgreSQL
database). The parent kills it with SIGKILL several times: at random moments, and at
moments when it is observed *inside* its write transaction (SQLite: the database write
lock is held; PostgreSQL: its session is in a transaction after a write). After every
kill the database must hold whole batches only, audit intact, and accept the killed
batch exactly once when it is resubmitted.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from ledger.append import Accepted
from ledger.certificates import issue_certificate
from ledger.signing import ED25519, Ed25519Signer
from tests.harness import Harness
from tests.ledger.store import _crash_writer as writer

BATCH = 200
KILLS = 4
WRITER = Path(writer.__file__)
APP_NAME = "chemtrace-crash-writer"


@dataclass
class Child:
    """A running writer and the lines it has printed so far."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    def committed(self) -> list[int]:
        return [int(line.split()[1]) for line in self.lines if line.endswith(" committed")]


def start_writer(url: str, out_dir: Path, first: int, seeds: dict[str, str]) -> Child:
    env = {**os.environ, writer.SEEDS_ENV: json.dumps(seeds)}
    process = subprocess.Popen(
        [sys.executable, str(WRITER), url, str(out_dir), str(first), str(BATCH), "1000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    child = Child(process)

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            child.lines.append(line.rstrip("\n"))

    child.reader = threading.Thread(target=read, daemon=True)
    child.reader.start()
    return child


def wait_for_commit(child: Child, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not child.committed():
        if child.process.poll() is not None:
            child.reader.join(5)  # type: ignore[union-attr]
            pytest.fail(f"writer exited with {child.process.returncode}: {child.lines}")
        if time.monotonic() > deadline:
            pytest.fail(f"writer committed nothing in {timeout}s: {child.lines}")
        time.sleep(0.005)


def kill(child: Child) -> int:
    """SIGKILL the writer (if still running) and collect its output; return its exit status."""
    if child.process.poll() is None:
        child.process.send_signal(signal.SIGKILL)
    status = child.process.wait(30)
    child.reader.join(10)  # type: ignore[union-attr]
    child.process.stdout.close()  # type: ignore[union-attr]
    return status


# -- "inside the transaction" probes --------------------------------------------------------


def sqlite_write_locked(path: Path) -> bool:
    """True while another connection holds the database write lock (a write transaction)."""
    conn = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc) and "busy" not in str(exc):
            raise
        return True
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.close()
    return False


class PostgresProbe:
    """Watches the writer's session in pg_stat_activity."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url, isolation_level="AUTOCOMMIT")

    def writing(self) -> bool:
        query = text(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = :name "
            "AND xact_start IS NOT NULL AND state IN ('active', 'idle in transaction') "
            "AND (query ILIKE 'INSERT%' OR query ILIKE 'UPDATE%' OR query ILIKE '%FOR UPDATE%')"
        )
        with self.engine.connect() as conn:
            return bool(conn.execute(query, {"name": APP_NAME}).scalar_one())

    def close(self) -> None:
        self.engine.dispose()


def wait_until_inside(probe: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return True
    return False


# -- the ledger under test ------------------------------------------------------------------


@dataclass
class CrashLedger:
    harness: Harness
    seeds: dict[str, str]
    url: str
    writer_url: str
    sqlite_path: Path | None

    def count(self, sql: str) -> int:
        with self.harness.store.engine.connect() as conn:
            return int(conn.execute(text(sql)).scalar_one())

    def batches_in_db(self) -> dict[int, int]:
        """Events per batch number, from the item codes ``BNNNNN-…``."""
        with self.harness.store.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT substr(item_code, 2, 5) AS b, count(*) FROM event_item GROUP BY b")
            ).all()
        return {int(b): n for b, n in rows}


@pytest.fixture
def crash_ledger(db_url: str) -> Iterator[CrashLedger]:
    seeds = {name: os.urandom(32).hex() for name in ("root", "log", "org", "device")}
    keys = {name: Ed25519Signer.from_seed(bytes.fromhex(seed)) for name, seed in seeds.items()}
    harness = Harness.create(db_url, root=keys["root"], log=keys["log"])
    root = (ED25519, keys["root"].public_key)
    window = {"valid_from": "2020-01-01T00:00:00Z", "valid_until": "2036-01-01T00:00:00Z"}
    for issuer, role, subject in (("root", "org", "org"), ("org", "device", "device")):
        cert = issue_certificate(
            keys[issuer],
            role=role,  # type: ignore[arg-type]
            subject_algorithm=ED25519,
            subject_public_key=keys[subject].public_key,
            org=writer.ORG,
            **window,
        )
        harness.store.append_certificate(cert, root=root, log_signer=keys["log"])
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        writer_url, path = db_url, Path(str(url.database))
    else:
        named = url.update_query_dict({"application_name": APP_NAME})
        writer_url, path = named.render_as_string(hide_password=False), None
    yield CrashLedger(harness, seeds, db_url, writer_url, path)
    harness.store.engine.dispose()


def test_sigkill_during_appends_is_all_or_nothing(
    crash_ledger: CrashLedger, tmp_path: Path
) -> None:
    ledger = crash_ledger
    harness = ledger.harness
    out_dir = tmp_path / "batches"
    out_dir.mkdir()
    rng = random.Random()
    if ledger.sqlite_path is not None:
        path = ledger.sqlite_path
        inside: Callable[[], bool] = lambda: sqlite_write_locked(path)  # noqa: E731
        probe_close: Callable[[], None] = lambda: None  # noqa: E731
    else:
        probe = PostgresProbe(ledger.url)
        inside, probe_close = probe.writing, probe.close
    certificates = 2
    next_batch = 0
    caught_inside = 0
    outcomes_seen: set[str] = set()
    try:
        for round_no in range(KILLS):
            child = start_writer(ledger.writer_url, out_dir, next_batch, ledger.seeds)
            try:
                wait_for_commit(child)
                if round_no % 2:  # kill while the writer is inside its write transaction
                    if wait_until_inside(inside):
                        caught_inside += 1
                else:
                    time.sleep(rng.uniform(0, 0.8))
            finally:
                status = kill(child)
            assert status == -signal.SIGKILL, (status, child.lines[-3:])
            printed = child.committed()
            assert printed, child.lines
            assert printed == list(range(next_batch, printed[-1] + 1))

            # 1. whole batches only, and every acknowledged batch survived
            events = ledger.count("SELECT count(*) FROM event")
            assert events % BATCH == 0, f"a partial batch survived the kill: {events} events"
            per_batch = ledger.batches_in_db()
            assert set(per_batch.values()) == {BATCH}, per_batch
            assert sorted(per_batch) == list(range(events // BATCH))
            assert set(printed) <= set(per_batch)
            assert ledger.count("SELECT size FROM log_state") == certificates + events
            assert ledger.count("SELECT count(*) FROM log_entry") == certificates + events

            # 2. the log audits intact after the crash
            report = harness.audit()
            assert report.intact, report.faults[:5]
            assert report.events == events

            # 3. the killed batch, resubmitted, lands exactly once
            files = sorted(out_dir.glob("batch-*.json"))
            killed = int(files[-1].stem.split("-")[1])
            assert killed in (printed[-1], printed[-1] + 1)
            envelopes = json.loads(files[-1].read_text())
            assert len(envelopes) == BATCH
            first = harness.submit(envelopes)
            assert all(isinstance(o, Accepted) for o in first), first[:3]
            duplicates = {o.duplicate for o in first}  # type: ignore[union-attr]
            assert len(duplicates) == 1, "a batch was partly in the log"
            if duplicates == {True}:
                outcomes_seen.add("already committed")
                assert killed in per_batch
                stored = _stored_receipts(ledger, [o.receipt.entry_hash for o in first])  # type: ignore[union-attr]
                for outcome in first:
                    receipt = outcome.receipt  # type: ignore[union-attr]
                    assert stored[receipt.entry_hash] == (receipt.index, receipt.signature)
                    receipt.verify(ED25519, harness.log.public_key)
            else:
                outcomes_seen.add("lost, appended now")
                assert killed not in per_batch
            assert ledger.count("SELECT count(*) FROM event") == (killed + 1) * BATCH
            again = harness.submit(envelopes)
            assert [o.duplicate for o in again] == [True] * BATCH  # type: ignore[union-attr]
            assert [o.receipt for o in again] == [o.receipt for o in first]  # type: ignore[union-attr]
            assert harness.audit().intact
            next_batch = killed + 1
    finally:
        probe_close()
    assert caught_inside >= 1, "never observed the writer inside its transaction"
    assert harness.checkpoint() is not None
    final = harness.audit()
    assert final.intact
    assert final.events == next_batch * BATCH
    print(f"kills inside a transaction: {caught_inside}; outcomes: {sorted(outcomes_seen)}")


def _stored_receipts(ledger: CrashLedger, hashes: list[bytes]) -> dict[bytes, tuple[int, bytes]]:
    with ledger.harness.store.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT event_hash, log_index, receipt_signature FROM event")
        ).all()
    wanted = set(hashes)
    return {bytes(h): (i, bytes(s)) for h, i, s in rows if bytes(h) in wanted}
