"""``/tlog/``: the log as C2SP tlog-tiles, served by the app (in-process, real SQLite)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from api.services.root import Service
from api.settings import Settings
from ledger.checkpoint import open_checkpoint
from ledger.merkle import inclusion_proof, leaf_hash, verify_inclusion
from ledger.note import parse_vkey
from ledger.tiles import (
    FULL_TILE_BYTES,
    Tile,
    TileNodeReader,
    decode_bundle,
    inclusion_tiles,
    parse_tile_path,
    split_hashes,
)
from tests._tiles import append_synthetic

SIZE = 600  # level 0: two full tiles and one of width 88; level 1: one of width 2
IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass
class Served:
    app: FastAPI
    service: Service

    def get(self, path: str, method: str = "GET", **headers: str) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
                return await client.request(method, path, headers=headers)

        return asyncio.run(go())

    def sign(self) -> str:
        """A new checkpoint, published as the integrator does (into the cache)."""
        note = self.service.deployment.checkpoint()
        assert note is not None
        self.service.accel.cache_checkpoint(note)
        return note


def _open(home: Path) -> Service:
    home.mkdir(parents=True, exist_ok=True)
    settings = Settings(db=f"sqlite:///{home}/chemtrace.db", keys=home / "keys",
                        background=False, findings=False)  # fmt: skip
    return Service.open(settings)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    service = _open(tmp_path)
    try:
        append_synthetic(service.deployment.store, SIZE)
        app = create_app(service.settings, service=service)
        out = Served(app, service)
        out.sign()
        yield out
    finally:
        service.close()


def test_the_checkpoint_is_the_audit_apis(served: Served) -> None:
    response = served.get("/tlog/checkpoint")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.text == served.get("/v1/log/checkpoint").text == served.service.log.checkpoint()
    verifier = parse_vkey(served.get("/v1/log/key").text.strip())
    assert open_checkpoint(response.text, verifier).size == SIZE


def test_head_answers_like_get_without_a_body(served: Served) -> None:
    for path in ("/tlog/checkpoint", "/tlog/tile/0/000"):
        full, head = served.get(path), served.get(path, method="HEAD")
        assert head.status_code == 200 and head.content == b""
        assert head.headers["cache-control"] == full.headers["cache-control"]
        assert head.headers["content-length"] == str(len(full.content))
    assert served.get("/tlog/tile/0/999", method="HEAD").status_code == 404


def test_full_tiles_are_immutable_and_exact(served: Served) -> None:
    store = served.service.deployment.store
    for path, level8, start in (("tile/0/000", 0, 0), ("tile/0/001", 0, 256)):
        response = served.get(f"/tlog/{path}")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/octet-stream"
        assert response.headers["cache-control"] == IMMUTABLE
        assert len(response.content) == FULL_TILE_BYTES
        assert split_hashes(parse_tile_path(path), response.content) == store.tile_hashes(
            level8, start, 256
        )
        etag = response.headers["etag"]
        again = served.get(f"/tlog/{path}", **{"If-None-Match": f'W/"x", {etag}'})
        assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag)
    bundle = served.get("/tlog/tile/entries/001")
    assert bundle.status_code == 200
    assert bundle.headers["cache-control"] == IMMUTABLE
    assert decode_bundle(bundle.content, 256) == store.leaf_inputs(256, 512)


def test_partial_tiles_of_the_checkpoint_size_are_short_lived(served: Served) -> None:
    store = served.service.deployment.store
    for path, expected in (
        ("tile/0/002.p/88", b"".join(store.tile_hashes(0, 512, 88))),
        ("tile/1/000.p/2", b"".join(store.tile_hashes(8, 0, 2))),
        ("tile/entries/002.p/88", None),
    ):
        response = served.get(f"/tlog/{path}")
        assert response.status_code == 200, (path, response.text)
        assert response.headers["content-type"] == "application/octet-stream"
        assert response.headers["cache-control"] == "public, max-age=5"
        assert "etag" not in response.headers
        if expected is not None:
            assert response.content == expected
        else:
            assert decode_bundle(response.content, 88) == store.leaf_inputs(512, 600)


NOT_SERVED = [
    "tile/0/002.p/89", "tile/0/002.p/255", "tile/0/002", "tile/0/003.p/1", "tile/0/003",
    "tile/1/000", "tile/1/000.p/3", "tile/2/000.p/1", "tile/entries/002",
    "tile/entries/002.p/100", "tile/entries/003", "tile/x001/000",
    "tile/0/2", "tile/00/000", "tile/0/000.p/0", "tile/0/x000/000", "tile/0/000/", "tile/",
    "tile/entries/000.p/256", "tile/64/000", "tile/0/000.p/088",
]  # fmt: skip


@pytest.mark.parametrize("path", NOT_SERVED)
def test_tiles_the_checkpoint_does_not_have_are_not_found(served: Served, path: str) -> None:
    response = served.get(f"/tlog/{path}")
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "tile_not_found"


def test_narrower_partials_of_earlier_checkpoints_are_served_until_their_tile_is_full(
    served: Served,
) -> None:
    """A client that read checkpoint 600 fetches 002.p/88 after the log signed 700: still
    there (the spec's MUST), a prefix of 002.p/188; gone once tile 002 is full."""
    store = served.service.deployment.store
    append_synthetic(store, 100)  # 700 entries, still checkpointed at 600
    assert served.get("/tlog/tile/0/002.p/88").status_code == 200
    assert served.get("/tlog/tile/0/002.p/188").status_code == 404  # no checkpoint yet
    served.sign()
    wide = served.get("/tlog/tile/0/002.p/188")
    assert wide.status_code == 200
    old = served.get("/tlog/tile/0/002.p/88")
    assert old.status_code == 200 and old.content == wide.content[: 88 * 32]
    bundle = served.get("/tlog/tile/entries/002.p/88")
    assert decode_bundle(bundle.content, 88) == store.leaf_inputs(512, 600)
    append_synthetic(store, 100)  # 800: level-0 tile 2 is full
    served.sign()
    assert served.get("/tlog/tile/0/002").status_code == 200
    for gone in ("tile/0/002.p/88", "tile/0/002.p/188", "tile/entries/002.p/188"):
        assert served.get(f"/tlog/{gone}").status_code == 404, gone
    assert served.get("/tlog/tile/1/000.p/2").status_code == 200  # level 1 has 3 now: kept


def test_a_client_proves_inclusion_from_the_tiles_alone(served: Served) -> None:
    verifier = parse_vkey(served.get("/v1/log/key").text.strip())
    checkpoint = open_checkpoint(served.get("/tlog/checkpoint").text, verifier)
    store = served.service.deployment.store
    for index in (0, 1, 255, 256, 300, 511, 512, 599):
        tiles = {tile: served.get(f"/tlog/{tile.path}").content
                 for tile in inclusion_tiles(index, checkpoint.size)}  # fmt: skip
        proof = inclusion_proof(TileNodeReader(tiles), index, checkpoint.size)
        audit = served.get(f"/v1/log/proof/inclusion?index={index}&size={checkpoint.size}")
        assert [base64.b64encode(h).decode() for h in proof] == audit.json()["proof"]
        leaf = store.leaf_inputs(index, index + 1)[0]
        verify_inclusion(leaf_hash(leaf), index, checkpoint.size, proof, checkpoint.root_hash)
    assert all(not tile.entries for tile in tiles) and isinstance(next(iter(tiles)), Tile)


def test_before_any_checkpoint_there_is_nothing(tmp_path: Path) -> None:
    service = _open(tmp_path / "empty")
    try:
        served = Served(create_app(service.settings, service=service), service)
        response = served.get("/tlog/checkpoint")
        assert (response.status_code, response.json()["code"]) == (404, "no_checkpoint")
        assert served.get("/tlog/tile/0/000.p/1").json()["code"] == "no_checkpoint"
    finally:
        service.close()
