"""C2SP tiled transparency logs (https://c2sp.org/tlog-tiles): the log as static files.

Instead of answering proof queries, a tiled log publishes its Merkle tree as *tiles*: a
tile at level ``L``, index ``N`` holds the hashes of the perfect subtrees
``(8 * L, N * 256 + i)`` for ``i < 256``, each the MTH of ``256**L`` leaves. Full tiles
(256 hashes, 8,192 bytes) never change, so any static server or CDN can cache them
forever; the right edge of the tree is a *partial* tile per level, of width
``floor(s / 256**L) mod 256`` for a tree of size ``s``. *Entry bundles* carry the leaf
inputs of the level-0 tiles, each prefixed with its big-endian ``uint16`` length.

Paths are ``tile/<L>/<N>[.p/<W>]`` and ``tile/entries/<N>[.p/<W>]``, with ``N`` in
zero-padded 3-digit groups, all but the last prefixed with ``x`` (``x001/x234/067``) so a
folder never holds both a file and a directory of one name. Parsing accepts only the one
canonical spelling of each tile, so a path names exactly one resource.

A client rebuilds any perfect node from fetched tiles: node ``(h, i)`` with
``h = 8 * L + r`` is the MTH of the ``2**r`` level-``L`` hashes ``i * 2**r ..``; that is
:class:`TileNodeReader`, a :class:`ledger.merkle.NodeReader`, so the proofs of
:mod:`ledger.merkle` work unchanged on tiles. :func:`tiles_needed` names exactly the tiles
a proof reads. :func:`audit_tiles` checks a whole tiled log against its checkpoint.

This module performs no I/O: fetching is the caller's (a callable it is given).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from ledger.checkpoint import MAX_TREE_SIZE, Checkpoint
from ledger.errors import LedgerError, ProofError, TileError
from ledger.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    NodeId,
    consistency_proof,
    consistency_proof_ids,
    frontier_ids,
    inclusion_proof_ids,
    leaf_hash,
    node_hash,
    root_at,
    verify_consistency,
)

TILE_HEIGHT: Final = 8
TILE_WIDTH: Final = 1 << TILE_HEIGHT
FULL_TILE_BYTES: Final = TILE_WIDTH * HASH_SIZE
MAX_LEVEL: Final = 63
MAX_ENTRY_BYTES: Final = 0xFFFF
"""An entry bundle's length prefix is a ``uint16``: a longer entry cannot be served."""
_MAX_GROUPS: Final = 7
"""3-digit groups enough for any tile index of a tree below ``2**64`` leaves."""
_LEVEL: Final = re.compile(r"0|[1-9][0-9]?", re.ASCII)
_WIDTH: Final = re.compile(r"[1-9][0-9]{0,2}", re.ASCII)
_GROUP: Final = re.compile(r"[0-9]{3}", re.ASCII)


# -- tiles and their paths ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True, order=True)
class Tile:
    """One hash tile, or (``entries``) the entry bundle of a level-0 tile.

    ``width`` is the number of hashes (or entries): :data:`TILE_WIDTH` for a full tile,
    1 to 255 for a partial one.

    Raises:
        TileError: on construction, when a field is out of range.
    """

    level: int
    index: int
    width: int = TILE_WIDTH
    entries: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.level <= MAX_LEVEL:
            raise TileError("tile level must be in [0, 63]", level=self.level)
        _require_index_range(self.index)
        if not 1 <= self.width <= TILE_WIDTH:
            raise TileError("tile width must be in [1, 256]", width=self.width)
        if self.entries and self.level != 0:
            raise TileError("entry bundles belong to level 0", level=self.level)

    @property
    def full(self) -> bool:
        """Whether this is a full (immutable) tile of 256 hashes or entries."""
        return self.width == TILE_WIDTH

    @property
    def start(self) -> int:
        """The first leaf the tile spans (the spec's *start index*)."""
        return self.index << (TILE_HEIGHT * (self.level + 1))

    @property
    def end(self) -> int:
        """One past the last leaf its hashes (or entries) cover."""
        return self.start + (self.width << (TILE_HEIGHT * self.level))

    @property
    def node_level(self) -> int:
        """The :data:`ledger.merkle.NodeId` level of the tile's hashes: ``8 * level``."""
        return TILE_HEIGHT * self.level

    @property
    def first_node(self) -> int:
        """The node index of the tile's first hash, at :attr:`node_level`."""
        return self.index * TILE_WIDTH

    @property
    def path(self) -> str:
        """``tile/<L>/<N>[.p/<W>]`` or ``tile/entries/<N>[.p/<W>]`` (no prefix, no slash)."""
        kind = "entries" if self.entries else str(self.level)
        partial = "" if self.full else f".p/{self.width}"
        return f"tile/{kind}/{encode_index(self.index)}{partial}"


