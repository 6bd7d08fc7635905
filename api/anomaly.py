"""Running the rules: a batch rescan of the whole ledger, and the online worker.

Both feed the same pure :class:`ledger.rules.Engine` the same facts in log order; the
batch run stops at ``as_of`` (entries logged later are not read, deadlines due later do
not fire), the worker at "now". That is why they agree.
"""

from __future__ import annotations

import ctypes
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import redis

from api.background import SingletonLock
from api.catalogs import DEFAULT_RULES, load_registry, load_rules
from api.engine_snapshots import EngineSnapshots
from api.replay import Progress, replay
from ledger.catalog import CatalogRegistry
from ledger.rules import Engine, Finding, RulesConfig
from ledger.rules.state import utc_text
from ledger.store.findings import EPOCH, Cursor, FindingStore
from ledger.store.repository import utc_now
from ledger.timefmt import format_utc, parse_utc

log = logging.getLogger("chemtrace.findings")


def new_engine(
    rules: RulesConfig | Path | None = None, catalogs: CatalogRegistry | None = None
) -> Engine:
    """An engine on the given (or the shipped) rules and catalogs."""
    config = rules if isinstance(rules, RulesConfig) else load_rules(rules or DEFAULT_RULES)
    return Engine(config, catalogs or load_registry())


def rescan(
    store: FindingStore, engine: Engine, *, as_of: datetime, progress: Progress | None = None
) -> list[Finding]:
    """Every finding the ledger supports as of ``as_of``, in the order the engine made them.

    Reads every entry logged at or before ``as_of`` and the security journal up to it, then
    fires the deadlines due before ``as_of`` (one due at exactly ``as_of`` is still met by an
    act at that instant).
    """
    until = format_utc(as_of)
    return replay(store, engine, until_time=until, clock=as_of, journal_until=until,
                  progress=progress)  # fmt: skip


class FindingsWorker:
    """The online engine: judges new log entries as they land, and fires due deadlines.

    New entries are read from the database by log index (the outbox's order), so a lost or
    replayed stream message cannot lose or duplicate anything; with Redis the worker
    blocks on the relay's entry stream to wake up at once instead of polling. Findings and
    the cursor are saved in one transaction, and a restarted worker rebuilds the engine
    by replaying the ledger up to its cursor, so its deadline timers survive restarts.

    Deadlines fire only once the worker has caught up, at ``now - grace``: an entry
    committed a moment late still counts as logged before a deadline due in that moment.
    """

    def __init__(
        self,
        store: FindingStore,
        make_engine: Callable[[], Engine],
        *,
        lock: SingletonLock | None = None,
        wait_for_entries: Callable[[int, float], None] | None = None,
        grace_s: float = 2.0,
        clock: Callable[[], datetime] = utc_now,
        page: int = 2000,
        snapshots: EngineSnapshots | None = None,
    ) -> None:
        self._store, self._make_engine, self._lock = store, make_engine, lock
        self._snapshots = snapshots
        self._wait = wait_for_entries
        self._grace, self._clock, self._page = grace_s, clock, page
        self.engine: Engine | None = None
        self._journal_at = EPOCH

    def step(self) -> int:
        """One round: read, judge, save. Returns how many occurrences were new (each joins
        its group, one per rule and subject: see :meth:`FindingStore.save`)."""
        if self._lock is not None and not self._lock.acquire():
            self.engine = None  # another process runs the engine; rebuild if we take over
            return 0
        engine = self.engine or self._rebuild()
        read = self._store.facts(engine.position, limit=self._page)
        facts = read.facts
        found = engine.feed_all(facts)
        engine.position = read.last
        if not read.full:
            horizon = self._clock().timestamp() - self._grace
            found.extend(engine.advance(horizon))
            found.extend(self._journal(engine))
        if not facts and not found:
            if self._wait is not None:
                self._wait(engine.position, 1.0)
            return 0
        new = len(self._store.save(found, self._cursor(engine)))
        if self._snapshots is not None:
            try:
                self._snapshots.after_save(engine, self._journal_at, self._make_engine)
            except Exception as exc:  # a full disk (or any snapshot fault) must not stop findings
                log.warning("could not write an engine snapshot: %s", exc, exc_info=True)
        return new

    def _rebuild(self) -> Engine:
        cursor = self._store.cursor()
        loaded = None
        if self._snapshots is not None:
            loaded = self._snapshots.newest(self._make_engine, at_most=cursor.log_position)
        engine = loaded.engine if loaded is not None else self._make_engine()
        journal_since = loaded.binding.journal_at if loaded is not None else EPOCH
        if loaded is not None:
            log.info("engine restored from snapshot %s at log position %d; replaying to %d",
                     loaded.path.name, engine.position, cursor.log_position)  # fmt: skip
        if cursor.rules_version and cursor.rules_version != engine.config.version:
            log.warning("rules changed from %s to %s: findings from now on use the new rules; "
                        "run `chemtrace findings rescan --save` to re-judge the past",
                        cursor.rules_version, engine.config.version)  # fmt: skip
        replay(self._store, engine, until_index=cursor.log_position,
               clock=parse_utc(cursor.clock), journal_until=cursor.journal_at,
               journal_since=journal_since)  # fmt: skip
        self._journal_at = cursor.journal_at
        self.engine = engine
        return engine

    def _journal(self, engine: Engine) -> list[Finding]:
        until = utc_text(engine.clock)
        found: list[Finding] = []
        for entry in self._store.journal(since=self._journal_at, until=until):
            found.extend(engine.journal(entry))
        self._journal_at = until
        return found

    def _cursor(self, engine: Engine) -> Cursor:
        return Cursor(engine.position, self._journal_at, utc_text(engine.clock),
                      engine.config.version)  # fmt: skip

    def close(self) -> None:
        if self._lock is not None:
            self._lock.release()


