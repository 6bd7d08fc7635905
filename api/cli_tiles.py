"""``chemtrace tiles export DIR``: the log as a static C2SP tlog-tiles folder.

The folder is what ``/tlog/`` serves (``DIR/checkpoint``, ``DIR/tile/…``), ready for any
static web server or CDN (``docs/nginx-tiles.conf``); ``chemtrace verify-log --tiles DIR``
checks it offline.

Crash-safe: every file is written to a temporary name, fsynced and renamed, the folders
are fsynced, and the checkpoint is written last, so a reader (or a crash) never sees a
checkpoint whose tiles are missing. Full tiles are immutable: one already exported is
kept when its bytes match and is a loud failure when they differ (the log forked, or the
folder belongs to another log). Partial tiles replaced by their full tile are removed
after the new checkpoint is in place. Files are world-readable (0644): the folder is public.

Exit codes: 0 exported, 1 an exported tile differs from the log (a fork), 2 could not run.
"""

from __future__ import annotations

import shutil
import time
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from api.deployment import DEFAULT_DB
from api.keystore import DEFAULT_KEYS_DIR, KeystoreError
from api.services.errors import ServiceError
from ledger.checkpoint import open_checkpoint
from ledger.errors import LedgerError, StorageError
from ledger.merkle import root_at
from ledger.note import NoteVerifier, parse_vkey
from ledger.store.engine import require_existing
from ledger.store.files import fsync_folder, write_bytes_atomic
from ledger.tiles import Tile, TileNodeReader, root_tiles, tiles_for_size

if TYPE_CHECKING:  # the service (FastAPI, Redis) is imported only when a command runs
    from api.services.tiles import TileService

app = typer.Typer(
    help="The log as C2SP tlog-tiles: a static, cacheable copy.", no_args_is_help=True
)
err = Console(stderr=True)
PUBLIC_FILE = 0o644
WRITERS = 8
IN_FLIGHT = 64


class TileForkError(Exception):
    """An exported tile's bytes differ from the log's: the log forked, or the folder holds
    another log. Nothing already exported is overwritten."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path} differs from the log's tile: the log forked, or the folder "
                         "holds another log; nothing was overwritten")  # fmt: skip
        self.path = path


@dataclass
class ExportReport:
    """What one export did."""

    size: int = 0
    written: int = 0
    unchanged: int = 0
    skipped: int = 0
    """Full tiles below ``--since``, not even read."""
    removed: int = 0
    """Partial tiles removed because their full tile now exists."""
    bytes: int = 0
    seconds: float = 0.0
    folders: set[Path] = field(default_factory=set, repr=False)

    def summary(self, directory: Path) -> str:
        return (
            f"exported the log of size {self.size:,} to {directory}: {self.written:,} tiles "
            f"written ({self.bytes:,} bytes), {self.unchanged:,} unchanged, {self.skipped:,} "
            f"skipped (--since), {self.removed:,} stale partial removed, in {self.seconds:.2f} s"
        )


def _folders(path: Path, root: Path) -> Iterable[Path]:
    """``path``'s folder and its ancestors up to ``root``: each holds a new entry to fsync."""
    folder = path.parent
    while folder != root and root in folder.parents:
        yield folder
        folder = folder.parent
    yield root


def _publish(target: Path, data: bytes) -> bool:
    """Write a tile unless it is already there with these bytes (then ``False``); refuse
    to change one."""
    if target.is_file():
        if target.read_bytes() != data:
            raise TileForkError(target)
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(target, data, mode=PUBLIC_FILE, fsync_parent=False)
    return True


class _Writer:
    """Publishes tiles from a few threads: each fsync waits on the disk, and concurrent
    ones share journal commits (3 to 5 times the files per second of one thread). The
    store is read in the caller's thread; results are counted there, in order."""

    def __init__(self, directory: Path, report: ExportReport) -> None:
        self.directory, self.report = directory, report
        self._pool = ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="tiles-export")
        self._pending: deque[tuple[Path, int, Future[bool]]] = deque()

    def put(self, target: Path, data: bytes) -> None:
        self._pending.append((target, len(data), self._pool.submit(_publish, target, data)))
        while len(self._pending) > IN_FLIGHT:
            self._settle()

    def _settle(self) -> None:
        target, length, future = self._pending.popleft()
        if future.result():
            self.report.folders.update(_folders(target, self.directory))
            self.report.written += 1
            self.report.bytes += length
        else:
            self.report.unchanged += 1

    def finish(self) -> None:
        """Wait for every write; the first failure (a fork, say) is raised."""
        try:
            while self._pending:
                self._settle()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)


