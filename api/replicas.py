"""Read replicas: read-only queries go to a PostgreSQL standby that has replayed enough.

The staleness rule. A standby replays the primary's transactions in commit order, and an
append writes its log entry, Merkle nodes, chain heads and event rows in one transaction,
so a standby whose ``log_state.size`` is greater than ``i`` holds everything about entry
``i``. Hence:

- a read that must see entry ``i`` (the ``Chemtrace-Read-After: i`` header, ``i`` being a
  receipt's ``index``) goes to a standby that has replayed past ``i``, else to the primary:
  a client always reads its own write;
- a proof for tree size ``n`` is served by a standby only once it has replayed ``n``
  entries, else by the primary (:meth:`ReadRouter.at_least`);
- any other read may lag by the replication delay;
- a read made of several queries (an offline bundle: a checkpoint, then chains and proofs
  under it) runs within :func:`one_node`, so every query sees the same node's state.

Writes, chain heads used for appends, checkpoint signing, and every authentication and
authorisation read (tokens, scopes, revocations, rate limits, the security journal) are
never routed: they use the primary's engine directly, so a revoked token never works
against a standby.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Engine, text
from starlette.types import ASGIApp, Receive, Scope, Send

from api.problems import ProblemError, respond

READ_AFTER_HEADER = "Chemtrace-Read-After"
_need: ContextVar[int] = ContextVar("chemtrace_read_needs_size", default=0)
_pinned: ContextVar[dict[int, Engine] | None] = ContextVar("chemtrace_read_pinned", default=None)
_SIZE_TTL_S = 0.1


@contextlib.contextmanager
def needing(size: int) -> Iterator[None]:
    """Within the block, reads are served only by a node holding ``size`` log entries."""
    token = _need.set(max(_need.get(), size))
    try:
        yield
    finally:
        _need.reset(token)


@contextlib.contextmanager
def one_node() -> Iterator[None]:
    """Within the block, each router's reads go to the node it chose for the first."""
    token = _pinned.set({})
    try:
        yield
    finally:
        _pinned.reset(token)


def read_after(index: int) -> contextlib.AbstractContextManager[None]:
    """A read that must see log entry ``index`` (a receipt's index)."""
    return needing(index + 1)


@dataclass
class _Replica:
    engine: Engine
    size: int = -1
    checked: float = float("-inf")

    def replayed(self) -> int:
        """Log entries replayed here (cached briefly; -1 when the standby is unreachable)."""
        now = time.monotonic()
        if now - self.checked >= _SIZE_TTL_S:
            try:
                with self.engine.connect() as conn:
                    self.size = int(conn.execute(text("SELECT size FROM log_state")).scalar_one())
            except Exception:  # down or lagging behind a migration: not a candidate
                self.size = -1
            self.checked = now
        return self.size


@dataclass
class ReadRouter:
    """Chooses, per read, the primary or a standby that has replayed what the read needs."""

    primary: Engine
    replicas: Sequence[_Replica] = field(default_factory=tuple)

    @classmethod
    def of(cls, primary: Engine, replicas: Sequence[Engine]) -> ReadRouter:
        return cls(primary, tuple(_Replica(engine) for engine in replicas))

    def choose(self) -> Engine:
        pinned = _pinned.get()
        if pinned is not None and id(self) in pinned:
            return pinned[id(self)]
        need = _need.get()
        chosen = next(
            (r.engine for r in self.replicas if r.replayed() >= need),  # unreachable: -1
            self.primary,
        )
        if pinned is not None:
            pinned[id(self)] = chosen
        return chosen

    def engine(self) -> Engine:
        """An engine-shaped view for read-only stores: ``connect()`` is routed per call,
        ``begin()`` (a write) always goes to the primary."""
        # Only connect/begin/dialect/url are used by the read-only stores it is given to.
        return cast(Engine, _RoutedEngine(self))

    def dispose(self) -> None:
        for replica in self.replicas:
            replica.engine.dispose()


class _RoutedEngine:
    def __init__(self, router: ReadRouter) -> None:
        self._router = router
        self.dialect = router.primary.dialect
        self.url = router.primary.url

    def connect(self) -> Any:
        return self._router.choose().connect()

    def begin(self) -> Any:
        return self._router.primary.begin()


class ReadAfter:
    """ASGI middleware: ``Chemtrace-Read-After: INDEX`` makes every read of the request see
    log entry ``INDEX`` (a receipt's index). Malformed: 422 ``invalid_read_after``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = None
        if scope["type"] == "http":
            wanted = READ_AFTER_HEADER.lower().encode()
            raw = next((v for k, v in scope["headers"] if k == wanted), None)
        if raw is None:
            await self.app(scope, receive, send)
            return
        value = raw.decode("latin-1").strip()
        if not value.isdigit() or len(value) > 18:
            problem = ProblemError(
                422, "invalid_read_after",
                f"{READ_AFTER_HEADER} takes a log index (a receipt's index), not {value!r}",
                field=READ_AFTER_HEADER,
            )  # fmt: skip
            await respond(problem)(scope, receive, send)
            return
        with read_after(int(value)):
            await self.app(scope, receive, send)
