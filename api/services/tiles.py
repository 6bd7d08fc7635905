"""The log as C2SP tlog-tiles (https://c2sp.org/tlog-tiles): the checkpoint, hash tiles and
entry bundles, for ``/tlog/`` and for ``chemtrace tiles export``.

What is served follows the latest checkpoint, exactly as :meth:`LogService.checkpoint`
returns it (cosignatures included), never the database's newest entries: the full tiles
inside its size, its partial tile per level, and the narrower partial tiles of the same
index that earlier checkpoints needed (:func:`ledger.tiles.is_servable`), so a client that
read the previous checkpoint is not left with a 404 when the log moves on. Anything else
(a tile wider than the checkpoint, beyond it, or a partial one whose full tile exists) is a
:class:`~api.services.errors.TileNotFoundError`, as from a static copy behind nginx.
"""

from __future__ import annotations

from dataclasses import dataclass

from api.deployment import Deployment
from api.services.errors import TileNotFoundError
from api.services.log import LogService
from ledger.errors import StorageError, TileError
from ledger.tiles import Tile, checkpoint_of_note, encode_bundle, is_servable, parse_tile_path


@dataclass(frozen=True, slots=True)
class ServedTile:
    """A tile's bytes, and whether it is full (immutable: cache it forever)."""

    tile: Tile
    data: bytes

    @property
    def immutable(self) -> bool:
        return self.tile.full


class TileService:
    """Reads tiles and entry bundles from the store, as far as the latest checkpoint goes."""

    def __init__(self, deployment: Deployment, log: LogService) -> None:
        self._deployment, self._log = deployment, log
        self._sized: tuple[str, int] | None = None

    def checkpoint(self) -> str:
        """The latest checkpoint note, as ``/v1/log/checkpoint`` serves it.

        Raises:
            NoCheckpointError: none has been signed yet.
        """
        return self._log.checkpoint()

    def size(self) -> int:
        """The tree size of the latest checkpoint (the note is the log's own: not re-verified).

        Raises:
            NoCheckpointError: none has been signed yet.
        """
        note = self.checkpoint()
        if self._sized is None or self._sized[0] != note:
            self._sized = (note, checkpoint_of_note(note).size)
        return self._sized[1]

    def get(self, path: str) -> ServedTile:
        """The tile at ``path`` (``tile/…``), if the latest checkpoint has it.

        Raises:
            TileNotFoundError: the path is malformed or names a tile not served.
            NoCheckpointError: no checkpoint has been signed yet.
            StorageError: the store lacks nodes or entries the checkpoint covers.
        """
        try:
            tile = parse_tile_path(path)
        except TileError as exc:
            raise TileNotFoundError(path, f"not a tile path: {exc.message}") from None
        size = self.size()
        if not is_servable(tile, size):
            raise TileNotFoundError(
                path, f"the latest checkpoint (size {size}) has no tile {tile.path}"
            )
        return ServedTile(tile, self.read(tile))

    def read(self, tile: Tile) -> bytes:
        """The bytes of ``tile`` from the store, whatever the checkpoint (the caller decides).

        Raises:
            StorageError: the store lacks some of the tile's nodes or entries.
            TileError: an entry is longer than an entry bundle can carry.
        """
        store = self._deployment.store
        if tile.entries:
            entries = store.leaf_inputs(tile.start, tile.end)
            if len(entries) != tile.width:
                raise StorageError(
                    "the log lacks entries of a tile", tile=tile.path, found=len(entries)
                )
            return encode_bundle(entries)
        hashes = store.tile_hashes(tile.node_level, tile.first_node, tile.width)
        if len(hashes) != tile.width:
            raise StorageError("the log lacks nodes of a tile", tile=tile.path, found=len(hashes))
        return b"".join(hashes)
