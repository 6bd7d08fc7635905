"""Where the log stood at one index: the entry's Merkle leaf hash and the tree root there.

An engine snapshot is bound to these, so a snapshot of a log that was since rewritten (or
of another log) is refused on load.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, select, tuple_
from sqlalchemy.engine import Connection

from ledger.merkle import NodeId, leaf_hash, root_at
from ledger.store import schema as t


@dataclass(frozen=True, slots=True)
class LogAnchor:
    index: int
    leaf_hash: bytes
    root: bytes
    """MTH of the log's first ``index + 1`` entries (RFC 9162 §2.1.1)."""


def log_anchor(engine: Engine, index: int) -> LogAnchor | None:
    """The anchor at ``index``; ``None`` when the log holds no entry there."""
    if index < 0:
        return None
    le = t.log_entry
    with engine.connect() as conn:
        leaf_input = conn.execute(select(le.c.leaf_input).where(le.c.idx == index)).scalar()
        if leaf_input is None:
            return None
        root = root_at(_Nodes(conn), index + 1)
    return LogAnchor(index, leaf_hash(leaf_input), root)


class _Nodes:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get_nodes(self, ids: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        node = t.log_node
        query = select(node.c.level, node.c.idx, node.c.hash).where(
            tuple_(node.c.level, node.c.idx).in_(list(ids))
        )
        return {(row.level, row.idx): row.hash for row in self._conn.execute(query)}