def _require_index_range(index: int) -> None:
    if not 0 <= index <= MAX_TREE_SIZE:
        raise TileError("tile index must be in [0, 2**64)", index=index)


def encode_index(index: int) -> str:
    """``N`` as zero-padded 3-digit path groups, all but the last prefixed ``x``.

    ``1234067`` is ``x001/x234/067``; ``5`` is ``005``.

    Raises:
        TileError: ``index`` is negative.
    """
    if index < 0:
        raise TileError("tile index must not be negative", index=index)
    groups = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        groups.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(groups))


def _parse_index(parts: Sequence[str], where: str) -> int:
    if not 1 <= len(parts) <= _MAX_GROUPS:
        raise TileError("tile index must have 1 to 7 path groups", path=where)
    value = 0
    for position, part in enumerate(parts):
        last = position == len(parts) - 1
        digits = part if last else part.removeprefix("x")
        if (not last and not part.startswith("x")) or not _GROUP.fullmatch(digits):
            raise TileError("tile index groups are xNNN/…/NNN", path=where)
        value = value * 1000 + int(digits)
    if len(parts) > 1 and parts[0] == "x000":
        raise TileError("tile index has a leading zero group", path=where)
    _require_index_range(value)
    return value


def parse_tile_path(path: str) -> Tile:
    """Parse ``tile/<L>/<N>[.p/<W>]`` or ``tile/entries/<N>[.p/<W>]`` strictly.

    Only the canonical spelling is accepted: no leading zeros in ``L`` or ``W``, ``W`` in
    ``[1, 255]``, ``L`` in ``[0, 63]``, 3-digit groups with ``x`` on all but the last and
    no leading ``x000`` group, so ``parse_tile_path(t.path) == t`` and
    ``parse_tile_path(p).path == p``.

    Raises:
        TileError: the path is not a tile path.
    """
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != "tile":
        raise TileError("a tile path starts tile/<L>/ or tile/entries/", path=path)
    kind, rest = parts[1], parts[2:]
    width = TILE_WIDTH
    if len(rest) >= 2 and rest[-2].endswith(".p"):
        if not _WIDTH.fullmatch(rest[-1]) or not 1 <= int(rest[-1]) < TILE_WIDTH:
            raise TileError("partial tile width must be 1 to 255, no leading zeros", path=path)
        width = int(rest[-1])
        rest = [*rest[:-2], rest[-2][:-2]]
    index = _parse_index(rest, path)
    if kind == "entries":
        return Tile(0, index, width, entries=True)
    if not _LEVEL.fullmatch(kind) or int(kind) > MAX_LEVEL:
        raise TileError("tile level must be 0 to 63, no leading zeros", path=path)
    return Tile(int(kind), index, width)


# -- which tiles a tree has --------------------------------------------------------------------


def tile_counts(level: int, size: int) -> tuple[int, int]:
    """``(full tiles, partial width)`` at ``level`` for a tree of ``size`` leaves."""
    if size < 0:
        raise TileError("tree size must not be negative", size=size)
    return size >> (TILE_HEIGHT * (level + 1)), (size >> (TILE_HEIGHT * level)) % TILE_WIDTH


def tile_levels(size: int) -> int:
    """How many levels hold tiles (full or partial) for a tree of ``size`` leaves."""
    levels = 0
    while size >> (TILE_HEIGHT * levels):
        levels += 1
    return levels