def export_tiles(
    tiles: TileService, directory: Path, verifier: NoteVerifier, *, since: int = 0
) -> ExportReport:
    """Write the latest checkpoint's tiles and entry bundles, then the checkpoint, to ``directory``.

    Raises:
        TileForkError: a tile already in ``directory`` differs from the log's.
        NoteError: the latest checkpoint does not verify with the log's own key.
        StorageError: the store lacks a tile's nodes or entries, or its tiles fold to
            another root than the checkpoint's.
        OSError: the folder cannot be written.
    """
    started = time.perf_counter()
    note = tiles.checkpoint()
    checkpoint = open_checkpoint(note, verifier)  # never publish what would not verify
    size = checkpoint.size
    report = ExportReport(size=size)
    directory.mkdir(parents=True, exist_ok=True)
    top = set(root_tiles(size)) if size else set()
    kept: dict[Tile, bytes] = {}
    full: list[Tile] = []
    writer = _Writer(directory, report)
    try:
        for tile in chain(tiles_for_size(size), tiles_for_size(size, entries=True)):
            if tile.full and tile.end <= since and tile not in top:
                report.skipped += 1
                continue
            data = tiles.read(tile)
            if tile in top:
                kept[tile] = data
            writer.put(directory / tile.path, data)
            if tile.full:
                full.append(tile)
    finally:
        writer.finish()
    if size and root_at(TileNodeReader(kept), size) != checkpoint.root_hash:
        raise StorageError("the stored tiles fold to another root than the checkpoint's")
    for folder in sorted(report.folders, key=lambda path: -len(path.parts)):
        fsync_folder(folder)  # deepest first: every tile is durable before the checkpoint
    write_bytes_atomic(directory / "checkpoint", note.encode("utf-8"), mode=PUBLIC_FILE)
    for tile in full:  # a client of an older checkpoint falls back to the full tile
        stale = directory / f"{tile.path}.p"
        if stale.is_dir():
            shutil.rmtree(stale)
            report.removed += 1
    report.seconds = time.perf_counter() - started
    return report


@app.command("export")
def export_command(
    directory: Annotated[Path, typer.Argument(help="The folder to write (created if needed).")],
    since: Annotated[
        int,
        typer.Option(
            "--since",
            min=0,
            help="Skip full tiles entirely below this leaf index "
            "(they were exported before): an incremental export.",
        ),
    ] = 0,
    db: Annotated[
        str, typer.Option("--db", help="Database URL (SQLite file or PostgreSQL).")
    ] = DEFAULT_DB,
    keys: Annotated[Path, typer.Option("--keys", help="Dev keystore folder.")] = DEFAULT_KEYS_DIR,
) -> None:
    """Export the log as static C2SP tlog-tiles: 0 done, 1 a fork, 2 could not run."""
    from api.services.root import Service
    from api.settings import Settings

    try:
        require_existing(db)
        if not (keys / "log.pem").exists():
            raise KeystoreError(f"no log key in the keystore {keys}; pass --keys DIR")
        service = Service.open(Settings(db=db, keys=keys, background=False, findings=False))
        try:
            verifier = parse_vkey(service.log.vkey())
            report = export_tiles(service.tiles, directory, verifier, since=since)
        finally:
            service.close()
    except TileForkError as exc:
        err.print(f"[red]FORK:[/red] {exc}")
        raise typer.Exit(1) from exc
    except (LedgerError, ServiceError, KeystoreError, OSError) as exc:
        message = exc.diagnostics() if isinstance(exc, LedgerError | ServiceError) else str(exc)
        err.print(f"[red]could not export the tiles:[/red] {message}")
        raise typer.Exit(2) from exc
    print(report.summary(directory))
