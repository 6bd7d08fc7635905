"""Proofs from the log's C2SP tlog-tiles, computed on the handheld (``scan fetch --tiles``).

A tiled log (https://c2sp.org/tlog-tiles) answers no proof queries: it publishes its
checkpoint and its Merkle tree as static, cacheable tiles, and the client builds each
proof itself. Here the kit fetches the checkpoint, opens it with the pinned log key, then
fetches *exactly* the tiles a proof reads (:func:`ledger.tiles.tiles_needed`) and folds
the proof with :class:`ledger.tiles.TileNodeReader` and :mod:`ledger.merkle`. The server
of the tiles is trusted for nothing: a wrong tile yields a proof that fails against a
signed root.

Every perfect subtree of a tree of size ``s`` is in the tiles of any checkpoint of size
``S >= s``, so one fetch of the latest checkpoint's tiles proves entries and consistency
for every older checkpoint too, and only the partial tiles that checkpoint requires are
ever asked for ("clients MUST NOT fetch arbitrary partial tiles").

:func:`prove_bundle` recomputes every inclusion proof of a downloaded bundle from tiles,
and gives it the consistency proof from the kit's remembered checkpoint, before the bundle
is verified as usual (:func:`scanners.inspector.fetch.fetch_bundle` with ``tiles``).

This package never imports ``api``: the small HTTP and folder readers live here too.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol
from urllib.parse import unquote, urlparse

import httpx

from ledger.bundle import VerifierState
from ledger.canonical import b64encode
from ledger.checkpoint import Checkpoint, open_checkpoint
from ledger.errors import LedgerError, TileError
from ledger.merkle import (
    consistency_proof,
    consistency_proof_ids,
    frontier_ids,
    inclusion_proof,
    inclusion_proof_ids,
    root_at,
    verify_inclusion,
)
from ledger.note import NoteVerifier
from ledger.tiles import Tile, TileNodeReader, checkpoint_of_note, tiles_needed
from scanners.errors import ScannerError

ENTRY_LISTS: Final = ("certificates", "revocations", "events")
"""The bundle's lists of log entries, each with an ``index`` and an ``inclusion`` proof."""


class TileFetchError(ScannerError):
    """A tile could not be fetched for another reason than not being served (the network, the
    server, the disk): the command could not run, which is not evidence about the log."""


class TileSource(Protocol):
    """Reads ``checkpoint`` and ``tile/…`` under a tiles prefix."""

    def get(self, path: str) -> bytes | None:
        """The resource's bytes, or ``None`` when it is not served (HTTP 404 or 410, no file).

        Raises:
            TileFetchError: the fetch failed.
        """
        ...

    def close(self) -> None: ...


class FolderTiles:
    """A folder or mounted card holding a ``chemtrace tiles export``."""

    def __init__(self, folder: Path) -> None:
        if not folder.is_dir():
            raise TileFetchError(f"{folder} is not a folder")
        self.folder = folder

    def get(self, path: str) -> bytes | None:
        try:
            return (self.folder / path).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        except OSError as exc:
            raise TileFetchError(f"cannot read {self.folder / path}: {exc}") from exc

    def close(self) -> None:
        return None


class HttpTiles:
    """A tiles prefix over HTTP(S), e.g. ``https://host/tlog`` or a CDN in front of one: 404
    and 410 mean "not served", anything else but 200 is a failure to fetch."""

    def __init__(self, prefix: str, *, timeout: float = 30.0) -> None:
        self.prefix = prefix.rstrip("/") + "/"
        self._http = httpx.Client(
            timeout=timeout, headers={"Accept-Encoding": "gzip, identity"}, follow_redirects=True
        )

    def get(self, path: str) -> bytes | None:
        url = self.prefix + path
        try:
            response = self._http.get(url)
        except httpx.HTTPError as exc:
            raise TileFetchError(f"cannot fetch {url}: {exc}") from exc
        if response.status_code in (404, 410):
            return None
        if response.status_code != 200:
            raise TileFetchError(f"{url} answered {response.status_code}")
        return response.content

    def close(self) -> None:
        self._http.close()


def open_tiles(location: str) -> TileSource:
    """The tiles at ``location``: an ``http(s)://`` prefix, a ``file://`` URL or a folder."""
    parsed = urlparse(location)
    if parsed.scheme in ("http", "https"):
        return HttpTiles(location)
    if parsed.scheme == "file":
        return FolderTiles(Path(unquote(parsed.path)))
    return FolderTiles(Path(location))