def tiles_for_size(size: int, *, since: int = 0, entries: bool = False) -> Iterator[Tile]:
    """Every hash tile (``entries``: every entry bundle) a tree of ``size`` leaves has.

    Level by level, full tiles first, then the level's partial tile if its width is not
    zero (empty tiles do not exist). ``since`` skips full tiles entirely below that leaf,
    for an incremental export; partial tiles are always yielded.
    """
    for level in range(1 if entries else tile_levels(size)):
        full, partial = tile_counts(level, size)
        first = since >> (TILE_HEIGHT * (level + 1))  # the first full tile not below ``since``
        for index in range(min(first, full), full):
            yield Tile(level, index, entries=entries)
        if partial:
            yield Tile(level, full, partial, entries=entries)


def is_required(tile: Tile, size: int) -> bool:
    """Whether a checkpoint of ``size`` needs this tile: a full tile inside the tree, or
    exactly the partial width the size implies ("clients MUST NOT fetch arbitrary partial
    tiles", so a log serves no other)."""
    full, partial = tile_counts(tile.level, size)
    if tile.full:
        return tile.index < full
    return tile.index == full and tile.width == partial


def is_servable(tile: Tile, size: int) -> bool:
    """Whether a log whose latest checkpoint has ``size`` leaves serves this tile.

    Every tile :func:`is_required` by ``size``, and the narrower partial tiles of the same
    index: "logs MUST serve partial tiles corresponding to tree sizes for which a checkpoint
    was produced" until the full tile exists, so a client holding an older checkpoint is
    not left with a 404 because the log moved on. Once a tile is full its partial tiles
    are gone (the spec allows it; a client falls back to the full tile), and a partial
    tile wider than ``size`` implies never exists.
    """
    full, partial = tile_counts(tile.level, size)
    if tile.full:
        return tile.index < full
    return tile.index == full and tile.width <= partial


def tiles_needed(ids: Iterable[NodeId], size: int) -> list[Tile]:
    """The hash tiles of a ``size``-leaf tree that hold ``ids``, sorted, each once.

    Node ``(8 * L + r, i)`` is folded from level-``L`` hashes ``i * 2**r`` to
    ``(i + 1) * 2**r - 1``, all in one tile (``2**r`` divides 256).

    Raises:
        ProofError: a node is not a perfect subtree of the ``size``-leaf tree.
    """
    needed: set[Tile] = set()
    for level, index in ids:
        tile_level, rest = divmod(level, TILE_HEIGHT)
        if level < 0 or index < 0 or tile_level > MAX_LEVEL:
            raise ProofError("not a Merkle node", level=level, index=index)
        first = index << rest
        number, offset = divmod(first, TILE_WIDTH)
        full, partial = tile_counts(tile_level, size)
        if number < full:
            needed.add(Tile(tile_level, number))
        elif number == full and offset + (1 << rest) <= partial:
            needed.add(Tile(tile_level, number, partial))
        else:
            raise ProofError("node is not in the tree", level=level, index=index, size=size)
    return sorted(needed)


def inclusion_tiles(index: int, size: int, tree_size: int | None = None) -> list[Tile]:
    """The tiles of a ``tree_size`` tree (default ``size``) that PATH(index, D[size]) reads."""
    return tiles_needed(inclusion_proof_ids(index, size), size if tree_size is None else tree_size)


def consistency_tiles(first: int, second: int, tree_size: int | None = None) -> list[Tile]:
    """The tiles of a ``tree_size`` tree (default ``second``) PROOF(first, D[second]) reads."""
    ids = consistency_proof_ids(first, second)
    return tiles_needed(ids, second if tree_size is None else tree_size)


def root_tiles(size: int, tree_size: int | None = None) -> list[Tile]:
    """The tiles of a ``tree_size`` tree (default ``size``) that MTH(D[size]) reads."""
    return tiles_needed(frontier_ids(size), size if tree_size is None else tree_size)


# -- tile and bundle bytes ---------------------------------------------------------------------


