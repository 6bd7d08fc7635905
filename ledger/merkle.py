"""RFC 9162 (RFC 6962) Merkle tree hashing, compact frontiers and proofs, SHA-256.

The tree hash is MTH of RFC 9162 §2.1.1: ``HASH(0x00 || leaf)`` for a leaf and
``HASH(0x01 || left || right)`` for an interior node, with an ``n``-leaf tree
split at the largest power of two smaller than ``n``.

Nodes are addressed by :data:`NodeId` ``(level, index)``: the perfect subtree
of ``2**level`` leaves covering ``[index * 2**level, (index + 1) * 2**level)``.
Perfect nodes never change once complete, so a store keeps them forever and
every proof is assembled from O(log n) of them, read with one batched
:meth:`NodeReader.get_nodes` call. Imperfect right-edge subtrees are folded from
their perfect decomposition; the tree is never rebuilt.

Proofs follow RFC 9162 §2.1.3.1 (PATH) and §2.1.4.1 (SUBPROOF); verification
follows §2.1.3.2 and §2.1.4.2 step by step, and also demands exact proof
lengths and 32-byte hashes. This module performs no I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, Protocol, TypeAlias

from ledger.errors import ProofError, StorageError

HASH_SIZE: Final = 32
LEAF_PREFIX: Final = b"\x00"
NODE_PREFIX: Final = b"\x01"
EMPTY_ROOT: Final = hashlib.sha256(b"").digest()

NodeId: TypeAlias = tuple[int, int]
"""``(level, index)`` of a perfect subtree of ``2**level`` leaves."""

_Range: TypeAlias = tuple[int, int]


class NodeReader(Protocol):
    """Reads stored perfect nodes, e.g. one SQL query per call."""

    def get_nodes(self, ids: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        """Return the hash of every node in ``ids``."""
        ...


def leaf_hash(leaf_input: bytes) -> bytes:
    """Return ``SHA-256(0x00 || leaf_input)``, the leaf hash of RFC 9162 §2.1.1."""
    return hashlib.sha256(LEAF_PREFIX + leaf_input).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return ``SHA-256(0x01 || left || right)``, the interior node hash of RFC 9162 §2.1.1."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _fold(hashes: Sequence[bytes]) -> bytes:
    """Fold a perfect decomposition (left to right, largest first) into its MTH."""
    acc = hashes[-1]
    for left in reversed(hashes[:-1]):
        acc = node_hash(left, acc)
    return acc


def _require_hash(what: str, value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"{what} must be {HASH_SIZE} bytes", what=what, length=len(value))


def _require_index(index: int, size: int) -> None:
    if not 0 <= index < size:
        raise ProofError("leaf index must satisfy 0 <= index < size", index=index, size=size)


def _require_sizes(first: int, second: int) -> None:
    if not 0 < first <= second:
        raise ProofError(
            "consistency needs 0 < first <= second (RFC 9162 §2.1.4)", first=first, second=second
        )


def _require_length(kind: str, proof: Sequence[bytes], expected: int) -> None:
    if len(proof) != expected:
        raise ProofError(
            f"{kind} proof has {len(proof)} hashes, expected {expected}",
            expected=expected,
            computed=len(proof),
        )
    for position, element in enumerate(proof):
        _require_hash(f"proof[{position}]", element)


def _split(n: int) -> int:
    """Return the largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def _range_ids(start: int, end: int) -> list[NodeId]:
    """Decompose leaves ``[start, end)`` into perfect subtrees, left to right."""
    ids: list[NodeId] = []
    while start < end:
        level = (end - start).bit_length() - 1
        while start % (1 << level):
            level -= 1
        ids.append((level, start >> level))
        start += 1 << level
    return ids


def frontier_ids(size: int) -> list[NodeId]:
    """Return the perfect subtrees covering ``[0, size)``, left to right, largest first."""
    if size < 0:
        raise ProofError("tree size must not be negative", size=size)
    return _range_ids(0, size)


def _inclusion_ranges(index: int, size: int) -> list[_Range]:
    """Return the leaf ranges of PATH(index, D[size]) (RFC 9162 §2.1.3.1), leaf first."""
    start, end = 0, size
    ranges: list[_Range] = []
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()
    return ranges


def _consistency_ranges(first: int, second: int) -> list[_Range]:
    """Return the leaf ranges of PROOF(first, D[second]) (RFC 9162 §2.1.4.1), deepest first."""
    start, end, whole = 0, second, True
    ranges: list[_Range] = []
    while first != end:
        k = _split(end - start)
        if first - start <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
            whole = False
    if not whole:
        ranges.append((start, end))
    ranges.reverse()
    return ranges


