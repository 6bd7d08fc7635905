"""Helpers of the tlog-tiles tests: synthetic log leaves, and tiles folded from a node map.

Real events cost a signature and a custody check each; the tiles only see leaf inputs and
Merkle nodes, so big logs are grown here by writing leaves straight into ``log_entry`` and
``log_node`` (real RFC 6962 hashes, leaf inputs shaped like :class:`ledger.leaf.LeafRecord`),
exactly the rows an append writes, and ``log_state.size``. Such a log is whole for the tiles
and the checkpoint, not for ``verify-log`` on the database (its entries have no events).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy import insert, update

from ledger.leaf import LeafRecord
from ledger.merkle import Frontier, NodeId, frontier_ids, leaf_hash
from ledger.store import schema as t
from ledger.store.repository import SqlLedgerStore
from ledger.tiles import Tile, encode_bundle, tiles_for_size

LOG_TIME = "2026-10-01T08:00:00Z"


def synthetic_entry_hash(index: int) -> bytes:
    return hashlib.sha256(f"synthetic entry {index}".encode()).digest()


def synthetic_leaf(index: int) -> bytes:
    """Leaf input ``index``: a canonical leaf record of a made-up entry hash."""
    return LeafRecord("event", synthetic_entry_hash(index), LOG_TIME).encode()


def append_synthetic(store: SqlLedgerStore, count: int) -> int:
    """Append ``count`` synthetic leaves to ``store``; return the new log size."""
    size = store.log_size()
    ids = frontier_ids(size)
    found = store.get_nodes(ids)
    frontier = Frontier.from_nodes(size, [found[node] for node in ids])
    entries, nodes = [], []
    for index in range(size, size + count):
        leaf = synthetic_leaf(index)
        entries.append({"idx": index, "kind": "event", "entry_hash": synthetic_entry_hash(index),
                        "log_time": LOG_TIME, "leaf_input": leaf})  # fmt: skip
        nodes += [{"level": level, "idx": at, "hash": digest}
                  for (level, at), digest in frontier.append(leaf_hash(leaf))]  # fmt: skip
    with store.engine.begin() as conn:
        if entries:
            conn.execute(insert(t.log_entry), entries)
            conn.execute(insert(t.log_node), nodes)
        conn.execute(update(t.log_state).where(t.log_state.c.id == 1).values(size=size + count))
    return size + count


def tile_bytes(tile: Tile, nodes: Mapping[NodeId, bytes], leaves: list[bytes]) -> bytes:
    """The bytes of ``tile`` for a tree given by all its perfect nodes and its leaf inputs."""
    if tile.entries:
        return encode_bundle(leaves[tile.start : tile.end])
    return b"".join(nodes[(tile.node_level, tile.first_node + i)] for i in range(tile.width))


def write_tiles(store: SqlLedgerStore, folder: Path) -> int:
    """Write the latest checkpoint and its tiles from ``store`` into ``folder`` (plain files,
    as ``chemtrace tiles export`` lays them out); return the checkpoint's size."""
    latest = store.latest_checkpoint()
    assert latest is not None
    size = latest[0]
    for tile in [*tiles_for_size(size), *tiles_for_size(size, entries=True)]:
        if tile.entries:
            data = encode_bundle(store.leaf_inputs(tile.start, tile.end))
        else:
            data = b"".join(store.tile_hashes(tile.node_level, tile.first_node, tile.width))
        path = folder / tile.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (folder / "checkpoint").write_text(latest[1])
    return size