def split_hashes(tile: Tile, data: bytes) -> list[bytes]:
    """The hashes of a fetched hash tile, which must be exactly ``32 * width`` bytes.

    Raises:
        TileError: the tile is an entry bundle or has the wrong length.
    """
    if tile.entries:
        raise TileError("an entry bundle holds entries, not hashes", tile=tile.path)
    if len(data) != HASH_SIZE * tile.width:
        raise TileError(
            f"tile must be {HASH_SIZE * tile.width} bytes",
            tile=tile.path, expected=HASH_SIZE * tile.width, computed=len(data),
        )  # fmt: skip
    return [data[at : at + HASH_SIZE] for at in range(0, len(data), HASH_SIZE)]


def encode_bundle(entries: Iterable[bytes]) -> bytes:
    """Entries as a bundle: each prefixed with its big-endian ``uint16`` length.

    Raises:
        TileError: an entry is longer than 65,535 bytes (it is refused, never truncated).
    """
    out = bytearray()
    for position, entry in enumerate(entries):
        if len(entry) > MAX_ENTRY_BYTES:
            raise TileError(
                "entry is too long for an entry bundle (uint16 length)",
                position=position, length=len(entry),
            )  # fmt: skip
        out += len(entry).to_bytes(2, "big")
        out += entry
    return bytes(out)


def decode_bundle(data: bytes, count: int | None = None) -> list[bytes]:
    """The entries of a bundle; with ``count``, exactly that many.

    Raises:
        TileError: the bundle is truncated or holds another number of entries.
    """
    entries: list[bytes] = []
    at = 0
    while at < len(data):
        if at + 2 > len(data):
            raise TileError("entry bundle ends inside a length prefix", offset=at)
        length = int.from_bytes(data[at : at + 2], "big")
        if at + 2 + length > len(data):
            raise TileError("entry bundle ends inside an entry", offset=at, length=length)
        entries.append(data[at + 2 : at + 2 + length])
        at += 2 + length
    if count is not None and len(entries) != count:
        raise TileError(
            "entry bundle holds the wrong number of entries",
            expected=count, computed=len(entries),
        )  # fmt: skip
    return entries


def subtree_root(hashes: Sequence[bytes]) -> bytes:
    """The MTH of a perfect subtree given its ``2**k`` leftmost-first child hashes.

    Raises:
        TileError: the number of hashes is not a power of two.
    """
    if not hashes or len(hashes) & (len(hashes) - 1):
        raise TileError("a perfect subtree has a power-of-two number of hashes", count=len(hashes))
    layer = list(hashes)
    while len(layer) > 1:
        layer = [node_hash(layer[at], layer[at + 1]) for at in range(0, len(layer), 2)]
    return layer[0]


# -- proofs from tiles -------------------------------------------------------------------------