def _flatten(ranges: Sequence[_Range]) -> list[NodeId]:
    return [node for start, end in ranges for node in _range_ids(start, end)]


def inclusion_proof_ids(index: int, size: int) -> list[NodeId]:
    """Return every stored node that :func:`inclusion_proof` reads, in proof order.

    Raises:
        ProofError: ``index`` is not in ``[0, size)``.
    """
    _require_index(index, size)
    return _flatten(_inclusion_ranges(index, size))


def consistency_proof_ids(first: int, second: int) -> list[NodeId]:
    """Return every stored node that :func:`consistency_proof` reads, in proof order.

    Raises:
        ProofError: the sizes do not satisfy ``0 < first <= second``.
    """
    _require_sizes(first, second)
    return _flatten(_consistency_ranges(first, second))


def _read(reader: NodeReader, ids: Sequence[NodeId]) -> dict[NodeId, bytes]:
    """Fetch ``ids`` with a single ``get_nodes`` call (none when ``ids`` is empty)."""
    if not ids:
        return {}
    found = reader.get_nodes(ids)
    missing = [node for node in ids if node not in found]
    if missing:
        raise StorageError("node store lacks perfect Merkle nodes", missing=missing[:8])
    wrong = [node for node in ids if len(found[node]) != HASH_SIZE]
    if wrong:
        raise StorageError(f"stored Merkle nodes are not {HASH_SIZE} bytes", nodes=wrong[:8])
    return {node: found[node] for node in ids}


def _assemble(reader: NodeReader, ranges: Sequence[_Range]) -> list[bytes]:
    """Return the MTH of each leaf range, reading all perfect nodes in one batch."""
    groups = [_range_ids(start, end) for start, end in ranges]
    found = _read(reader, [node for group in groups for node in group])
    return [_fold([found[node] for node in group]) for group in groups]


def inclusion_proof(reader: NodeReader, index: int, size: int) -> list[bytes]:
    """Return the audit path PATH(index, D[size]) of RFC 9162 §2.1.3.1.

    Calls ``reader.get_nodes`` at most once (never with an empty list), for at
    most about ``2 * log2(size)`` perfect nodes.

    Raises:
        ProofError: ``index`` is not in ``[0, size)``.
        StorageError: the reader lacks a node or returns a malformed hash.
    """
    _require_index(index, size)
    return _assemble(reader, _inclusion_ranges(index, size))


def consistency_proof(reader: NodeReader, first: int, second: int) -> list[bytes]:
    """Return PROOF(first, D[second]) of RFC 9162 §2.1.4.1; empty when ``first == second``.

    Calls ``reader.get_nodes`` at most once (never with an empty list).

    Raises:
        ProofError: the sizes do not satisfy ``0 < first <= second``.
        StorageError: the reader lacks a node or returns a malformed hash.
    """
    _require_sizes(first, second)
    return _assemble(reader, _consistency_ranges(first, second))


def root_at(reader: NodeReader, size: int) -> bytes:
    """Return MTH(D[size]) (RFC 9162 §2.1.1) from the frontier nodes of ``size``.

    Raises:
        ProofError: ``size`` is negative.
        StorageError: the reader lacks a node or returns a malformed hash.
    """
    ids = frontier_ids(size)
    if not ids:
        return EMPTY_ROOT
    found = _read(reader, ids)
    return _fold([found[node] for node in ids])


