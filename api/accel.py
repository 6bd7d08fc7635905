"""Accelerators: one interface, two implementations (Redis, or in-process).

Nothing here is ever the truth. The database decides duplicates and races; these only
make the common cases cheaper:

* an idempotency front: a resend's receipt is served without touching the database (a
  receipt is stored here only *after* its commit, so no TTL can ever cause a double write);
* per-item locks across workers, so workers racing on one item queue here instead of in
  the database (within one process, :mod:`api.group_commit` already serialises them);
* fixed-window rate limits per device and per organisation;
* the latest checkpoint note.

If Redis fails mid-run, :class:`RedisAccelerator` degrades to the in-process
implementation for ``retry_s`` seconds and counts the fallback; requests keep working.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import redis

from api.metrics import REDIS_FALLBACKS
from ledger.checkpoint import claimed_size
from ledger.errors import LedgerError

log = logging.getLogger("chemtrace.accel")
_RECEIPTS_KEPT = 100_000
CHECKPOINT_TTL_S = 1.0
"""A cached checkpoint is at most this old, so a reader never misses a newer one for long."""


class Accelerator(Protocol):
    """What the API asks of Redis or of its in-process stand-in."""

    name: str

    def remembered_receipts(self, hashes: Sequence[bytes]) -> dict[bytes, dict[str, Any]]:
        """The receipts already handed out for any of ``hashes`` (one round trip)."""
        ...

    def remember_receipts(self, receipts: dict[bytes, dict[str, Any]]) -> None: ...

    def item_locks(self, codes: Sequence[str]) -> Any: ...

    def allow(self, key: str, cost: int, per_minute: int) -> float | None:
        """None when allowed, else the seconds until the window resets."""
        ...

    def spend(self, key: str, cost: int) -> None:
        """Count ``cost`` against ``key``'s budget this minute, even past the budget."""
        ...

    def spent(self, key: str, per_minute: int) -> float | None:
        """None while ``key`` has spent less than ``per_minute`` this minute, else the
        seconds until the window resets."""
        ...

    def cached_checkpoint(self) -> str | None: ...

    def cache_checkpoint(self, note: str) -> None: ...

    def healthy(self) -> bool: ...


