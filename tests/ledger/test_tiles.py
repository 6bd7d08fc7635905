"""C2SP tlog-tiles (ledger.tiles): paths, tile sets, bundles, proofs from tiles, the audit."""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.checkpoint import Checkpoint
from ledger.errors import ProofError, StorageError, TileError
from ledger.merkle import (
    EMPTY_ROOT,
    Frontier,
    NodeId,
    consistency_proof,
    consistency_proof_ids,
    frontier_ids,
    inclusion_proof,
    inclusion_proof_ids,
    leaf_hash,
    root_at,
)
from ledger.store.migrate import open_store
from ledger.tiles import (
    FULL_TILE_BYTES,
    MAX_ENTRY_BYTES,
    Tile,
    TileNodeReader,
    audit_order,
    audit_tiles,
    checkpoint_of_note,
    consistency_tiles,
    decode_bundle,
    encode_bundle,
    encode_index,
    inclusion_tiles,
    is_required,
    parse_tile_path,
    root_tiles,
    split_hashes,
    tile_counts,
    tiles_for_size,
    tiles_needed,
)
from tests._tiles import append_synthetic, synthetic_leaf, tile_bytes

BIG = 70_000


class Tree:
    """Every perfect node of a ``BIG``-leaf tree, its leaf inputs and a node reader."""

    def __init__(self, size: int) -> None:
        self.leaves = [synthetic_leaf(i) for i in range(size)]
        self.nodes: dict[NodeId, bytes] = {}
        self.roots: list[bytes] = [EMPTY_ROOT]
        frontier = Frontier.empty()
        for leaf in self.leaves:
            self.nodes.update(frontier.append(leaf_hash(leaf)))
            self.roots.append(frontier.root())

    def get_nodes(self, ids: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        return {node: self.nodes[node] for node in ids if node in self.nodes}

    def tile(self, tile: Tile) -> bytes:
        return tile_bytes(tile, self.nodes, self.leaves)

    def reader(self, tiles: Sequence[Tile]) -> TileNodeReader:
        return TileNodeReader({tile: self.tile(tile) for tile in tiles})


@pytest.fixture(scope="module")
def tree() -> Tree:
    return Tree(BIG)


# -- paths -------------------------------------------------------------------------------------


def test_index_groups_as_the_spec_spells_them() -> None:
    assert encode_index(1234067) == "x001/x234/067"
    assert [encode_index(n) for n in (0, 5, 999, 1000, 1001)] == [
        "000", "005", "999", "x001/000", "x001/001"
    ]  # fmt: skip
    assert Tile(0, 1234067).path == "tile/0/x001/x234/067"
    assert Tile(2, 5, 17).path == "tile/2/005.p/17"
    assert Tile(0, 273, 112, entries=True).path == "tile/entries/273.p/112"


tiles = st.builds(
    Tile,
    level=st.integers(0, 63),
    index=st.integers(0, 2**64 - 1) | st.integers(0, 2000),
    width=st.integers(1, 256) | st.just(256),
)
bundles = st.builds(
    Tile, level=st.just(0), index=st.integers(0, 2**56), width=st.integers(1, 256),
    entries=st.just(True),
)  # fmt: skip


@given(tiles | bundles)
def test_every_tile_round_trips_through_its_path(tile: Tile) -> None:
    assert parse_tile_path(tile.path) == tile


NEAR_PATHS = st.from_regex(
    r"\Atile/(entries|[0-9]{1,2}|-1)/(x?[0-9]{3,4}/){0,2}x?[0-9]{3}(\.p/[0-9]{1,3}|\.p)?/?\Z"
)


@settings(max_examples=400)
@given(NEAR_PATHS)
def test_a_path_is_accepted_only_in_its_one_canonical_spelling(path: str) -> None:
    try:
        tile = parse_tile_path(path)
    except TileError:
        return
    assert tile.path == path


@pytest.mark.parametrize(
    "path",
    [
        "tile/00/000", "tile/01/000", "tile/64/000", "tile/-1/000", "tile/+1/000",
        "tile/0/00", "tile/0/0000", "tile/0/x000/001", "tile/0/001/002", "tile/0/x001",
        "tile/0/x1/000", "tile/0/000.p/0", "tile/0/000.p/256", "tile/0/000.p/05",
        "tile/0/000.p", "tile/0/000.p/", "tile/0/000/", "tile/0/000//", "tiles/0/000",
        "tile/0/x001/x002", "tile/entries/x000/000", "tile/entries/000.p/00", "tile/0/٠٠٠",
        "tile/٣/000", "tile/0/000.p/1٣", "tile/0/ 000", "tile/entries", "tile/0",
        "tile/0/x001/x001/x001/x001/x001/x001/x001/000", "tile/0/x018/x446/x744/x073/x709/x551/616",
        "/tile/0/000", "tile/0/000.p/1/2", "tile/0/000.q/1",
    ],
)  # fmt: skip
def test_malformed_paths_are_refused(path: str) -> None:
    with pytest.raises(TileError):
        parse_tile_path(path)


def test_the_largest_index_of_a_64_bit_tree_parses() -> None:
    top = 2**64 - 1
    assert parse_tile_path(Tile(0, top).path).index == top


@pytest.mark.parametrize(
    "fields", [(64, 0, 256), (-1, 0, 256), (0, -1, 256), (0, 0, 0), (0, 0, 257), (0, 2**64, 1)]
)
def test_out_of_range_tiles_are_refused(fields: tuple[int, int, int]) -> None:
    with pytest.raises(TileError):
        Tile(*fields)
    with pytest.raises(TileError):
        Tile(1, 0, entries=True)


# -- which tiles a tree has --------------------------------------------------------------------

SPEC_SIZES = {
    # size: {level: (full tiles, partial width)}
    0: {},
    1: {0: (0, 1)},
    255: {0: (0, 255)},
    256: {0: (1, 0), 1: (0, 1)},  # "a full level 0 tile and a partial level 1 tile of width 1"
    257: {0: (1, 1), 1: (0, 1)},
    65535: {0: (255, 255), 1: (0, 255)},
    65536: {0: (256, 0), 1: (1, 0), 2: (0, 1)},
    # "273 full level 0 tiles, one partial level 0 tile of width 112, one full level 1 tile,
    #  one partial level 1 tile of width 17, and one partial level 2 tile of width 1"
    70000: {0: (273, 112), 1: (1, 17), 2: (0, 1)},
}


@pytest.mark.parametrize("size", sorted(SPEC_SIZES))
def test_a_tree_has_the_tiles_the_spec_lists(size: int) -> None:
    expected = SPEC_SIZES[size]
    found: dict[int, tuple[int, int]] = {}
    for tile in tiles_for_size(size):
        full, partial = found.get(tile.level, (0, 0))
        found[tile.level] = (full + 1, partial) if tile.full else (full, tile.width)
        assert is_required(tile, size)
    assert found == expected
    assert {level: tile_counts(level, size) for level in expected} == expected
    bundles = list(tiles_for_size(size, entries=True))
    assert [Tile(t.level, t.index, 256, t.entries) for t in bundles] == [
        Tile(0, t.index, entries=True) for t in tiles_for_size(size) if t.level == 0
    ]
    assert all(b.entries and b.level == 0 for b in bundles)


@given(st.integers(0, 2**64 - 1), st.integers(0, 7), st.integers(0, 2**56), st.integers(1, 256))
def test_only_the_tiles_a_size_implies_are_required(
    size: int, level: int, index: int, width: int
) -> None:
    tile = Tile(level, index, width)
    full, partial = tile_counts(level, size)
    assert is_required(tile, size) == (
        (width == 256 and index < full) or (width == partial and index == full and width < 256)
    )
    assert not is_required(Tile(level, full), size)  # the next full tile does not exist yet


def test_since_skips_exactly_the_full_tiles_below_it() -> None:
    size = 70000
    for since in (0, 1, 255, 256, 257, 65535, 65536, 65537, 69999, 70000, 10**6):
        kept = list(tiles_for_size(size, since=since)) + list(
            tiles_for_size(size, since=since, entries=True)
        )
        every = list(tiles_for_size(size)) + list(tiles_for_size(size, entries=True))
        assert kept == [t for t in every if not t.full or t.end > since], since


# -- bundles and tile bytes --------------------------------------------------------------------


@given(st.lists(st.binary(max_size=300), max_size=40))
def test_bundles_round_trip(entries: list[bytes]) -> None:
    data = encode_bundle(entries)
    assert decode_bundle(data) == entries
    assert decode_bundle(data, len(entries)) == entries
    if data:
        with pytest.raises(TileError):
            decode_bundle(data[:-1] if entries[-1] else data + b"\x00")


def test_a_bundle_entry_is_at_most_65535_bytes_never_truncated() -> None:
    longest = b"a" * MAX_ENTRY_BYTES
    assert decode_bundle(encode_bundle([longest])) == [longest]
    with pytest.raises(TileError) as caught:
        encode_bundle([b"ok", b"a" * (MAX_ENTRY_BYTES + 1)])
    assert caught.value.context == {"position": 1, "length": MAX_ENTRY_BYTES + 1}


def test_a_bundle_with_another_count_is_refused() -> None:
    with pytest.raises(TileError):
        decode_bundle(encode_bundle([b"a", b"b"]), 3)


def test_tile_lengths_are_exact() -> None:
    assert len(split_hashes(Tile(0, 0), bytes(FULL_TILE_BYTES))) == 256
    for wrong in (FULL_TILE_BYTES - 1, FULL_TILE_BYTES + 32, 0):
        with pytest.raises(TileError):
            split_hashes(Tile(0, 0), bytes(wrong))
    with pytest.raises(TileError):
        split_hashes(Tile(0, 0, 3), bytes(64))


def test_a_partial_tile_that_disagrees_with_its_full_tile_is_a_fork(tree: Tree) -> None:
    full, partial = Tile(0, 0), Tile(0, 0, 5)
    TileNodeReader({full: tree.tile(full), partial: tree.tile(full)[: 5 * 32]})
    with pytest.raises(TileError):
        TileNodeReader({full: tree.tile(full), partial: tree.tile(Tile(0, 1))[: 5 * 32]})


def test_checkpoint_of_note_reads_the_body_only() -> None:
    cp = Checkpoint("example.org/log", 70000, bytes(range(32)))
    note = cp.to_text() + "\n\u2014 example.org/log AAAA\n\u2014 witness BBBB\n"
    assert checkpoint_of_note(note) == cp


# -- proofs from tiles -------------------------------------------------------------------------

BOUNDARIES = [1, 2, 3, 255, 256, 257, 511, 512, 513, 65535, 65536, 65537, 69999, BIG]


def _sizes_and_indices(rng: random.Random, count: int) -> list[tuple[int, int]]:
    pairs = [(size, index) for size in BOUNDARIES for index in {0, size // 2, size - 1}]
    for _ in range(count):
        size = rng.randint(1, BIG)
        pairs.append((size, rng.randrange(size)))
    return pairs


def test_inclusion_proofs_from_tiles_equal_the_stores(tree: Tree) -> None:
    rng = random.Random(6962)
    for size, index in _sizes_and_indices(rng, 400):
        for tiles_size in {size, BIG}:  # the tiles of the tree itself, or of a later one
            needed = inclusion_tiles(index, size, tiles_size)
            proof = inclusion_proof(tree.reader(needed), index, size)
            assert proof == inclusion_proof(tree, index, size), (size, index, tiles_size)


def test_consistency_proofs_from_tiles_equal_the_stores(tree: Tree) -> None:
    rng = random.Random(9162)
    pairs = [(first, second) for second in BOUNDARIES for first in {1, second // 3 or 1, second}]
    pairs += [(rng.randint(1, second), second) for second in rng.sample(range(1, BIG + 1), 300)]
    for first, second in pairs:
        needed = consistency_tiles(first, second, BIG)
        proof = consistency_proof(tree.reader(needed), first, second)
        assert proof == consistency_proof(tree, first, second), (first, second)


def test_roots_from_tiles_equal_the_trees(tree: Tree) -> None:
    for size in [*range(1, 600), *BOUNDARIES, *random.Random(1).sample(range(1, BIG), 200)]:
        assert root_at(tree.reader(root_tiles(size)), size) == tree.roots[size], size


def test_the_tiles_needed_are_exactly_enough(tree: Tree) -> None:
    """Every named tile is read: dropping any one of them loses a node."""
    rng = random.Random(3)
    for size, index in _sizes_and_indices(rng, 40):
        ids = inclusion_proof_ids(index, size)
        needed = tiles_needed(ids, size)
        assert all(is_required(tile, size) for tile in needed)
        for dropped in needed:
            reader = tree.reader([tile for tile in needed if tile != dropped])
            with pytest.raises(StorageError):
                inclusion_proof(reader, index, size)


def test_a_node_outside_the_tree_needs_no_tile() -> None:
    with pytest.raises(ProofError):
        tiles_needed([(0, 600)], 600)
    with pytest.raises(ProofError):
        tiles_needed([(9, 1)], 1000)  # leaves 512..1023 are not all in a 1,000-leaf tree


@pytest.mark.parametrize("size", [2**40 + 12345, 2**63 + 5, 2**64 - 1])
def test_proofs_of_huge_trees_read_few_tiles(size: int) -> None:
    """Without building such a tree: a proof reads at most two tiles per level."""
    rng = random.Random(size)
    levels = (size.bit_length() + 7) // 8
    for _ in range(50):
        index = rng.randrange(size)
        needed = inclusion_tiles(index, size)
        assert len(needed) <= 2 * levels
        assert all(is_required(tile, size) for tile in needed)
        first = rng.randrange(1, size)
        assert len(tiles_needed(consistency_proof_ids(first, size), size)) <= 3 * levels
    assert len(root_tiles(size)) <= levels
    assert all(is_required(tile, size) for tile in tiles_needed(frontier_ids(size), size))


def test_proofs_from_tiles_of_a_real_store_equal_its_own(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/tiles.db", origin="chemtrace.test/log")
    size = append_synthetic(store, 600)

    def fetched(tile: Tile) -> bytes:
        hashes = store.tile_hashes(tile.node_level, tile.first_node, tile.width)
        assert len(hashes) == tile.width
        return b"".join(hashes)

    assert store.tile_hashes(0, 590, 256) == [
        store.get_nodes([(0, i)])[(0, i)] for i in range(590, 600)
    ]
    for index in range(size):
        reader = TileNodeReader({tile: fetched(tile) for tile in inclusion_tiles(index, size)})
        assert inclusion_proof(reader, index, size) == store.inclusion_proof(index, size)
    for first in range(1, size + 1, 7):
        reader = TileNodeReader({t: fetched(t) for t in consistency_tiles(first, size)})
        assert consistency_proof(reader, first, size) == store.consistency_proof(first, size)
    store.engine.dispose()


# -- auditing a whole tiled log ----------------------------------------------------------------


def _checkpoint(tree: Tree, size: int) -> Checkpoint:
    return Checkpoint("chemtrace.test/log", size, tree.roots[size])


@pytest.mark.parametrize("size", [0, 1, 255, 256, 257, 511, 65535, 65536, BIG])
def test_audit_order_fetches_every_tile_once(size: int) -> None:
    order = list(audit_order(size))
    assert len(order) == len(set(order))
    assert set(order) == set(tiles_for_size(size)) | set(tiles_for_size(size, entries=True))


@pytest.mark.parametrize("size", [0, 1, 256, 257, 65536, BIG])
def test_an_intact_tiled_log_audits_clean(tree: Tree, size: int) -> None:
    fetched: list[Tile] = []

    def fetch(tile: Tile) -> bytes:
        fetched.append(tile)
        return tree.tile(tile)

    trusted = _checkpoint(tree, size // 3)
    audit = audit_tiles(_checkpoint(tree, size), fetch, trusted)
    assert audit.intact, audit.faults
    assert (audit.root, audit.entries) == (tree.roots[size], size)
    assert fetched == list(audit_order(size))


def _tampered(tree: Tree, target: Tile, at: int) -> dict[Tile, bytes]:
    data = bytearray(tree.tile(target))
    data[at] ^= 1
    return {target: bytes(data)}


def _audit(
    tree: Tree, size: int, changed: Mapping[Tile, bytes | None]
) -> list[tuple[str, str | None, int | None]]:
    def fetch(tile: Tile) -> bytes | None:
        return changed[tile] if tile in changed else tree.tile(tile)

    audit = audit_tiles(_checkpoint(tree, size), fetch)
    return [(f.code, f.tile, f.index) for f in audit.faults]


def test_a_changed_entry_is_named(tree: Tree) -> None:
    bundle = Tile(0, 3, entries=True)
    entry = 7  # the 8th entry of the bundle: skip 7 entries and their 2-byte prefixes
    offset = sum(2 + len(tree.leaves[3 * 256 + i]) for i in range(entry)) + 2 + 10
    faults = _audit(tree, BIG, _tampered(tree, bundle, offset))
    assert faults == [("entry_mismatch", "tile/0/003", 3 * 256 + entry)]


def test_a_changed_level0_hash_is_named_twice(tree: Tree) -> None:
    faults = _audit(tree, BIG, _tampered(tree, Tile(0, 273, 112), 32 * 5))
    # a partial tile has no parent tile, but its hashes fold into the root
    assert faults == [
        ("entry_mismatch", "tile/0/273.p/112", 273 * 256 + 5),
        ("root_mismatch", None, None),
    ]
    faults = _audit(tree, BIG, _tampered(tree, Tile(0, 2), 32 * 9 + 4))
    assert faults == [
        ("entry_mismatch", "tile/0/002", 2 * 256 + 9),
        ("tile_mismatch", "tile/1/000", 2),
    ]


def test_a_changed_upper_tile_is_named_and_breaks_the_root(tree: Tree) -> None:
    faults = _audit(tree, BIG, _tampered(tree, Tile(1, 1, 17), 32 * 16))
    assert faults == [("tile_mismatch", "tile/1/001.p/17", 256 + 16), ("root_mismatch", None, None)]
    faults = _audit(tree, BIG, _tampered(tree, Tile(2, 0, 1), 0))
    assert faults == [("tile_mismatch", "tile/2/000.p/1", 0), ("root_mismatch", None, None)]


def test_missing_and_malformed_tiles_are_named(tree: Tree) -> None:
    faults = _audit(tree, 600, {Tile(0, 1, entries=True): None})
    assert faults == [("tile_missing", "tile/entries/001", None)]
    faults = _audit(tree, 600, {Tile(0, 2, 88): tree.tile(Tile(0, 2, 88))[:-1]})
    assert faults[0] == ("tile_malformed", "tile/0/002.p/88", None)
    faults = _audit(tree, 600, {Tile(0, 0, entries=True): encode_bundle(tree.leaves[:255])})
    assert faults == [("tile_malformed", "tile/entries/000", None)]
    faults = _audit(tree, 600, {Tile(1, 0, 2): None})
    assert [code for code, _, _ in faults] == ["tile_missing", "root_unavailable"]


def test_a_checkpoint_with_another_root_is_caught(tree: Tree) -> None:
    audit = audit_tiles(Checkpoint("o", 600, tree.roots[599]), tree.tile)
    assert [f.code for f in audit.faults] == ["root_mismatch"]


def test_the_trusted_checkpoint_must_be_extended(tree: Tree) -> None:
    latest = _checkpoint(tree, 600)
    forked = Checkpoint("chemtrace.test/log", 300, bytes(32))
    audit = audit_tiles(latest, tree.tile, forked)
    assert [f.code for f in audit.faults] == ["checkpoint_inconsistent"]
    audit = audit_tiles(latest, tree.tile, _checkpoint(tree, 601))
    assert [f.code for f in audit.faults] == ["checkpoint_rollback"]
    assert audit_tiles(latest, tree.tile, _checkpoint(tree, 600)).intact
    assert re.search("size 300", audit_tiles(latest, tree.tile, forked).faults[0].message)
