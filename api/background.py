"""Background work in the API process: the checkpoint integrator and the outbox relay.

Exactly one integrator signs at a time across every worker and host: on PostgreSQL it
holds a session advisory lock, on SQLite an exclusive file lock beside the database. The
checkpoint write itself is also a compare-and-set, so even a split brain cannot fork the log.

The relay copies outbox rows to a Redis stream with explicit stream IDs (``index+1``-0):
XADD refuses an ID that is not new, so a relay that crashed between publishing and
marking rows published re-publishes nothing twice. At-least-once delivery, exactly-once
in the stream.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

from api.accel import Accelerator
from api.metrics import CHECKPOINT_LAG, CHECKPOINT_SIZE, LOG_SIZE, OUTBOX_PUBLISHED
from ledger.checkpoint import claimed_size
from ledger.errors import CheckpointConflictError, LedgerError
from ledger.store.engine import is_sqlite
from ledger.store.service import ServiceStore
from ledger.timefmt import parse_utc

log = logging.getLogger("chemtrace.background")
ADVISORY_KEYS = {  # "CTCP", "CTFD", "CTWH"
    "integrator": 0x43_54_43_50, "findings": 0x43_54_46_44, "webhooks": 0x43_54_57_48,
}  # fmt: skip


class SingletonLock:
    """A lock held by at most one process per database, kept while the holder lives."""

    def __init__(self, db_url: str, engine: Any, *, name: str = "integrator") -> None:
        self._sqlite = is_sqlite(db_url)
        self._engine = engine
        self._conn: Connection | None = None
        self._file: Any = None
        self._key = ADVISORY_KEYS[name]
        database = make_url(db_url).database
        self._path = Path(f"{database}.{name}.lock") if self._sqlite and database else None

    def acquire(self) -> bool:
        if self._sqlite:
            return self._acquire_file()
        return self._acquire_advisory()

    def _acquire_file(self) -> bool:
        if self._file is not None:
            return True
        if self._path is None:
            return True  # an in-memory database has one process by definition
        handle = self._path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._file = handle
        return True

    def _acquire_advisory(self) -> bool:
        try:
            if self._conn is not None:
                self._conn.execute(text("SELECT 1")).all()  # still ours if the session lives
                return True
            conn = self._engine.connect()
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key})
            if got.scalar_one():
                conn.commit()
                self._conn = conn
                return True
            conn.rollback()
            conn.close()
        except Exception as exc:
            log.warning("integrator lock lost: %s", exc)
            self.release()
        return False

    @property
    def held(self) -> bool:
        """Whether this process held the lock at its last :meth:`acquire` (no database call:
        safe from any thread, while ``acquire`` runs on the integrator's own)."""
        return (
            self._conn is not None
            or self._file is not None
            or (self._sqlite and self._path is None)
        )

    def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):  # the session may already be gone
                self._conn.invalidate()
            self._conn = None
        if self._file is not None:
            self._file.close()
            self._file = None


class Worker(threading.Thread):
    """A daemon loop calling ``step`` every ``interval`` seconds until stopped (what a step
    returns, a count of work done say, is ignored)."""

    def __init__(
        self,
        name: str,
        interval: float,
        step: Callable[[], object],
        wakeup: threading.Event | None = None,
    ) -> None:
        super().__init__(name=name, daemon=True)
        self.interval, self._step = interval, step
        self.stopping = threading.Event()
        self._wakeup = wakeup or self.stopping  # set early: a round now, not after ``interval``

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self._step()
            except Exception:
                log.exception("%s round failed", self.name)
            self._wakeup.wait(self.interval)
            if self._wakeup is not self.stopping:
                self._wakeup.clear()

    def stop(self) -> None:
        self.stopping.set()
        self._wakeup.set()
        self.join(timeout=10)


class Integrator:
    """Signs a checkpoint whenever the log has grown, if it holds the singleton lock."""

    def __init__(
        self,
        service: ServiceStore,
        write_checkpoint: Callable[[], str | None],
        lock: SingletonLock,
        accel: Accelerator,
        on_checkpoint: Callable[[], None] = lambda: None,
    ) -> None:
        self._service, self._write, self._lock, self._accel = service, write_checkpoint, lock, accel
        self._on_checkpoint = on_checkpoint

    def step(self) -> None:
        size, covered = self._service.checkpoint_state()
        LOG_SIZE.set(size)
        # The lock first, even with nothing to sign: holding it is what lets this process
        # collect cosignatures for the newest checkpoint after a restart.
        if not self._lock.acquire() or size == covered:
            return
        oldest = self._service.log_time_of(covered)
        try:
            note = self._write()
        except CheckpointConflictError:
            # another honest signer moved the checkpoint first: the next round signs on top
            log.info("checkpoint conflict: another signer was first; retrying next round")
            return
        except LedgerError as exc:
            log.warning("checkpoint not written: %s", exc.diagnostics())
            return
        if note is None:
            return
        self._accel.cache_checkpoint(note)
        self._on_checkpoint()
        CHECKPOINT_SIZE.set(claimed_size(note))  # the note's size: it may exceed ``size``
        if oldest is not None:
            CHECKPOINT_LAG.observe((datetime.now(UTC) - parse_utc(oldest)).total_seconds())

    def close(self) -> None:
        self._lock.release()


class OutboxRelay:
    """Copies outbox rows to the Redis stream, then marks them published."""

    def __init__(self, service: ServiceStore, client: redis.Redis, stream: str) -> None:
        self._service, self._client, self.stream = service, client, stream

    def step(self) -> int:
        rows = self._service.unpublished()
        if not rows:
            return 0
        done: list[int] = []
        try:
            for index, kind, entry_hash in rows:
                try:
                    self._client.xadd(
                        self.stream,
                        {"index": index, "kind": kind, "hash": "sha256:" + entry_hash.hex()},
                        id=f"{index + 1}-0",
                    )
                except redis.ResponseError as exc:
                    if "equal or smaller" not in str(exc):
                        raise
                done.append(index)  # already in the stream: published by an earlier round
        except redis.RedisError as exc:
            log.warning("relay paused, redis unavailable: %s", exc)
        if done:
            self._service.mark_published(done)
            OUTBOX_PUBLISHED.inc(len(done))
        return len(done)