class LocalAccelerator:
    """In-process: per-process caches and locks (the database still decides everything)."""

    name = "local"

    def __init__(self) -> None:
        self._receipts: dict[bytes, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[int, int]] = {}
        self._checkpoint: tuple[str, float] | None = None

    def remembered_receipts(self, hashes: Sequence[bytes]) -> dict[bytes, dict[str, Any]]:
        return {digest: found for digest in hashes if (found := self._receipts.get(digest))}

    def remember_receipts(self, receipts: dict[bytes, dict[str, Any]]) -> None:
        with self._lock:
            if len(self._receipts) + len(receipts) > _RECEIPTS_KEPT:
                self._receipts.clear()
            self._receipts.update(receipts)

    @contextmanager
    def item_locks(self, codes: Sequence[str]) -> Iterator[None]:
        # Nothing to take: within one process the group commit already runs one write at a
        # time and never merges two requests touching the same item; across processes the
        # database's row locks decide.
        del codes
        yield

    def allow(self, key: str, cost: int, per_minute: int) -> float | None:
        minute = int(time.time() // 60)
        with self._lock:
            window, used = self._windows.get(key, (minute, 0))
            if window != minute:
                used = 0
            if used + cost > per_minute:
                return 60 - time.time() % 60
            self._windows[key] = (minute, used + cost)
            if len(self._windows) > _RECEIPTS_KEPT:
                self._windows = {k: v for k, v in self._windows.items() if v[0] == minute}
        return None

    def spend(self, key: str, cost: int) -> None:
        minute = int(time.time() // 60)
        with self._lock:
            window, used = self._windows.get(key, (minute, 0))
            self._windows[key] = (minute, (used if window == minute else 0) + cost)

    def spent(self, key: str, per_minute: int) -> float | None:
        minute = int(time.time() // 60)
        window, used = self._windows.get(key, (minute, 0))
        return 60 - time.time() % 60 if window == minute and used >= per_minute else None

    def cached_checkpoint(self) -> str | None:
        cached = self._checkpoint
        return cached[0] if cached and time.monotonic() - cached[1] < CHECKPOINT_TTL_S else None

    def cache_checkpoint(self, note: str) -> None:
        with self._lock:
            cached = self.cached_checkpoint()
            if cached is None or _rank(note) >= _rank(cached):
                self._checkpoint = (note, time.monotonic())

    def healthy(self) -> bool:
        return True


class RedisAccelerator:
    """Redis-backed, shared by every worker; falls back to :class:`LocalAccelerator`."""

    name = "redis"

    def __init__(self, url: str, *, retry_s: float = 2.0, namespace: str = "chemtrace") -> None:
        self.client = redis.Redis.from_url(
            url, socket_timeout=1.0, socket_connect_timeout=1.0, health_check_interval=5
        )
        self._ns = namespace
        self._local = LocalAccelerator()
        self._retry_s = retry_s
        self._down_until = 0.0

    def key(self, *parts: str) -> str:
        return ":".join((self._ns, *parts))

    def _up(self) -> bool:
        return time.monotonic() >= self._down_until

    def _fell_back(self, what: str, exc: Exception) -> None:
        REDIS_FALLBACKS.labels(what).inc()
        if self._up():
            log.warning("redis unavailable (%s: %s); using in-process fallbacks", what, exc)
        self._down_until = time.monotonic() + self._retry_s

    def healthy(self) -> bool:
        try:
            return bool(self.client.ping())
        except redis.RedisError as exc:
            self._fell_back("ping", exc)
            return False

    def remembered_receipts(self, hashes: Sequence[bytes]) -> dict[bytes, dict[str, Any]]:
        if not hashes:
            return {}
        if self._up():
            try:
                found = self.client.mget([self.key("receipt", d.hex()) for d in hashes])
                return {d: dict(json.loads(raw)) for d, raw in zip(hashes, found, strict=True)
                        if raw is not None}  # fmt: skip
            except redis.RedisError as exc:
                self._fell_back("idempotency", exc)
        return self._local.remembered_receipts(hashes)

    def remember_receipts(self, receipts: dict[bytes, dict[str, Any]]) -> None:
        if not receipts:
            return
        if self._up():
            try:
                pipe = self.client.pipeline(transaction=False)
                for digest, receipt in receipts.items():
                    pipe.set(self.key("receipt", digest.hex()), json.dumps(receipt), ex=7 * 86400)
                pipe.execute()
                return
            except redis.RedisError as exc:
                self._fell_back("idempotency", exc)
        self._local.remember_receipts(receipts)

    @contextmanager
    def item_locks(self, codes: Sequence[str]) -> Iterator[None]:
        if not self._up():
            with self._local.item_locks(codes):
                yield
            return
        token = uuid.uuid4().hex
        held: list[str] = []
        try:
            for code in sorted(set(codes)):  # one global order: no deadlock between workers
                key = self.key("lock", "item", code)
                deadline = time.monotonic() + 5
                while not self.client.set(key, token, nx=True, px=10_000):
                    if time.monotonic() > deadline:
                        break  # the database stays the authority; go on without this lock
                    time.sleep(0.002)
                else:
                    held.append(key)
        except redis.RedisError as exc:
            self._fell_back("locks", exc)
        try:
            yield
        finally:
            self._release(held, token)

    _RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end"

    def _release(self, keys: list[str], token: str) -> None:
        try:
            for key in keys:
                self.client.eval(self._RELEASE, 1, key, token)
        except redis.RedisError as exc:
            self._fell_back("locks", exc)  # they expire by themselves

    def allow(self, key: str, cost: int, per_minute: int) -> float | None:
        if self._up():
            minute = int(time.time() // 60)
            name = self.key("rate", key, str(minute))
            try:
                pipe = self.client.pipeline(transaction=True)
                pipe.incrby(name, cost)
                pipe.expire(name, 120)
                used = int(pipe.execute()[0])
                return None if used <= per_minute else 60 - time.time() % 60
            except redis.RedisError as exc:
                self._fell_back("rate_limit", exc)
        return self._local.allow(key, cost, per_minute)

    def spend(self, key: str, cost: int) -> None:
        if self._up():
            name = self.key("rate", key, str(int(time.time() // 60)))
            try:
                pipe = self.client.pipeline(transaction=True)
                pipe.incrby(name, cost)
                pipe.expire(name, 120)
                pipe.execute()
                return
            except redis.RedisError as exc:
                self._fell_back("rate_limit", exc)
        self._local.spend(key, cost)

    def spent(self, key: str, per_minute: int) -> float | None:
        if self._up():
            try:
                raw = self.client.get(self.key("rate", key, str(int(time.time() // 60))))
                used = 0 if raw is None else int(raw)
                return 60 - time.time() % 60 if used >= per_minute else None
            except redis.RedisError as exc:
                self._fell_back("rate_limit", exc)
        return self._local.spent(key, per_minute)

    def cached_checkpoint(self) -> str | None:
        if self._up():
            try:
                raw = self.client.get(self.key("checkpoint"))
                return raw.decode() if isinstance(raw, bytes) else raw
            except redis.RedisError as exc:
                self._fell_back("checkpoint_cache", exc)
        return self._local.cached_checkpoint()

    # Keep the larger checkpoint, and of one size the longer note (more cosignatures): a
    # writer that finished late never rolls the served checkpoint back (see ``_rank``).
    _CACHE_NEWER = """
local current = redis.call('get', KEYS[1])
if current then
  local size = tonumber(string.match(current, '^[^\\n]*\\n(%d+)\\n'))
  local new = tonumber(ARGV[2])
  if size and (size > new or (size == new and #current > #ARGV[1])) then return 0 end
end
redis.call('set', KEYS[1], ARGV[1], 'px', ARGV[3])
return 1
"""

    def cache_checkpoint(self, note: str) -> None:
        self._local.cache_checkpoint(note)
        if self._up():
            try:
                self.client.eval(self._CACHE_NEWER, 1, self.key("checkpoint"), note,
                                 _rank(note)[0], int(CHECKPOINT_TTL_S * 1000))  # fmt: skip
            except redis.RedisError as exc:
                self._fell_back("checkpoint_cache", exc)


def _rank(note: str) -> tuple[int, int]:
    """Which of two notes of one log to serve: the larger tree, then the longer note."""
    try:
        return claimed_size(note), len(note)
    except LedgerError:
        return -1, len(note)