def redis_waiter(client: redis.Redis, stream: str) -> Callable[[int, float], None]:
    """Block until the relay's stream holds an entry past ``position`` (or ``timeout`` s)."""

    def wait(position: int, timeout: float) -> None:
        try:
            client.xread({stream: f"{position + 1}-0"}, count=1, block=int(timeout * 1000))
        except redis.RedisError as exc:
            log.warning("entry stream unavailable, polling the database: %s", exc)
            time.sleep(timeout)

    return wait


class FindingsProcess:
    """Runs ``chemtrace findings worker`` as a child process, restarting it if it dies.

    The engine gets its own interpreter: in a thread of the API process it would share the
    GIL with every request and fall behind exactly when the load is high.

    The child gets the read end of a pipe whose write end only this process holds: when
    this process dies, even by SIGKILL, the kernel closes it and the child sees end of file
    and exits (:func:`exit_with_parent`), so no orphan keeps the findings lock with settings
    a restarted server may have changed.
    """

    def __init__(self, command: list[str]) -> None:
        self._command = command
        self.process: subprocess.Popen[bytes] | None = None
        self._lifeline: int | None = None

    def step(self) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        if self.process is not None:
            log.warning("findings worker exited with %s; restarting", self.process.returncode)
        self._cut_lifeline()
        # both ends are close-on-exec: no other child of this process inherits the write end
        read, write = os.pipe()
        try:
            self.process = subprocess.Popen(  # noqa: S603 (our own CLI)
                [*self._command, "--parent-fd", str(read)], pass_fds=(read,)
            )
        except BaseException:
            os.close(write)
            raise
        finally:
            os.close(read)
        self._lifeline = write

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None
        self._cut_lifeline()

    def _cut_lifeline(self) -> None:
        if self._lifeline is not None:
            os.close(self._lifeline)
            self._lifeline = None


PR_SET_PDEATHSIG = 1


def exit_with_parent(fd: int, stop: Callable[[], None], *, grace_s: float = 3.0) -> None:
    """Call ``stop`` once the parent process is gone, and end this process ``grace_s``
    seconds later if it is still running (a long rebuild would otherwise hold the lock).

    ``fd`` is the read end of the parent's pipe (see :class:`FindingsProcess`): it reaches
    end of file when the parent dies, on any POSIX system. Two more signs, in case:
    on Linux the kernel sends SIGTERM when the parent dies (``PR_SET_PDEATHSIG``; the
    caller handles SIGTERM as a stop), and a changed parent pid means this process was
    re-parented. Raises :class:`OSError` if ``fd`` is not open.
    """
    os.fstat(fd)
    parent = os.getppid()
    _set_parent_death_signal(signal.SIGTERM)

    def watch() -> None:
        try:
            while os.getppid() == parent:
                ready, _, _ = select.select([fd], [], [], 1.0)
                if ready and not os.read(fd, 64):
                    break
        except OSError as exc:  # the pipe is broken: the parent cannot be watched any longer
            log.warning("lost the pipe from the server: %s", exc)
        log.warning("the server that started this findings worker is gone; stopping")
        # armed before ``stop``, which could block: the deadline holds whatever the main
        # thread is doing, and leaving mid-transaction loses nothing (saves are atomic)
        deadline = threading.Timer(grace_s, os._exit, (1,))
        deadline.daemon = True
        deadline.start()
        stop()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _set_parent_death_signal(signum: int) -> None:
    # The kernel counts the parent as dead when the *thread* that started this process
    # exits: :class:`FindingsProcess` is stepped by a supervisor thread that lives as long
    # as the service, and stopping that thread comes with stopping this worker anyway.
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        done = libc.prctl(ctypes.c_int(PR_SET_PDEATHSIG), ctypes.c_ulong(signum),
                          ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0))  # fmt: skip
    except (OSError, AttributeError) as exc:
        log.warning("no parent-death signal: %s", exc)
        return
    if done != 0:
        log.warning("no parent-death signal: %s", os.strerror(ctypes.get_errno()))


def worker_command(
    db: str, rules: Path | None, redis_url: str | None, namespace: str, interval: float,
    *, snapshots: Path | None = None, keys: Path | None = None,
) -> list[str]:  # fmt: skip
    """The command line of a findings worker for this deployment."""
    # ``chemtrace findings worker``, through its own module: a (re)started worker need not
    # import every other command of the CLI first
    command = [sys.executable, "-m", "api.cli_findings", "worker", "--db", db,
               "--interval", str(interval)]  # fmt: skip
    if rules is not None:
        command += ["--rules", str(rules)]
    if redis_url is not None:
        command += ["--redis", redis_url, "--namespace", namespace]
    if snapshots is not None:
        command += ["--snapshots", str(snapshots)]
        if keys is not None:
            command += ["--keys", str(keys)]
    return command