class Frontier:
    """The compact range ``[0, size)``: the perfect subtrees on the tree's right edge.

    Holds O(log n) hashes; :meth:`append` reports every perfect node it
    completes so a store can persist them for later proofs.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self, size: int, hashes: Sequence[bytes]) -> None:
        """Build a frontier; see :meth:`from_nodes`."""
        expected = len(frontier_ids(size))
        if len(hashes) != expected:
            raise ProofError(
                f"a frontier of size {size} has {expected} nodes, got {len(hashes)}",
                size=size,
            )
        for position, digest in enumerate(hashes):
            _require_hash(f"frontier[{position}]", digest)
        self._size = size
        self._hashes = [bytes(digest) for digest in hashes]

    @classmethod
    def empty(cls) -> Frontier:
        """Return the frontier of the empty tree."""
        return cls(0, ())

    @classmethod
    def from_nodes(cls, size: int, hashes: Sequence[bytes]) -> Frontier:
        """Return the frontier whose nodes are ``frontier_ids(size)`` with these hashes.

        Raises:
            ProofError: the number or length of ``hashes`` is wrong.
        """
        return cls(size, hashes)

    @property
    def size(self) -> int:
        """The number of leaves covered."""
        return self._size

    def node_ids(self) -> list[NodeId]:
        """Return ``frontier_ids(self.size)``."""
        return frontier_ids(self._size)

    def hashes(self) -> list[bytes]:
        """Return the frontier hashes, matching :meth:`node_ids`."""
        return list(self._hashes)

    def append(self, leaf_hash: bytes) -> list[tuple[NodeId, bytes]]:
        """Add one leaf hash; return every perfect node this completes, leaf first.

        Raises:
            ProofError: ``leaf_hash`` is not 32 bytes.
        """
        _require_hash("leaf_hash", leaf_hash)
        level, index, digest = 0, self._size, bytes(leaf_hash)
        completed: list[tuple[NodeId, bytes]] = [((level, index), digest)]
        while index & 1:
            digest = node_hash(self._hashes.pop(), digest)
            level, index = level + 1, index >> 1
            completed.append(((level, index), digest))
        self._hashes.append(digest)
        self._size += 1
        return completed

    def root(self) -> bytes:
        """Return MTH(D[size]) (RFC 9162 §2.1.1); :data:`EMPTY_ROOT` when empty."""
        return _fold(self._hashes) if self._hashes else EMPTY_ROOT


def root_from_leaf_hashes(leaf_hashes: Iterable[bytes]) -> bytes:
    """Return the MTH of a stream of leaf hashes in O(log n) memory.

    Raises:
        ProofError: a leaf hash is not 32 bytes.
    """
    frontier = Frontier.empty()
    for digest in leaf_hashes:
        frontier.append(digest)
    return frontier.root()


def _shift_until_odd(fn: int, sn: int) -> tuple[int, int]:
    """Right-shift ``fn`` and ``sn`` until LSB(fn) is set or fn is 0."""
    while fn and not fn & 1:
        fn, sn = fn >> 1, sn >> 1
    return fn, sn


def root_from_inclusion_proof(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]
) -> bytes:
    """Return the root an inclusion proof leads to, per RFC 9162 §2.1.3.2 steps 1-4.

    Raises:
        ProofError: the index, a hash length or the proof length is wrong.
    """
    _require_index(index, size)
    _require_hash("leaf_hash", leaf_hash)
    _require_length("inclusion", proof, len(_inclusion_ranges(index, size)))
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is too long", index=index, size=size)
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            fn, sn = _shift_until_odd(fn, sn)
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("inclusion proof is too short", index=index, size=size)
    return r


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree ``(size, root)`` (RFC 9162 §2.1.3.2).

    Raises:
        ProofError: the proof is malformed or leads to another root; the
            context gives the expected and computed roots.
    """
    _require_hash("root", root)
    computed = root_from_inclusion_proof(leaf_hash, index, size, proof)
    if computed != root:
        raise ProofError(
            "inclusion proof leads to a different root",
            index=index,
            size=size,
            expected=root.hex(),
            computed=computed.hex(),
        )


def _consistency_roots(
    first: int, second: int, proof: Sequence[bytes], first_root: bytes
) -> tuple[bytes, bytes]:
    """Return ``(fr, sr)`` of RFC 9162 §2.1.4.2 steps 1-6 for ``0 < first < second``."""
    if not proof:
        raise ProofError("consistency proof is empty", first=first, second=second)
    path = [first_root, *proof] if first & (first - 1) == 0 else list(proof)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is too long", first=first, second=second)
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            fn, sn = _shift_until_odd(fn, sn)
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("consistency proof is too short", first=first, second=second)
    return fr, sr


def _require_equal(message: str, expected: bytes, computed: bytes, **context: object) -> None:
    if expected != computed:
        raise ProofError(
            message,
            expected=expected.hex(),
            computed=computed.hex(),
            **context,
        )


def verify_consistency(
    first: int, second: int, proof: Sequence[bytes], first_root: bytes, second_root: bytes
) -> None:
    """Check that ``(second, second_root)`` extends ``(first, first_root)`` (RFC 9162 §2.1.4.2).

    Equal sizes need an empty proof and equal roots. ``first == 0`` is
    rejected: RFC 9162 defines no consistency proof from the empty tree.

    Raises:
        ProofError: the sizes, a hash length or the proof length is wrong, or a
            computed root differs; the context gives expected and computed values.
    """
    _require_sizes(first, second)
    _require_hash("first_root", first_root)
    _require_hash("second_root", second_root)
    _require_length("consistency", proof, len(_consistency_ranges(first, second)))
    if first == second:
        _require_equal("equal tree sizes need equal roots", first_root, second_root, size=first)
        return
    fr, sr = _consistency_roots(first, second, proof, first_root)
    context = {"first": first, "second": second}
    _require_equal("consistency proof leads to a different first root", first_root, fr, **context)
    _require_equal("consistency proof leads to a different second root", second_root, sr, **context)
