"""C2SP tlog-tiles benchmark: export speed at 1M leaves, and proofs built from tiles.

Run from the project root::

    .venv/bin/python -m bench.tiles [--leaves 1000000] [--proofs 2000] [--grow 10000]

A fresh SQLite ledger (``Deployment.open``: migrated, a throw-away keystore) gets
``--leaves`` **synthetic** leaves written straight into ``log_entry`` and ``log_node``:
leaf inputs shaped like :class:`ledger.leaf.LeafRecord` (about 130 bytes) and every perfect
node from :class:`ledger.merkle.Frontier`, so all hashes are real RFC 6962 hashes, but no
entry is a real event (an export reads leaves and nodes, never events). The log key signs
a checkpoint over them. Then:

1. **Export**: ``api.cli_tiles.export_tiles`` (what ``chemtrace tiles export`` runs) into an
   empty folder: one SQL range query per tile, each file written to a temporary name,
   fsynced and renamed, folders fsynced, the checkpoint last. Then a **no-op re-export**
   (every tile read and compared, nothing written) and, after ``--grow`` more leaves and a
   checkpoint, an **incremental** one with ``--since`` the old size.
2. **Audit from tiles**: ``scanners.tiles_audit.audit_tile_log`` over the folder, the work of
   ``chemtrace verify-log --tiles DIR``: every entry hashed, every tile folded.
3. **Proofs from tiles** (the handheld path, ``scanners.inspector.tiles.TiledLog``): for
   ``--proofs`` random leaves, fetch exactly the tiles PATH(index) reads, build the proof
   with ``TileNodeReader`` + ``merkle.inclusion_proof`` and verify it against the signed
   checkpoint (fetched and verified once, as a kit does per session; the tile cache is
   emptied before every proof). From the folder, and over HTTP from a private nginx with
   ``docs/nginx-tiles.conf`` when ``/usr/sbin/nginx`` exists (else from Python's
   ``http.server``), one keep-alive connection.
"""

from __future__ import annotations

import argparse
import hashlib
import http.server
import random
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlalchemy import update

from api.cli_tiles import ExportReport, export_tiles
from api.deployment import Deployment
from api.services.root import Service
from api.settings import Settings
from bench._machine import header_lines, percentile, results_table
from ledger.leaf import LeafRecord
from ledger.merkle import Frontier, frontier_ids, leaf_hash
from ledger.note import parse_vkey
from ledger.store import schema as t
from ledger.store.engine import make_engine
from scanners.inspector.tiles import FolderTiles, HttpTiles, TiledLog, TileSource
from scanners.tiles_audit import audit_tile_log

CHUNK = 50_000
LOG_TIME = "2026-11-21T09:00:00Z"
console = Console(width=130, highlight=False)


def _leaf(index: int) -> tuple[bytes, bytes]:
    digest = hashlib.sha256(b"chemtrace-bench-entry" + index.to_bytes(8, "big")).digest()
    return digest, LeafRecord("event", digest, LOG_TIME).encode()


def grow(deployment: Deployment, count: int) -> float:
    """Append ``count`` synthetic leaves (entries + every perfect node) and sign a checkpoint."""
    started = time.perf_counter()
    store = deployment.store
    size = store.log_size()
    ids = frontier_ids(size)
    found = store.get_nodes(ids)
    frontier = Frontier.from_nodes(size, [found[node] for node in ids])
    engine = make_engine(str(store.engine.url))
    entry_sql = (
        "INSERT INTO log_entry (idx, kind, entry_hash, log_time, leaf_input) VALUES (?, ?, ?, ?, ?)"
    )
    node_sql = "INSERT INTO log_node (level, idx, hash) VALUES (?, ?, ?)"
    try:
        for first in range(size, size + count, CHUNK):
            entries, nodes = [], []
            for index in range(first, min(first + CHUNK, size + count)):
                digest, leaf = _leaf(index)
                entries.append((index, "event", digest, LOG_TIME, leaf))
                nodes += [(lvl, at, h) for (lvl, at), h in frontier.append(leaf_hash(leaf))]
            with engine.begin() as conn:
                conn.exec_driver_sql(entry_sql, entries)
                conn.exec_driver_sql(node_sql, nodes)
        with engine.begin() as conn:
            conn.execute(update(t.log_state).where(t.log_state.c.id == 1).values(size=size + count))
    finally:
        engine.dispose()
    assert deployment.checkpoint() is not None
    return time.perf_counter() - started


