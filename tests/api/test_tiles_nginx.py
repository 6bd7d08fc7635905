"""An exported tiled log behind a REAL nginx, with the shipped ``docs/nginx-tiles.conf``.

A private nginx (``/usr/sbin/nginx``, Debian's nginx-light) runs on a free loopback port
with its own prefix, pid, logs and temp paths in a temp dir, serving a ``chemtrace tiles
export`` folder; as root its workers run as ``nobody``, so the export must really be
world-readable. A client that knows only the log key fetches the checkpoint and, through
nginx, exactly the tiles each proof needs: every inclusion proof of the log, and
consistency proofs from earlier checkpoints, all checked against the signed checkpoint.
The root of the level-0 tiles is recomputed twice, with ``ledger.merkle`` and with the
tiny RFC 6962 implementation below that imports nothing from ``ledger``.

Without nginx the test is skipped, or fails when ``CI`` is set (``tests.conftest.IN_CI``),
like the PostgreSQL tests (``tests/servers.py``).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from api.deployment import Deployment
from ledger.checkpoint import Checkpoint, open_checkpoint
from ledger.merkle import (
    Frontier,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from ledger.note import parse_vkey
from ledger.tiles import (
    Tile,
    TileNodeReader,
    consistency_tiles,
    decode_bundle,
    inclusion_tiles,
    split_hashes,
    tiles_for_size,
)
from tests._tiles import append_synthetic, synthetic_leaf
from tests.api._cli import run_cli
from tests.servers import pick_free_port

REPO = Path(__file__).resolve().parents[2]
SHIPPED_CONF = REPO / "docs" / "nginx-tiles.conf"
NGINX = Path("/usr/sbin/nginx")
SIZES = (1, 256, 700, 1024)  # earlier checkpoints a client may have kept
SIZE = 1500  # level 0: five full tiles and one of width 220; level 1: one of width 5
IMMUTABLE = "public, max-age=31536000, immutable"


# -- an RFC 6962 Merkle Tree Hash that trusts nothing in ledger/ --------------------------------


def rfc6962_mth(leaf_hashes: list[bytes]) -> bytes:
    """MTH(D[n]) of RFC 6962 §2.1 over leaf hashes, by its recursive definition."""
    if not leaf_hashes:
        return hashlib.sha256(b"").digest()
    if len(leaf_hashes) == 1:
        return leaf_hashes[0]
    k = 1
    while k * 2 < len(leaf_hashes):
        k *= 2
    left, right = rfc6962_mth(leaf_hashes[:k]), rfc6962_mth(leaf_hashes[k:])
    return hashlib.sha256(b"\x01" + left + right).digest()


def test_the_independent_mth_is_rfc6962() -> None:
    """RFC 6962's test vectors (Go's trillian / certificate-transparency-go): the empty tree,
    one empty leaf, and the 8 leaves 0x, 00, 10, 2021, 3031, 40414243, 5051…57, 6061…6f."""
    leaf = lambda data: hashlib.sha256(b"\x00" + data).digest()  # noqa: E731
    assert rfc6962_mth([]).hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert rfc6962_mth([leaf(b"")]).hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )
    inputs = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
              "606162636465666768696a6b6c6d6e6f"]  # fmt: skip
    assert rfc6962_mth([leaf(bytes.fromhex(h)) for h in inputs]).hex() == (
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    )


# -- the private nginx --------------------------------------------------------------------------


def _require_nginx() -> Path:
    if NGINX.is_file() and os.access(NGINX, os.X_OK):
        return NGINX
    reason = (
        f"{NGINX} not found; install it with `apt-get install nginx-light` "
        "(scripts/_setup.sh does, as root)"
    )
    from tests.conftest import IN_CI  # read at call time, as tests/servers.py does

    if IN_CI:
        pytest.fail(f"{reason} (CI must run these tests: install the server)", pytrace=False)
    pytest.skip(reason)
    raise AssertionError  # unreachable: skip raises


@dataclass
class Nginx:
    """One nginx master on ``127.0.0.1:port`` serving ``root`` with the shipped rules."""

    process: subprocess.Popen[bytes]
    port: int
    prefix: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # SIGTERM: fast shutdown of master and workers
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def errors(self) -> str:
        log = self.prefix / "error.log"
        return log.read_text(errors="replace")[-3000:] if log.exists() else ""


def _config(prefix: Path, root: Path, port: int) -> Path:
    shipped = SHIPPED_CONF.read_text()
    server = re.sub(r"(?m)^(\s*)listen \S+;", rf"\1listen 127.0.0.1:{port};", shipped, count=1)
    server = re.sub(r"(?m)^(\s*)root \S+;", rf"\1root {root};", server, count=1)
    assert f"listen 127.0.0.1:{port};" in server and f"root {root};" in server
    (prefix / "tiles.conf").write_text(server)
    temp = prefix / "temp"
    temp.mkdir(exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(f"""
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {prefix}/tiles.conf;
}}
""")
    return conf


def start_nginx(binary: Path, prefix: Path, root: Path) -> Nginx:
    """Start nginx in the foreground on a free port (a few tries if the port is taken)."""
    last = ""
    for _ in range(6):
        port = pick_free_port()
        conf = _config(prefix, root, port)
        command = [str(binary), "-p", str(prefix), "-c", str(conf), "-e",
                   str(prefix / "error.log"), "-g", "daemon off;"]  # fmt: skip
        with (prefix / "stderr.log").open("ab") as stderr:  # the child keeps its own copy
            process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
        nginx = Nginx(process, port, prefix)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and process.poll() is None:
            try:
                httpx.get(nginx.url + "/checkpoint", timeout=1)
                return nginx
            except httpx.HTTPError:
                time.sleep(0.05)
        nginx.stop()
        last = (prefix / "stderr.log").read_text(errors="replace") + nginx.errors()
        if "Address already in use" not in last:
            break
    raise RuntimeError(f"nginx did not start: {last}")


# -- the log, its export, and the server ---------------------------------------------------------


@dataclass
class Served:
    nginx: Nginx
    notes: dict[int, str]
    """The checkpoints signed at :data:`SIZES` and :data:`SIZE`."""
    vkey: str
    roots: list[bytes]
    """The tree's roots at every size, from our own Frontier over the leaves we wrote."""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    binary = _require_nginx()
    home = tmp_path_factory.mktemp("nginx-tiles")
    deployment = Deployment.open(f"sqlite:///{home}/chemtrace.db", home / "keys")
    notes: dict[int, str] = {}
    for size in (*SIZES, SIZE):
        append_synthetic(deployment.store, size - deployment.store.log_size())
        note = deployment.checkpoint()
        assert note is not None
        notes[size] = note
    deployment.store.engine.dispose()
    frontier, roots = Frontier.empty(), []
    for index in range(SIZE):
        roots.append(frontier.root())
        frontier.append(leaf_hash(synthetic_leaf(index)))
    roots.append(frontier.root())
    # As root, nginx's workers are `nobody`: the folder must be reachable by anyone (the
    # pytest base dir is private), and the export's files readable by anyone.
    public = Path(tempfile.mkdtemp(prefix="chemtrace-nginx-tiles-"))
    public.chmod(0o755)
    try:
        export = public / "tlog"
        done = run_cli("tiles", "export", str(export), "--db", f"sqlite:///{home}/chemtrace.db",
                       "--keys", str(home / "keys"), cwd=home)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        nginx = start_nginx(binary, home, export)
        try:
            vkey = (home / "keys" / "log.vkey").read_text().strip()
            yield Served(nginx, notes, vkey, roots)
        finally:
            nginx.stop()
    finally:
        shutil.rmtree(public)


