"""``chemtrace verify-log --tiles URL``: audit a log from its C2SP tlog-tiles alone.

No database and no API: the checkpoint, every hash tile and every entry bundle are fetched
from a tiles prefix (``http(s)://…``, as ``/tlog/`` or a static copy serves them, a
``file://`` URL or a plain folder, as ``chemtrace tiles export`` writes it) and checked by
:func:`ledger.tiles.audit_tiles`: the checkpoint's signature with the pinned log key, each
entry against its level-0 hash, each higher tile against the full tiles below, the folded
root against the checkpoint's, and, with ``--trusted-checkpoint``, a consistency proof from
a checkpoint saved earlier.

Exit codes as for the database audit: 0 intact, 1 damage found (each fault names its tile
and index), 2 could not run (no key, no checkpoint, the network or the server failed).
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from rich.console import Console
from rich.table import Table

from ledger.checkpoint import Checkpoint, open_checkpoint
from ledger.errors import LedgerError
from ledger.note import NoteVerifier, parse_vkey
from ledger.tiles import Tile, TileAudit, TileFault, audit_order, audit_tiles
from ledger.witness_policy import WitnessPolicy, judge_checkpoint, parse_policy_bytes
from scanners.inspector.tiles import TileFetchError, TileSource, open_tiles

PREFETCH: Final = 64
"""Tiles requested ahead of the one being checked (over HTTP, by a few threads)."""
FETCH_THREADS: Final = 8
TIMEOUT_S: Final = 30.0
console = Console()
err = Console(stderr=True)


class _Prefetcher:
    """``fetch(tile)`` for :func:`audit_tiles`, answering from requests made ahead in
    :func:`audit_order`, so a slow network is waited on once per window, not per tile."""

    def __init__(self, source: TileSource, order: Iterator[Tile], threads: int) -> None:
        self._source, self._order = source, order
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="tiles")
        self._ahead: deque[tuple[Tile, Future[bytes | None]]] = deque()

    def _fill(self) -> None:
        while len(self._ahead) < PREFETCH:
            tile = next(self._order, None)
            if tile is None:
                return
            self._ahead.append((tile, self._pool.submit(self._source.get, tile.path)))

    def __call__(self, tile: Tile) -> bytes | None:
        self._fill()
        if not self._ahead or self._ahead[0][0] != tile:  # not in audit order: fetch it now
            return self._source.get(tile.path)
        _, future = self._ahead.popleft()
        return future.result()

    def close(self) -> None:
        for _, future in self._ahead:
            future.cancel()
        self._pool.shutdown(wait=True)


@dataclass
class TilesResult:
    """The audit of a tiled log: its checkpoint (``None`` if it did not verify) and findings."""

    location: str
    checkpoint: Checkpoint | None
    audit: TileAudit
    trusted_size: int | None = None
    """The size of the trusted checkpoint the log was checked to extend, if one was given."""

    @property
    def intact(self) -> bool:
        return self.audit.intact

    def to_json(self) -> dict[str, object]:
        audit = self.audit
        return {
            "intact": self.intact,
            "tiles": self.location,
            "origin": None if self.checkpoint is None else self.checkpoint.origin,
            "size": audit.size,
            "root_hash": None if audit.root is None else audit.root.hex(),
            "hash_tiles": audit.tiles,
            "entry_bundles": audit.bundles,
            "entries": audit.entries,
            "bytes": audit.bytes,
            "trusted_size": self.trusted_size,
            "faults": [fault.to_json() for fault in audit.faults],
        }


def audit_tile_log(
    source: TileSource,
    log_key: NoteVerifier,
    *,
    location: str = "",
    trusted_checkpoint: str | None = None,
    threads: int = FETCH_THREADS,
    policy: WitnessPolicy | None = None,
) -> TilesResult:
    """Fetch and check a whole tiled log against the pinned log key (and, with a ``policy``,
    its witness quorum: a checkpoint without it is the fault ``checkpoint_unwitnessed``).

    A checkpoint that does not verify is damage (a fault, nothing else is fetched); a
    malformed ``trusted_checkpoint`` or a missing checkpoint means the audit cannot run.

    Raises:
        TileFetchError: the checkpoint is not served, or a fetch failed.
        LedgerError: the trusted checkpoint is malformed or not the log key's.
    """
    raw = source.get("checkpoint")
    if raw is None:
        raise TileFetchError(f"{location or 'the tiles'} serve no checkpoint")
    keys = [log_key]  # with a policy, its log keys too (old and new around a rotation)
    if policy is not None:
        keys += [log.verifier for log in policy.logs
                 if log.verifier.name == log_key.name and log.verifier != log_key]  # fmt: skip
    try:
        checkpoint = open_checkpoint(raw.decode("utf-8"), keys)
    except (LedgerError, UnicodeDecodeError) as exc:
        detail = exc.diagnostics() if isinstance(exc, LedgerError) else "not UTF-8"
        fault = TileFault("checkpoint_invalid", f"the checkpoint does not verify: {detail}",
                          "checkpoint")  # fmt: skip
        return TilesResult(location, None, TileAudit(0, faults=[fault]))
    trusted = None
    if trusted_checkpoint is not None:
        trusted = open_checkpoint(trusted_checkpoint, keys, expected_origin=checkpoint.origin)
    fetch = _Prefetcher(source, audit_order(checkpoint.size), threads)
    try:
        audit = audit_tiles(checkpoint, fetch, trusted)
    finally:
        fetch.close()
    if policy is not None:
        verdict = judge_checkpoint(raw.decode("utf-8"), policy, now=int(time.time()))
        if not verdict.accepted:
            audit.faults.append(TileFault("checkpoint_unwitnessed", verdict.explain(),
                                          "checkpoint"))  # fmt: skip
    return TilesResult(location, checkpoint, audit, None if trusted is None else trusted.size)


def _log_key(keys: Path, log_key: Path | None) -> NoteVerifier:
    """The pinned log key: ``--log-key``, else the keystore's published ``log.vkey`` (what
    :func:`api.keystore.pinned_trust` reads; tiles need no root key, so it is not asked for)."""
    path = log_key or keys / "log.vkey"
    if not path.is_file():
        raise TileFetchError(f"no trusted key at {path}: pass --log-key FILE (a C2SP vkey)")
    return parse_vkey(path.read_text(encoding="utf-8").strip())


def verify_log_tiles(
    location: str,
    *,
    keys: Path,
    log_key: Path | None,
    trusted_checkpoint: Path | None,
    as_json: bool,
    witness_policy: Path | None = None,
) -> int:
    """Run the audit and print its report; return the exit code (0, 1 or 2)."""
    try:
        verifier = _log_key(keys, log_key)
        trusted = trusted_checkpoint.read_text(encoding="utf-8") if trusted_checkpoint else None
        policy = parse_policy_bytes(witness_policy.read_bytes()) if witness_policy else None
        source = open_tiles(location)
        try:
            result = audit_tile_log(source, verifier, location=location,
                                    trusted_checkpoint=trusted, policy=policy)  # fmt: skip
        finally:
            source.close()
    except (TileFetchError, LedgerError, OSError, ValueError) as exc:
        message = exc.diagnostics() if isinstance(exc, LedgerError) else str(exc)
        if as_json:
            print(json.dumps({"intact": None, "error": message}))
        err.print(f"[red]could not run the audit:[/red] {message}")
        return 2
    if as_json:
        print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        _print(result)
    return 0 if result.intact else 1


def _print(result: TilesResult) -> None:
    audit = result.audit
    table = Table(title=f"Tiled log audit: {result.location}", show_header=False)
    table.add_row("origin", "-" if result.checkpoint is None else result.checkpoint.origin)
    table.add_row("size", f"{audit.size:,}")
    table.add_row("hash tiles", f"{audit.tiles:,}")
    table.add_row("entry bundles", f"{audit.bundles:,} ({audit.entries:,} entries)")
    table.add_row("bytes fetched", f"{audit.bytes:,}")
    table.add_row("root", "-" if audit.root is None else audit.root.hex())
    console.print(table)
    if result.intact:
        extends = (
            "" if result.trusted_size is None
            else f"; it extends the trusted checkpoint of size {result.trusted_size:,}"
        )  # fmt: skip
        console.print(
            "[bold green]INTACT[/bold green]: the checkpoint signature, every entry, every "
            f"tile and the root verified{extends}."
        )
        return
    console.print(f"[bold red]DAMAGED[/bold red]: {len(audit.faults)} fault(s)")
    for fault in audit.faults[:50]:
        where = ", ".join(f"{key}={value}" for key, value in fault.to_json().items()
                          if key not in ("code", "message"))  # fmt: skip
        console.print(f"  [red]{fault.code}[/red] {fault.message}"
                      + (f" ({where})" if where else ""))  # fmt: skip
