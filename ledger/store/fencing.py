"""Fencing: a former PostgreSQL primary never takes another write through chemtrace.

After a failover the old primary may come back, still believing it is the primary. If it
took writes, the log key would sign receipts and checkpoints on two forks. So every
connection a chemtrace process opens to its primary is judged first (:func:`judge`):

- a database in recovery (a standby) is not a primary;
- each promotion through ``chemtrace failover promote`` raises the ``fence`` generation on
  the promoted node, so the former primary is left one generation behind. A primary that
  sees, among the cluster's other nodes (``--replica-db``), a primary of its own or a
  higher generation refuses: it is the former one, or two nodes were promoted without
  fencing (a plain ``pg_ctl promote``) and neither may write until an operator chooses.

Connections are judged when opened. The pool's connections to a killed primary are gone,
so a revived one is only ever reached through new, judged connections. A peer that cannot
be reached is not evidence and blocks nothing; a primary cut off from the new one is kept
from acknowledging by synchronous replication instead (docs/operations.md).
SQLite is one node: nothing to fence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from ledger.errors import StorageError

__all__ = ["FencedError", "NodeState", "install_fence", "judge", "node_state", "promote"]

_STATE = "SELECT pg_is_in_recovery(), (SELECT generation FROM fence WHERE id = 1)"
_PEER_TIMEOUT_S = 2


class FencedError(StorageError):
    code = "fenced"


@dataclass(frozen=True, slots=True)
class NodeState:
    name: str
    reachable: bool
    in_recovery: bool = False
    generation: int | None = None


def _shown(url: str) -> str:
    parsed = make_url(url)
    return f"{parsed.host}:{parsed.port}/{parsed.database}"


def judge(primary: NodeState, peers: Sequence[NodeState]) -> None:
    """Raise :class:`FencedError` unless ``primary`` may take writes."""
    if primary.in_recovery:
        raise FencedError(f"{primary.name} is a standby (in recovery): it takes no writes")
    own = primary.generation or 0
    for peer in peers:
        if not peer.reachable or peer.in_recovery:
            continue
        theirs = peer.generation or 0
        if theirs > own:
            raise FencedError(
                f"{primary.name} is a former primary (generation {own}); {peer.name} was "
                f"promoted after it (generation {theirs})"
            )
        if theirs == own:
            raise FencedError(
                f"{primary.name} and {peer.name} are both primaries of generation {own}: "
                f"run `chemtrace failover promote` on the one that is to take writes"
            )


def _state_of(cursor: Any, name: str) -> NodeState:
    cursor.execute(_STATE)
    in_recovery, generation = cursor.fetchone()
    return NodeState(name, True, bool(in_recovery), None if generation is None else int(generation))


def node_state(url: str) -> NodeState:
    """What the node at ``url`` is now (unreachable is an answer too)."""
    engine = create_engine(
        url, poolclass=NullPool, connect_args={"connect_timeout": _PEER_TIMEOUT_S}
    )
    try:
        with engine.connect() as conn:
            in_recovery, generation = conn.execute(text(_STATE)).one()
    except Exception:  # unreachable, down, not a ledger: no evidence either way
        return NodeState(_shown(url), False)
    finally:
        engine.dispose()
    return NodeState(_shown(url), True, bool(in_recovery), generation)


def install_fence(engine: Engine, peers: Sequence[str]) -> None:
    """Judge every connection ``engine`` opens to its PostgreSQL primary, against ``peers``."""
    if engine.dialect.name != "postgresql":
        return
    name = _shown(engine.url.render_as_string(hide_password=False))

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            primary = _state_of(cursor, name)
        finally:
            cursor.close()
        dbapi_connection.rollback()  # the check must not leave a transaction open
        judge(primary, [node_state(url) for url in peers])

    event.listen(engine, "connect", on_connect)


def promote(url: str, peers: Sequence[str] = (), *, wait_s: int = 60) -> int:
    """Make the node at ``url`` the primary: promote it if it is a standby, then raise its
    generation above its own and every reachable peer's. Returns the new generation."""
    seen = [state.generation or 0 for state in map(node_state, peers) if state.reachable]
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            if conn.execute(text("SELECT pg_is_in_recovery()")).scalar_one():
                promoted = conn.execute(
                    text("SELECT pg_promote(true, :wait)"), {"wait": wait_s}
                ).scalar_one()
                if not promoted:
                    raise StorageError(f"{_shown(url)} did not finish promotion in {wait_s} s")
            conn.commit()
        with engine.begin() as conn:
            since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            generation = conn.execute(
                text("UPDATE fence SET generation = greatest(generation, :seen) + 1, "
                     "since = :since WHERE id = 1 RETURNING generation"),
                {"seen": max(seen, default=0), "since": since},
            ).scalar_one()  # fmt: skip
    finally:
        engine.dispose()
    return int(generation)