@pytest.fixture
def http(served: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.nginx.url, timeout=10) as client:
        yield client


def _get(http: httpx.Client, path: str) -> httpx.Response:
    response = http.get(f"/{path}")
    assert response.status_code == 200, (path, response.status_code, response.text[:200])
    return response


def _tiles(http: httpx.Client, tiles: list[Tile]) -> dict[Tile, bytes]:
    return {tile: _get(http, tile.path).content for tile in tiles}


def _checkpoint(served: Served, http: httpx.Client) -> Checkpoint:
    return open_checkpoint(_get(http, "checkpoint").text, parse_vkey(served.vkey))


def test_nginx_serves_the_checkpoint_and_tiles_with_the_right_headers(
    served: Served, http: httpx.Client
) -> None:
    checkpoint = _get(http, "checkpoint")
    assert checkpoint.text == served.notes[SIZE]
    assert checkpoint.headers["content-type"] == "text/plain; charset=utf-8"
    assert checkpoint.headers["cache-control"] == "no-cache"
    every = [*tiles_for_size(SIZE), *tiles_for_size(SIZE, entries=True)]
    assert {t.path for t in every if not t.full} == {
        "tile/0/005.p/220", "tile/1/000.p/5", "tile/entries/005.p/220"
    }  # fmt: skip
    for tile in every:
        response = _get(http, tile.path)
        assert response.headers["content-type"] == "application/octet-stream", tile.path
        expected = IMMUTABLE if tile.full else "public, max-age=5"
        assert response.headers["cache-control"] == expected, tile.path
        assert "etag" in response.headers
    bundle = http.get("/tile/entries/000", headers={"Accept-Encoding": "gzip"})
    assert bundle.headers.get("content-encoding") == "gzip"  # entry bundles are compressed
    assert decode_bundle(bundle.content, 256)[3] == synthetic_leaf(3)