def export(service: Service, folder: Path, since: int = 0) -> ExportReport:
    verifier = parse_vkey(service.log.vkey())
    return export_tiles(service.tiles, folder, verifier, since=since)


# -- serving the folder over HTTP --------------------------------------------------------------


@contextmanager
def http_server(folder: Path, work: Path) -> Iterator[tuple[str, str]]:
    """``(url, what)``: nginx with the shipped config if installed, else ``http.server``."""
    nginx = Path("/usr/sbin/nginx")
    if nginx.is_file():
        from tests.api.test_tiles_nginx import start_nginx

        prefix = work / "nginx"
        prefix.mkdir()
        server = start_nginx(nginx, prefix, folder)
        try:
            yield server.url, "nginx (docs/nginx-tiles.conf)"
        finally:
            server.stop()
        return
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.protocol_version = "HTTP/1.1"  # type: ignore[attr-defined]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", "python http.server"
    finally:
        httpd.shutdown()
        httpd.server_close()


# -- proofs ------------------------------------------------------------------------------------


@dataclass
class ProofRun:
    source: str
    ms: list[float]
    tiles: int
    bytes: int
    checkpoint_ms: float


def time_proofs(source: TileSource, label: str, vkey: str, indices: Sequence[int],
                leaves: Callable[[int], bytes]) -> ProofRun:  # fmt: skip
    started = time.perf_counter()
    log = TiledLog(source, parse_vkey(vkey))
    checkpoint = log.checkpoint()
    checkpoint_ms = (time.perf_counter() - started) * 1000
    samples: list[float] = []
    fetched = fetched_bytes = 0
    for number, index in enumerate(indices):
        log.tiles.clear()  # every proof fetches its tiles afresh
        expected = leaf_hash(leaves(index))
        start = time.perf_counter()
        log.verify_entry(expected, index)
        elapsed = (time.perf_counter() - start) * 1000
        if number >= 20:  # warm-up
            samples.append(elapsed)
            fetched += len(log.tiles)
            fetched_bytes += sum(len(data) for data in log.tiles.values())
    assert checkpoint.size > max(indices)
    count = max(len(samples), 1)
    return ProofRun(label, sorted(samples), fetched // count, fetched_bytes // count, checkpoint_ms)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tiles", description=__doc__)
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--proofs", type=int, default=2000, help="timed proofs per source")
    parser.add_argument("--grow", type=int, default=10_000, help="leaves added before the "
                        "incremental export")  # fmt: skip
    args = parser.parse_args(argv)
    for line in header_lines("bench.tiles"):
        console.print(line)
    work = Path(tempfile.mkdtemp(prefix="chemtrace-tiles-bench-"))
    try:
        return run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args: Any, work: Path) -> int:
    work.chmod(0o755)  # as root, nginx's workers (nobody) must reach the export
    db = f"sqlite:///{work / 'ledger.db'}"
    deployment = Deployment.open(db, work / "keys")
    console.print(f"writing {args.leaves:,} synthetic leaves and their nodes ...")
    build_s = grow(deployment, args.leaves)
    service = Service.open(Settings(db=db, keys=work / "keys", background=False, findings=False))
    folder = work / "tlog"
    rows: list[tuple[str, ExportReport]] = []
    try:
        rows.append((f"full export, {args.leaves:,} leaves", export(service, folder)))
        rows.append(("no-op re-export (read + compare all)", export(service, folder)))
        grow(deployment, args.grow)
        latest = service.deployment.store.latest_checkpoint()
        assert latest is not None
        service.accel.cache_checkpoint(latest[1])  # as the integrator publishes it
        rows.append((f"incremental, +{args.grow:,} leaves, --since {args.leaves:,}",
                     export(service, folder, since=args.leaves)))  # fmt: skip
        vkey = service.log.vkey()
        store = service.deployment.store
        size = store.log_size()
        audit_start = time.perf_counter()
        audited = audit_tile_log(FolderTiles(folder), parse_vkey(vkey), location=str(folder))
        audit_s = time.perf_counter() - audit_start
        assert audited.intact, audited.audit.faults[:3]
        rng = random.Random(20261121)
        indices = [rng.randrange(size) for _ in range(args.proofs + 20)]
        leaf_cache = {index: store.leaf_inputs(index, index + 1)[0] for index in indices}
        runs = [time_proofs(FolderTiles(folder), "folder (local disk)", vkey, indices,
                            leaf_cache.__getitem__)]  # fmt: skip
        with http_server(folder, work) as (url, what):
            source = HttpTiles(url)
            try:
                runs.append(time_proofs(source, f"HTTP, {what}", vkey, indices,
                                        leaf_cache.__getitem__))  # fmt: skip
            finally:
                source.close()
    finally:
        service.close()
        deployment.store.engine.dispose()

    console.print(
        f"ledger: SQLite file (WAL, synchronous=FULL), {args.leaves:,} synthetic leaves "
        f"(LeafRecord-shaped inputs, real RFC 6962 hashes; not real events) written in "
        f"{build_s:.1f} s"
    )
    table = results_table(
        "Tile export (api.cli_tiles.export_tiles = chemtrace tiles export)",
        ["export", "tiles written", "unchanged", "skipped", "MB written", "seconds", "tiles/s"],
    )
    for name, report in rows:
        handled = report.written + report.unchanged
        table.add_row(name, f"{report.written:,}", f"{report.unchanged:,}", f"{report.skipped:,}",
                      f"{report.bytes / 1e6:.1f}", f"{report.seconds:.2f}",
                      f"{handled / report.seconds:,.0f}")  # fmt: skip
    console.print(table)
    console.print(
        "durability: every file written to a temporary name, fsynced, renamed (0644); every "
        "touched folder fsynced before the checkpoint, which is written last. tiles/s counts "
        "hash tiles and entry bundles written or compared"
    )
    console.print(
        f"audit from tiles (verify-log --tiles DIR, {audited.audit.size:,} entries, "
        f"{audited.audit.tiles:,} hash tiles, {audited.audit.bundles:,} bundles, "
        f"{audited.audit.bytes / 1e6:.0f} MB): {audit_s:.1f} s, INTACT"
    )
    proofs = results_table(
        f"Inclusion proof from tiles, tree of {size:,} (fetch tiles + build + verify, ms)",
        ["source", "proofs", "tiles/proof", "bytes/proof", "p50", "p90", "p99", "max",
         "checkpoint ms"],
    )  # fmt: skip
    for run_ in runs:
        proofs.add_row(run_.source, f"{len(run_.ms):,}", str(run_.tiles), f"{run_.bytes:,}",
                       f"{percentile(run_.ms, 0.5):.2f}", f"{percentile(run_.ms, 0.9):.2f}",
                       f"{percentile(run_.ms, 0.99):.2f}", f"{run_.ms[-1]:.2f}",
                       f"{run_.checkpoint_ms:.1f}")  # fmt: skip
    console.print(proofs)
    console.print(
        "each proof: the tile cache emptied, then exactly the tiles PATH(index) reads fetched "
        "(ledger.tiles.tiles_needed), folded by TileNodeReader, merkle.inclusion_proof, and "
        "verify_inclusion against the checkpoint (fetched and signature-checked once: "
        "'checkpoint ms')"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
