"""Properties of the RFC 9162 Merkle tree, the frontier and proofs from stored nodes."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import ProofError, StorageError
from ledger.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    Frontier,
    NodeId,
    consistency_proof,
    consistency_proof_ids,
    frontier_ids,
    inclusion_proof,
    inclusion_proof_ids,
    leaf_hash,
    root_at,
    root_from_inclusion_proof,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

MAX_LEAVES = 300
PROPERTY = settings(max_examples=150, deadline=None)

# --- a naive reference written from RFC 9162 §2.1 -------------------------------------


def _k(n: int) -> int:
    k = 1
    while 2 * k < n:
        k *= 2
    return k


def reference_mth(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of RFC 9162 §2.1.1, recursively over leaf inputs."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = _k(len(leaves))
    return hashlib.sha256(b"\x01" + reference_mth(leaves[:k]) + reference_mth(leaves[k:])).digest()


def reference_path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 §2.1.3.1."""
    if len(leaves) == 1:
        return []
    k = _k(len(leaves))
    if m < k:
        return [*reference_path(m, leaves[:k]), reference_mth(leaves[k:])]
    return [*reference_path(m - k, leaves[k:]), reference_mth(leaves[:k])]


def reference_subproof(m: int, leaves: Sequence[bytes], whole: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) of RFC 9162 §2.1.4.1."""
    if m == len(leaves):
        return [] if whole else [reference_mth(leaves)]
    k = _k(len(leaves))
    if m <= k:
        return [*reference_subproof(m, leaves[:k], whole), reference_mth(leaves[k:])]
    return [*reference_subproof(m - k, leaves[k:], False), reference_mth(leaves[:k])]


# --- a stored tree and a recording reader ---------------------------------------------


@functools.cache
def _tree() -> tuple[tuple[bytes, ...], Mapping[NodeId, bytes], tuple[bytes, ...]]:
    """Leaf inputs, every node Frontier.append reported, and the root at each size."""
    inputs = tuple(index.to_bytes(4, "big") for index in range(MAX_LEAVES))
    frontier = Frontier.empty()
    nodes: dict[NodeId, bytes] = {}
    roots = [frontier.root()]
    for data in inputs:
        nodes.update(frontier.append(leaf_hash(data)))
        roots.append(frontier.root())
    return inputs, nodes, tuple(roots)


class RecordingReader:
    """A dict-backed NodeReader that records calls and only serves nodes inside ``size``."""

    def __init__(self, nodes: Mapping[NodeId, bytes], size: int) -> None:
        self.nodes = nodes
        self.size = size
        self.calls: list[list[NodeId]] = []

    def get_nodes(self, ids: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        self.calls.append(list(ids))
        for level, index in ids:
            assert (index + 1) << level <= self.size, f"node {(level, index)} is outside the tree"
        return {node: self.nodes[node] for node in ids if node in self.nodes}


def _id_bound(size: int) -> int:
    return 2 * (size.bit_length() - 1) + 2


def _check_one_call(
    reader: RecordingReader, proof: Sequence[bytes], size: int, planned: list[NodeId]
) -> None:
    """One batched read of exactly the planned ids; none when the proof is empty."""
    assert reader.calls == ([planned] if proof else [])
    assert len(planned) <= _id_bound(size)
    assert len(set(planned)) == len(planned)


sizes = st.integers(min_value=1, max_value=MAX_LEAVES)


@st.composite
def index_and_size(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(sizes)
    return draw(st.integers(min_value=0, max_value=size - 1)), size


@st.composite
def first_and_second(draw: st.DrawFn) -> tuple[int, int]:
    second = draw(sizes)
    return draw(st.integers(min_value=1, max_value=second)), second


def _inclusion_case(index: int, size: int) -> tuple[bytes, list[bytes], bytes]:
    inputs, nodes, roots = _tree()
    reader = RecordingReader(nodes, size)
    proof = inclusion_proof(reader, index, size)
    _check_one_call(reader, proof, size, inclusion_proof_ids(index, size))
    return leaf_hash(inputs[index]), proof, roots[size]


def _consistency_case(first: int, second: int) -> tuple[list[bytes], bytes, bytes]:
    _, nodes, roots = _tree()
    reader = RecordingReader(nodes, second)
    proof = consistency_proof(reader, first, second)
    _check_one_call(reader, proof, second, consistency_proof_ids(first, second))
    return proof, roots[first], roots[second]


# --- hashing and the frontier ---------------------------------------------------------


@PROPERTY
@given(st.lists(st.binary(max_size=8), max_size=70))
def test_frontier_matches_reference(leaves: list[bytes]) -> None:
    frontier = Frontier.empty()
    for size, data in enumerate(leaves):
        assert frontier.size == size
        assert frontier.root() == reference_mth(leaves[:size])
        completed = frontier.append(leaf_hash(data))
        trailing_ones = (size ^ (size + 1)).bit_length() - 1
        assert len(completed) == 1 + trailing_ones
        assert completed[0] == ((0, size), leaf_hash(data))
        for (level, index), digest in completed:
            assert digest == reference_mth(leaves[index << level : (index + 1) << level])
        assert frontier.node_ids() == frontier_ids(size + 1)
    expected = reference_mth(leaves)
    assert frontier.root() == expected
    assert root_from_leaf_hashes(leaf_hash(data) for data in leaves) == expected


@PROPERTY
@given(st.integers(min_value=0, max_value=MAX_LEAVES), st.integers(min_value=0, max_value=20))
def test_frontier_from_nodes_continues(size: int, more: int) -> None:
    inputs, _, roots = _tree()
    frontier = Frontier.empty()
    for data in inputs[:size]:
        frontier.append(leaf_hash(data))
    restored = Frontier.from_nodes(frontier.size, frontier.hashes())
    assert restored.root() == roots[size]
    for data in inputs[size : size + more]:
        assert restored.append(leaf_hash(data)) == frontier.append(leaf_hash(data))
    assert restored.root() == frontier.root()


def test_frontier_ids_shape() -> None:
    assert frontier_ids(0) == []
    assert frontier_ids(1) == [(0, 0)]
    assert frontier_ids(6) == [(2, 0), (1, 2)]
    assert frontier_ids(13) == [(3, 0), (2, 2), (0, 12)]
    assert Frontier.empty().root() == EMPTY_ROOT == reference_mth([])


@pytest.mark.parametrize(
    ("size", "hashes"),
    [(-1, []), (1, []), (2, [b"\x00" * HASH_SIZE] * 2), (1, [b"\x00" * 31])],
)
def test_frontier_from_nodes_rejects_bad_shapes(size: int, hashes: list[bytes]) -> None:
    with pytest.raises(ProofError):
        Frontier.from_nodes(size, hashes)


def test_frontier_rejects_short_leaf_hash() -> None:
    with pytest.raises(ProofError, match="32 bytes"):
        Frontier.empty().append(b"\x00" * 31)


def test_root_at_every_size() -> None:
    _, nodes, roots = _tree()
    for size, expected in enumerate(roots):
        reader = RecordingReader(nodes, size)
        assert root_at(reader, size) == expected
        assert len(reader.calls) == (1 if size else 0)


# --- proofs ---------------------------------------------------------------------------


@PROPERTY
@given(index_and_size())
def test_inclusion_proofs_verify(case: tuple[int, int]) -> None:
    index, size = case
    leaf, proof, root = _inclusion_case(index, size)
    assert proof == reference_path(index, _tree()[0][:size])
    verify_inclusion(leaf, index, size, proof, root)
    assert root_from_inclusion_proof(leaf, index, size, proof) == root


@PROPERTY
@given(first_and_second())
def test_consistency_proofs_verify(case: tuple[int, int]) -> None:
    first, second = case
    proof, first_root, second_root = _consistency_case(first, second)
    assert proof == reference_subproof(first, _tree()[0][:second], True)
    verify_consistency(first, second, proof, first_root, second_root)


def _tampered(proof: list[bytes], data: st.DataObject) -> list[list[bytes]]:
    """A single bit flip, a dropped, an appended and a prepended element."""
    extra = data.draw(st.binary(min_size=HASH_SIZE, max_size=HASH_SIZE))
    variants = [[*proof, extra], [extra, *proof]]
    if proof:
        position = data.draw(st.integers(min_value=0, max_value=len(proof) - 1))
        bit = data.draw(st.integers(min_value=0, max_value=8 * HASH_SIZE - 1))
        flipped = bytearray(proof[position])
        flipped[bit // 8] ^= 1 << (bit % 8)
        variants.append([*proof[:position], bytes(flipped), *proof[position + 1 :]])
        variants.append(proof[:position] + proof[position + 1 :])
    return variants


@PROPERTY
@given(index_and_size(), st.data())
def test_tampered_inclusion_proofs_fail(case: tuple[int, int], data: st.DataObject) -> None:
    index, size = case
    leaf, proof, root = _inclusion_case(index, size)
    for variant in _tampered(proof, data):
        with pytest.raises(ProofError):
            verify_inclusion(leaf, index, size, variant, root)
    if index + 1 < size:
        with pytest.raises(ProofError):
            verify_inclusion(leaf, index + 1, size, proof, root)
    if size < MAX_LEAVES:  # (size, root) is bound by a signed checkpoint, so use the true root
        with pytest.raises(ProofError):
            verify_inclusion(leaf, index, size + 1, proof, _tree()[2][size + 1])
    with pytest.raises(ProofError, match="different root"):
        verify_inclusion(leaf_hash(b"other"), index, size, proof, root)


@PROPERTY
@given(first_and_second(), st.data())
def test_tampered_consistency_proofs_fail(case: tuple[int, int], data: st.DataObject) -> None:
    first, second = case
    proof, first_root, second_root = _consistency_case(first, second)
    for variant in _tampered(proof, data):
        with pytest.raises(ProofError):
            verify_consistency(first, second, variant, first_root, second_root)
    wrong = leaf_hash(b"other")
    with pytest.raises(ProofError, match=r"different (first|second) root|equal roots"):
        verify_consistency(first, second, proof, wrong, second_root)
    with pytest.raises(ProofError, match=r"different second root|equal roots"):
        verify_consistency(first, second, proof, first_root, wrong)
    if first < second < MAX_LEAVES:
        with pytest.raises(ProofError):
            verify_consistency(first, second + 1, proof, first_root, _tree()[2][second + 1])


def test_proof_id_counts_are_logarithmic() -> None:
    for size in range(1, 130):
        for index in range(size):
            assert len(inclusion_proof_ids(index, size)) <= _id_bound(size)
        for first in range(1, size + 1):
            assert len(consistency_proof_ids(first, size)) <= _id_bound(size)


def test_failure_message_names_expected_and_computed() -> None:
    leaf, proof, _ = _inclusion_case(3, 10)
    with pytest.raises(ProofError) as caught:
        verify_inclusion(leaf, 3, 10, proof, b"\x11" * HASH_SIZE)
    assert caught.value.context["expected"] == ("11" * HASH_SIZE)
    assert caught.value.context["computed"] == _tree()[2][10].hex()
    with pytest.raises(ProofError, match="has 2 hashes, expected 4"):
        verify_inclusion(leaf, 3, 10, proof[:2], _tree()[2][10])


@pytest.mark.parametrize(("index", "size"), [(0, 0), (1, 1), (-1, 5), (5, 5)])
def test_inclusion_rejects_bad_arguments(index: int, size: int) -> None:
    reader = RecordingReader(_tree()[1], max(size, 0))
    with pytest.raises(ProofError, match="index"):
        inclusion_proof(reader, index, size)
    with pytest.raises(ProofError, match="index"):
        verify_inclusion(EMPTY_ROOT, index, size, [], EMPTY_ROOT)
    assert reader.calls == []


@pytest.mark.parametrize(("first", "second"), [(0, 0), (0, 5), (6, 5), (-1, 3)])
def test_consistency_rejects_bad_arguments(first: int, second: int) -> None:
    reader = RecordingReader(_tree()[1], max(second, 0))
    with pytest.raises(ProofError, match="first"):
        consistency_proof(reader, first, second)
    with pytest.raises(ProofError, match="first"):
        verify_consistency(first, second, [], EMPTY_ROOT, EMPTY_ROOT)
    assert reader.calls == []


def test_equal_sizes_need_empty_proof_and_equal_roots() -> None:
    root = _tree()[2][7]
    assert consistency_proof(RecordingReader(_tree()[1], 7), 7, 7) == []
    verify_consistency(7, 7, [], root, root)
    with pytest.raises(ProofError):
        verify_consistency(7, 7, [root], root, root)
    with pytest.raises(ProofError, match="equal roots"):
        verify_consistency(7, 7, [], root, EMPTY_ROOT)


def test_missing_or_malformed_stored_nodes_are_storage_errors() -> None:
    _, nodes, _ = _tree()
    with pytest.raises(StorageError, match="lacks"):
        inclusion_proof(RecordingReader({}, 8), 3, 8)
    broken = {**nodes, (1, 0): b"short"}
    with pytest.raises(StorageError, match="32 bytes"):
        inclusion_proof(RecordingReader(broken, 8), 3, 8)


def test_sizes_are_bound_only_through_the_root() -> None:
    """RFC 9162 verification trusts (size, root) as a pair, as a signed checkpoint gives it.

    The proof of 1 -> 3 also "verifies" 1 -> 4 against the size-3 root, because
    the verifier then reads leaf 2's hash as the hash of leaves [2, 4). Callers
    must take size and root from the same signed checkpoint.
    """
    _, nodes, roots = _tree()
    proof = consistency_proof(RecordingReader(nodes, 3), 1, 3)
    verify_consistency(1, 4, proof, roots[1], roots[3])
    with pytest.raises(ProofError, match="different second root"):
        verify_consistency(1, 4, proof, roots[1], roots[4])