@pytest.mark.parametrize(
    "path",
    ["tile/0/006", "tile/0/005", "tile/0/005.p/219", "tile/1/000", "tile/2/000.p/1",
     "tile/0/x000/000", "tile/0/", "tile/", "keys/log.pem", "chemtrace.db", "nginx.conf",
     "tile/0/.000.tmp", "tile/entries/005.p/221"],
)  # fmt: skip
def test_nginx_serves_nothing_else(served: Served, http: httpx.Client, path: str) -> None:
    assert http.get(f"/{path}").status_code == 404, path


def test_every_inclusion_proof_from_tiles_through_nginx(served: Served, http: httpx.Client) -> None:
    checkpoint = _checkpoint(served, http)
    assert checkpoint.size == SIZE
    entries: list[bytes] = []
    for bundle in tiles_for_size(SIZE, entries=True):
        entries += decode_bundle(_get(http, bundle.path).content, bundle.width)
    assert len(entries) == SIZE
    fetched = 0
    for index in range(SIZE):
        needed = inclusion_tiles(index, SIZE)
        fetched += len(needed)
        proof = inclusion_proof(TileNodeReader(_tiles(http, needed)), index, SIZE)
        verify_inclusion(leaf_hash(entries[index]), index, SIZE, proof, checkpoint.root_hash)
    assert fetched <= 3 * SIZE  # each proof fetched only the few tiles it needs


def test_consistency_proofs_from_tiles_through_nginx(served: Served, http: httpx.Client) -> None:
    checkpoint = _checkpoint(served, http)
    verifier = parse_vkey(served.vkey)
    for first in SIZES:  # checkpoints a client kept: signed, so their roots are trusted
        earlier = open_checkpoint(served.notes[first], verifier)
        reader = TileNodeReader(_tiles(http, consistency_tiles(first, SIZE)))
        proof = consistency_proof(reader, first, SIZE)
        verify_consistency(first, SIZE, proof, earlier.root_hash, checkpoint.root_hash)
    for first, second in ((3, 255), (257, 513), (511, 1499), (1, SIZE), (1499, SIZE)):
        reader = TileNodeReader(_tiles(http, consistency_tiles(first, second, SIZE)))
        proof = consistency_proof(reader, first, second)
        verify_consistency(first, second, proof, served.roots[first], served.roots[second])
    forged = bytearray(served.roots[700])
    forged[0] ^= 1
    reader = TileNodeReader(_tiles(http, consistency_tiles(700, SIZE)))
    with pytest.raises(Exception, match="different first root"):
        verify_consistency(700, SIZE, consistency_proof(reader, 700, SIZE), bytes(forged),
                           checkpoint.root_hash)  # fmt: skip


def test_the_level0_tiles_fold_to_the_checkpoint_root_twice(
    served: Served, http: httpx.Client
) -> None:
    checkpoint = _checkpoint(served, http)
    leaf_hashes: list[bytes] = []
    for tile in (t for t in tiles_for_size(SIZE) if t.level == 0):
        leaf_hashes += split_hashes(tile, _get(http, tile.path).content)
    assert len(leaf_hashes) == SIZE
    entries: list[bytes] = []
    for bundle in tiles_for_size(SIZE, entries=True):
        entries += decode_bundle(_get(http, bundle.path).content, bundle.width)
    assert leaf_hashes == [hashlib.sha256(b"\x00" + entry).digest() for entry in entries]
    assert root_from_leaf_hashes(leaf_hashes) == checkpoint.root_hash  # ledger.merkle
    assert rfc6962_mth(leaf_hashes) == checkpoint.root_hash  # hashlib alone
    for size in SIZES:
        assert rfc6962_mth(leaf_hashes[:size]) == served.roots[size]
