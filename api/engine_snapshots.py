"""The findings worker's engine snapshots on disk: written atomically, trusted only when checked.

Files live in one folder, named by log position (``engine-000000001234.snap``). A snapshot is
loaded only if its MAC verifies under the deployment's snapshot key, its format, rules and
catalogs match this engine, and the ledger still holds the leaf and root it was bound to;
anything else is logged and skipped, and the worker replays (from an older snapshot, or
from the start). See :mod:`ledger.rules.snapshot`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from api.replay import replay
from ledger.rules import Engine
from ledger.rules.snapshot import (
    Binding,
    SnapshotRefusedError,
    canonical_state,
    catalog_digest,
    check_inputs,
    open_sealed,
    restore,
    rules_digest,
    seal,
)
from ledger.rules.state import utc_text
from ledger.store.anchors import log_anchor
from ledger.store.files import write_bytes_atomic
from ledger.store.findings import FindingStore
from ledger.timefmt import parse_utc

log = logging.getLogger("chemtrace.findings")

KEY_NAME = "findings-snapshot-hmac"
"""The keystore secret the worker's snapshots are authenticated with."""
SUFFIX = ".snap"


@dataclass(frozen=True, slots=True)
class SnapshotPolicy:
    """When the worker writes a snapshot, and how often it checks one against a rescan."""

    folder: Path
    every_entries: int = 50_000
    """Write once the engine has judged this many entries since the last snapshot (a
    restart replays at most about this many: ~10 s at 5k entries/s)..."""
    every_seconds: float = 300.0
    """...or this long has passed with at least one new entry."""
    keep: int = 3
    verify_every: int = 0
    """Replay from zero and compare, every this many snapshots written (0: never)."""


@dataclass(frozen=True, slots=True)
class Loaded:
    engine: Engine
    binding: Binding
    path: Path


class EngineSnapshots:
    """Writes, finds, checks and loads one worker's snapshots."""

    def __init__(
        self, store: FindingStore, policy: SnapshotPolicy, key: bytes,
        *, clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        if len(key) < 32:
            raise ValueError("a snapshot key has at least 32 bytes")
        self._store, self.policy, self._key, self._clock = store, policy, key, clock
        self._last_position = -1
        self._last_time = clock()
        self._written = 0

    # -- writing ---------------------------------------------------------------------------------

    def due(self, engine: Engine) -> bool:
        """Whether the policy asks for a snapshot of ``engine`` now."""
        fresh = engine.position - self._last_position
        if engine.position < 0 or fresh <= 0:
            return False
        return (fresh >= self.policy.every_entries
                or self._clock() - self._last_time >= self.policy.every_seconds)  # fmt: skip

    def write(self, engine: Engine, journal_at: str) -> Path | None:
        """Seal ``engine`` (judged up to its position, its clock, and ``journal_at``) into a
        new file; ``None`` when the log holds no entry at its position."""
        anchor = log_anchor(self._store.engine, engine.position)
        if anchor is None:
            log.warning("no snapshot: the log has no entry %d", engine.position)
            return None
        binding = Binding(
            position=engine.position, leaf_hash=anchor.leaf_hash.hex(), root=anchor.root.hex(),
            clock=utc_text(engine.clock), journal_at=journal_at,
            rules_hash=rules_digest(engine.config),
            catalog_hash=catalog_digest(engine.state.chemistry.catalogs),
        )  # fmt: skip
        self.policy.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.policy.folder / f"engine-{engine.position:012d}{SUFFIX}"
        write_bytes_atomic(path, seal(engine, binding, self._key))
        self._last_position, self._last_time = engine.position, self._clock()
        self._written += 1
        self._prune()
        return path

    def after_save(
        self, engine: Engine, journal_at: str, make_engine: Callable[[], Engine]
    ) -> None:
        """The worker's hook once findings and cursor are saved: snapshot when due, and
        now and then check the snapshot against a full replay."""
        if not self.due(engine):
            return
        path = self.write(engine, journal_at)
        every = self.policy.verify_every
        if path is not None and every > 0 and self._written % every == 0:
            self.verify(path, make_engine)

    def _prune(self) -> None:
        for old in self.paths()[self.policy.keep :]:
            old.unlink(missing_ok=True)

    # -- reading ---------------------------------------------------------------------------------

    def paths(self) -> list[Path]:
        """Snapshot files, newest position first."""
        if not self.policy.folder.is_dir():
            return []
        return sorted(self.policy.folder.glob(f"engine-*{SUFFIX}"), reverse=True)

    def open(self, path: Path, make_engine: Callable[[], Engine]) -> Loaded:
        """Check and load one snapshot into a fresh engine (or raise SnapshotRefusedError)."""
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise SnapshotRefusedError("unreadable", str(exc)) from exc
        binding, state = open_sealed(data, self._key)
        engine = make_engine()
        check_inputs(binding, engine)
        anchor = log_anchor(self._store.engine, binding.position)
        if anchor is None:
            raise SnapshotRefusedError("no_such_entry", f"the log has no entry {binding.position}")
        if (anchor.leaf_hash.hex(), anchor.root.hex()) != (binding.leaf_hash, binding.root):
            where = binding.position
            raise SnapshotRefusedError("ledger_differs", f"leaf or root at {where} not as bound")
        try:
            restore(engine, state)
        except SnapshotRefusedError:
            raise
        except Exception as exc:  # authentic yet unreadable: code of the same format differs
            raise SnapshotRefusedError("format", f"{type(exc).__name__}: {exc}") from exc
        if engine.position != binding.position:
            raise SnapshotRefusedError("format", "the state's position is not the bound one")
        return Loaded(engine, binding, path)

    def newest(self, make_engine: Callable[[], Engine], *, at_most: int) -> Loaded | None:
        """The newest snapshot at or before log position ``at_most`` that passes every check.

        A refused one is logged and skipped (never deleted here: the operator may want it).
        """
        for path in self.paths():
            try:
                loaded = self.open(path, make_engine)
            except SnapshotRefusedError as exc:
                log.warning("engine snapshot %s refused (%s); not using it", path.name, exc,
                            extra={"snapshot_refused": exc.reason})  # fmt: skip
                continue
            if loaded.binding.position > at_most:
                log.warning("engine snapshot %s is ahead of the saved cursor %d; not using it",
                            path.name, at_most)  # fmt: skip
                continue
            self._last_position = loaded.binding.position
            return loaded
        return None

    def verify(self, path: Path, make_engine: Callable[[], Engine]) -> bool:
        """Replay the ledger from zero to the snapshot's position and compare the states
        byte for byte; a snapshot that differs (or fails a check) is logged and deleted."""

        try:
            loaded = self.open(path, make_engine)
        except SnapshotRefusedError as exc:
            log.error("engine snapshot %s refused (%s); discarding it", path.name, exc)
            path.unlink(missing_ok=True)
            return False
        binding = loaded.binding
        fresh = make_engine()
        replay(self._store, fresh, until_index=binding.position, clock=parse_utc(binding.clock),
               journal_until=binding.journal_at)  # fmt: skip
        if canonical_state(fresh) == canonical_state(loaded.engine):
            log.info("engine snapshot %s matches a full replay", path.name)
            return True
        log.error("ENGINE SNAPSHOT %s DIFFERS FROM A FULL REPLAY to %d; discarding it",
                  path.name, binding.position,
                  extra={"snapshot_mismatch": binding.position})  # fmt: skip
        path.unlink(missing_ok=True)
        return False