class TileNodeReader:
    """A :class:`ledger.merkle.NodeReader` over fetched hash tiles.

    Each node is folded from the one tile layer that holds it; a node whose tile was not
    given is left out, which the proofs of :mod:`ledger.merkle` report as a
    :class:`~ledger.errors.StorageError` naming the node.

    Raises:
        TileError: on construction, when a tile has the wrong length, is an entry bundle,
            or a partial tile disagrees with a wider tile of the same index (a fork).
    """

    def __init__(self, tiles: Mapping[Tile, bytes]) -> None:
        self._layers: dict[tuple[int, int], list[bytes]] = {}
        for tile, data in sorted(tiles.items(), key=lambda pair: -pair[0].width):
            hashes = split_hashes(tile, data)
            known = self._layers.setdefault((tile.level, tile.index), hashes)
            if known[: len(hashes)] != hashes:
                raise TileError("a partial tile disagrees with a wider one", tile=tile.path)

    def get_nodes(self, ids: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        found: dict[NodeId, bytes] = {}
        for level, index in ids:
            tile_level, rest = divmod(level, TILE_HEIGHT)
            number, offset = divmod(index << rest, TILE_WIDTH)
            hashes = self._layers.get((tile_level, number))
            if hashes is not None and offset + (1 << rest) <= len(hashes):
                found[(level, index)] = subtree_root(hashes[offset : offset + (1 << rest)])
        return found


# -- checking a whole tiled log ----------------------------------------------------------------

Fetch = Callable[[Tile], bytes | None]
"""Fetches one tile or bundle; ``None`` when the log does not serve it (HTTP 404)."""


def checkpoint_of_note(note: str) -> Checkpoint:
    """The checkpoint in a signed note's body, *unverified*: for a log reading back the note
    it signed itself (which tiles it serves); a client opens notes with
    :func:`ledger.checkpoint.open_checkpoint` instead.

    Raises:
        NoteError: the body is not a checkpoint.
    """
    return Checkpoint.from_text(note.split("\n\n", 1)[0] + "\n")


def audit_order(size: int) -> Iterator[Tile]:
    """The order :func:`audit_tiles` fetches in, so a fetcher can prefetch ahead.

    Per level-0 tile: its entry bundle, then the tile; each full tile completes, at the
    level above, the full tile it ends; the partial tiles come last, level by level.
    """
    full0, partial0 = tile_counts(0, size)
    for index in range(full0):
        yield Tile(0, index, entries=True)
        yield Tile(0, index)
        level, number = 0, index
        while number % TILE_WIDTH == TILE_WIDTH - 1:
            level, number = level + 1, number // TILE_WIDTH
            yield Tile(level, number)
    if partial0:
        yield Tile(0, full0, partial0, entries=True)
        yield Tile(0, full0, partial0)
    for level in range(1, tile_levels(size)):
        full, partial = tile_counts(level, size)
        if partial:
            yield Tile(level, full, partial)


@dataclass(frozen=True, slots=True)
class TileFault:
    """One thing wrong in a tiled log: what (``code``), where (the tile's path and, for
    one hash or entry, its leaf or node index) and in words."""

    code: str
    message: str
    tile: str | None = None
    index: int | None = None

    def to_json(self) -> dict[str, str | int]:
        out: dict[str, str | int] = {"code": self.code, "message": self.message}
        if self.tile is not None:
            out["tile"] = self.tile
        if self.index is not None:
            out["index"] = self.index
        return out


@dataclass
class TileAudit:
    """What :func:`audit_tiles` checked and found."""

    size: int
    root: bytes | None = None
    """The root recomputed from the tiles (``None`` when they could not give one)."""
    tiles: int = 0
    bundles: int = 0
    entries: int = 0
    bytes: int = 0
    faults: list[TileFault] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.faults


class _Walk:
    """One pass over a tiled log in :func:`audit_order`, checking each tile on arrival."""

    def __init__(self, size: int, fetch: Fetch, keep: set[Tile]) -> None:
        self.audit = TileAudit(size)
        self.fetch, self.keep = fetch, keep
        self.kept: dict[Tile, bytes] = {}
        self.leaves: list[bytes] | None = None
        """The leaf hashes of the last entry bundle, for the level-0 tile after it."""
        self.below: dict[int, list[bytes | None]] = {}
        """Per level, the roots of the full tiles one level down not yet checked against it."""

    def fault(self, code: str, message: str, tile: Tile, index: int | None = None) -> None:
        self.audit.faults.append(TileFault(code, message, tile.path, index))

    def get(self, tile: Tile) -> bytes | None:
        data = self.fetch(tile)
        if data is None:
            self.fault("tile_missing", f"{tile.path} is not served", tile)
            return None
        self.audit.bytes += len(data)
        return data

    def bundle(self, tile: Tile) -> None:
        self.audit.bundles += 1
        self.leaves = None
        data = self.get(tile)
        if data is None:
            return
        try:
            entries = decode_bundle(data, tile.width)
        except TileError as exc:
            self.fault("tile_malformed", f"{tile.path}: {exc.diagnostics()}", tile)
            return
        self.audit.entries += len(entries)
        self.leaves = [leaf_hash(entry) for entry in entries]

    def hashes(self, tile: Tile) -> list[bytes] | None:
        self.audit.tiles += 1
        data = self.get(tile)
        if data is None:
            return None
        try:
            hashes = split_hashes(tile, data)
        except TileError as exc:
            self.fault("tile_malformed", f"{tile.path}: {exc.diagnostics()}", tile)
            return None
        if tile in self.keep:
            self.kept[tile] = data
        return hashes

    def level0(self, tile: Tile) -> list[bytes] | None:
        hashes, leaves = self.hashes(tile), self.leaves
        if hashes is not None and leaves is not None:
            bundle = Tile(0, tile.index, tile.width, entries=True).path
            for offset, (stored, computed) in enumerate(zip(hashes, leaves, strict=True)):
                if stored != computed:
                    where = tile.start + offset
                    self.fault(
                        "entry_mismatch",
                        f"entry {where} (in {bundle}) does not hash to its leaf hash in "
                        f"{tile.path}",
                        tile, where,
                    )  # fmt: skip
        return hashes if hashes is not None else leaves

    def upper(self, tile: Tile) -> list[bytes] | None:
        hashes = self.hashes(tile)
        roots = self.below.pop(tile.level, [])
        if hashes is not None:
            for offset, (stored, computed) in enumerate(zip(hashes, roots, strict=False)):
                if computed is not None and stored != computed:
                    under = Tile(tile.level - 1, tile.first_node + offset)
                    self.fault(
                        "tile_mismatch",
                        f"hash {offset} of {tile.path} is not the root of {under.path}",
                        tile, tile.first_node + offset,
                    )  # fmt: skip
        return hashes

    def visit(self, tile: Tile) -> None:
        if tile.entries:
            self.bundle(tile)
            return
        hashes = self.level0(tile) if tile.level == 0 else self.upper(tile)
        if tile.full:
            root = None if hashes is None else subtree_root(hashes)
            self.below.setdefault(tile.level + 1, []).append(root)


def audit_tiles(
    checkpoint: Checkpoint, fetch: Fetch, trusted: Checkpoint | None = None
) -> TileAudit:
    """Check a tiled log against its (already verified) checkpoint, fetching every tile.

    Every entry must hash to its level-0 tile hash, every hash at level ``L + 1`` must be
    the root of the full level-``L`` tile below it, and the root folded from the tiles must
    be the checkpoint's. With ``trusted`` (an earlier verified checkpoint of the same log)
    the checkpoint must extend it, by a consistency proof built from the tiles. ``fetch``
    is called once per tile in :func:`audit_order` order.
    """
    size = checkpoint.size
    keep = set(root_tiles(size)) if size else set()
    if trusted is not None and 0 < trusted.size <= size:
        keep |= set(consistency_tiles(trusted.size, size))
    walk = _Walk(size, fetch, keep)
    for tile in audit_order(size):
        walk.visit(tile)
    audit = walk.audit
    if size == 0:
        audit.root = EMPTY_ROOT
    else:
        try:
            audit.root = root_at(TileNodeReader(walk.kept), size)
        except LedgerError as exc:
            audit.faults.append(TileFault("root_unavailable", exc.diagnostics()))
    if audit.root is not None and audit.root != checkpoint.root_hash:
        audit.faults.append(TileFault(
            "root_mismatch",
            f"the tiles fold to root {audit.root.hex()}, the checkpoint says "
            f"{checkpoint.root_hash.hex()}",
        ))  # fmt: skip
    if trusted is not None:
        audit.faults += _consistency_faults(trusted, checkpoint, walk.kept)
    return audit


def _consistency_faults(
    trusted: Checkpoint, checkpoint: Checkpoint, kept: Mapping[Tile, bytes]
) -> list[TileFault]:
    if trusted.size > checkpoint.size:
        return [TileFault(
            "checkpoint_rollback",
            f"the log's checkpoint (size {checkpoint.size}) is older than the trusted one "
            f"(size {trusted.size}): the log was truncated or rolled back",
        )]  # fmt: skip
    if trusted.size == 0:
        return []
    try:
        proof = consistency_proof(TileNodeReader(kept), trusted.size, checkpoint.size)
        verify_consistency(
            trusted.size, checkpoint.size, proof, trusted.root_hash, checkpoint.root_hash
        )
    except LedgerError as exc:
        return [TileFault(
            "checkpoint_inconsistent",
            f"the log does not extend the trusted checkpoint (size {trusted.size}): "
            f"{exc.diagnostics()}",
        )]  # fmt: skip
    return []