class TiledLog:
    """A tiled log seen through the pinned log key (or the policy's log keys, around a
    rotation); fetched tiles are kept for reuse."""

    def __init__(self, source: TileSource, verifier: NoteVerifier | Sequence[NoteVerifier]) -> None:
        self.source = source
        self.verifiers = [verifier] if isinstance(verifier, NoteVerifier) else list(verifier)
        self.tiles: MutableMapping[Tile, bytes] = {}
        self.fetches = 0
        """Tiles fetched so far (each at most once)."""
        self._checkpoint: Checkpoint | None = None

    def checkpoint(self) -> Checkpoint:
        """The log's checkpoint, fetched once and opened with the pinned key.

        Raises:
            NoteError: it does not verify, or is of another log than the key's.
            TileError: the log serves no checkpoint.
        """
        if self._checkpoint is None:
            raw = self.source.get("checkpoint")
            if raw is None:
                raise TileError("the tiled log serves no checkpoint")
            note = raw.decode("utf-8", errors="replace")
            self._checkpoint = open_checkpoint(note, self.verifiers, self.verifiers[0].name)
        return self._checkpoint

    def fetch(self, tiles: Iterable[Tile]) -> TileNodeReader:
        """Fetch the tiles not fetched yet; a reader over every tile fetched so far.

        Raises:
            TileError: a tile is not served or is malformed.
        """
        for tile in tiles:
            if tile in self.tiles:
                continue
            data = self.source.get(tile.path)
            if data is None:
                raise TileError("the tiled log does not serve a tile it needs", tile=tile.path)
            self.fetches += 1
            self.tiles[tile] = data
        return TileNodeReader(self.tiles)

    def _size(self, size: int | None) -> int:
        latest = self.checkpoint().size
        if size is None:
            return latest
        if size > latest:
            raise TileError("the tiles' checkpoint is older than the tree asked for",
                            size=size, tiles_size=latest)  # fmt: skip
        return size

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[size]) from tiles (``size`` defaults to the checkpoint's).

        Raises:
            ProofError, TileError, StorageError: no such leaf, or the tiles lack a node.
        """
        size = self._size(size)
        ids = inclusion_proof_ids(index, size)
        return inclusion_proof(self.fetch(tiles_needed(ids, self.checkpoint().size)), index, size)

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        """PROOF(first, D[second]) from tiles (``second`` defaults to the checkpoint's)."""
        second = self._size(second)
        ids = consistency_proof_ids(first, second)
        reader = self.fetch(tiles_needed(ids, self.checkpoint().size))
        return consistency_proof(reader, first, second)

    def root_at(self, size: int) -> bytes:
        """MTH(D[size]) folded from tiles."""
        size = self._size(size)
        return root_at(self.fetch(tiles_needed(frontier_ids(size), self.checkpoint().size)), size)

    def verify_entry(self, leaf_hash: bytes, index: int) -> Checkpoint:
        """Prove that ``leaf_hash`` is entry ``index`` of the log's signed checkpoint.

        Raises:
            ProofError: it is not (the proof from the tiles leads to another root).
            NoteError, TileError, StorageError: the checkpoint or a tile failed.
        """
        checkpoint = self.checkpoint()
        proof = self.inclusion_proof(index, checkpoint.size)
        verify_inclusion(leaf_hash, index, checkpoint.size, proof, checkpoint.root_hash)
        return checkpoint


@dataclass(frozen=True, slots=True)
class TileProofs:
    """What :func:`prove_bundle` did to a bundle."""

    inclusion: int
    """Entries whose inclusion proof now comes from the tiles."""
    consistency: bool
    """Whether a consistency proof from the kit's checkpoint was attached."""
    tiles: int
    """Tiles fetched for it."""


def _bundle_size(bundle: MutableMapping[str, Any]) -> int | None:
    note = bundle.get("checkpoint")
    if not isinstance(note, str):
        return None
    try:
        return checkpoint_of_note(note).size
    except LedgerError:
        return None


def prove_bundle(
    log: TiledLog, bundle: MutableMapping[str, Any], state: VerifierState | None, origin: str
) -> TileProofs:
    """Replace a bundle's inclusion proofs with ones built from tiles, and attach the
    consistency proof from the kit's checkpoint (``state``) when the bundle has none.

    The bundle's checkpoint is not trusted here: the bundle is verified afterwards as
    always, and a proof from tiles of another tree fails against its signed root. A bundle
    whose checkpoint is newer than the tiles' keeps the proofs it came with.

    Raises:
        NoteError: the tiles' checkpoint does not verify with the pinned key.
        TileError, StorageError: a tile is not served or is malformed.
        httpx.HTTPError, OSError: a fetch failed.
    """
    size = _bundle_size(bundle)
    before = log.fetches
    if size is None or size == 0 or size > log.checkpoint().size:
        return TileProofs(0, False, 0)
    entries = [
        entry
        for name in ENTRY_LISTS
        for entry in bundle.get(name) or []
        if isinstance(entry, dict)
        and type(entry.get("index")) is int
        and 0 <= entry["index"] < size
    ]
    ids = [node for entry in entries for node in inclusion_proof_ids(entry["index"], size)]
    view = None if state is None else state.view(origin)
    wants_consistency = view is not None and 0 < view.size < size and not bundle.get("consistency")
    if wants_consistency and view is not None:
        ids += consistency_proof_ids(view.size, size)
    reader = log.fetch(tiles_needed(ids, log.checkpoint().size))
    for entry in entries:
        entry["inclusion"] = [
            b64encode(node) for node in inclusion_proof(reader, entry["index"], size)
        ]
    if wants_consistency and view is not None:
        proof = consistency_proof(reader, view.size, size)
        bundle["consistency"] = {"from_size": view.size, "proof": [b64encode(h) for h in proof]}
    return TileProofs(len(entries), wants_consistency, log.fetches - before)
