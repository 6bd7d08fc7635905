"""The inspector kit building its proofs from the log's tlog-tiles (scanners.inspector.tiles)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ledger.append import Accepted
from ledger.canonical import b64decode
from ledger.errors import NoteError, ProofError, TileError
from ledger.merkle import inclusion_proof_ids, leaf_hash
from ledger.note import NoteVerifier
from ledger.signing import Ed25519Signer
from ledger.store.bundles import build_site_bundle
from ledger.tiles import tiles_needed
from scanners.inspector import InspectorKit, PinnedKey
from scanners.inspector.fetch import accept_bundle, fetch_bundle
from scanners.inspector.tiles import FolderTiles, TiledLog, open_tiles, prove_bundle
from tests._tiles import append_synthetic, write_tiles
from tests.harness import ORIGIN, Harness

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
SITE = "site-a"
Bundle = dict[str, Any]


@dataclass
class Log:
    """A real ledger (signed events) padded with synthetic leaves, its bundles and tiles."""

    harness: Harness
    old: Bundle
    """The site bundle at the first checkpoint (the kit has seen it)."""
    new: Bundle
    """The site bundle at the second checkpoint, stripped of its proofs."""
    tiles: Path
    """The tiles of a third, later checkpoint."""
    fork_tiles: Path
    """Tiles of another tree of the same size, signed with the same log key."""


def _strip(bundle: Bundle) -> Bundle:
    stripped = copy.deepcopy(bundle)
    for name in ("certificates", "revocations", "events"):
        for entry in stripped[name]:
            entry["inclusion"] = []
    stripped["consistency"] = None
    return stripped


def _submit(harness: Harness, envelopes: list[Any]) -> None:
    assert all(isinstance(o, Accepted) for o in harness.submit(envelopes))


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Log]:
    folder = tmp_path_factory.mktemp("inspector-tiles")
    h = Harness.create(f"sqlite:///{folder / 'ledger.db'}")
    device = h.device("org-a")
    _submit(h, [h.commission(device, f"ITEM-{n}") for n in range(3)])
    h.checkpoint()
    old = json.loads(json.dumps(build_site_bundle(h.store, SITE, log_signer=h.log, now=NOW)))
    append_synthetic(h.store, 300)  # other entries, so proofs cross tile boundaries
    _submit(h, [h.use(device, f"ITEM-{n}") for n in range(3)])
    h.checkpoint()
    new = json.loads(json.dumps(build_site_bundle(h.store, SITE, log_signer=h.log, now=NOW)))
    append_synthetic(h.store, 250)
    h.checkpoint()
    tiles = folder / "tiles"
    write_tiles(h.store, tiles)
    fork = Harness.create(f"sqlite:///{folder / 'fork.db'}", root=h.root, log=h.log)
    append_synthetic(fork.store, 1)  # a different first leaf: another tree
    append_synthetic(fork.store, h.store.log_size() - 1)
    fork.checkpoint()
    fork_tiles = folder / "fork"
    write_tiles(fork.store, fork_tiles)
    fork.store.engine.dispose()
    yield Log(h, old, _strip(new), tiles, fork_tiles)
    h.store.engine.dispose()


def _kit(home: Path, log: Log) -> InspectorKit:
    kit = InspectorKit(home)
    kit.trust_folder.pin(
        root=PinnedKey(NoteVerifier.for_key("test-root", log.harness.root.public_key), "test"),
        log=PinnedKey(NoteVerifier.for_key(ORIGIN, log.harness.log.public_key), "test"),
    )
    first = accept_bundle(kit, copy.deepcopy(log.old), kind="site", subject=SITE, source="t",
                          now=NOW)  # fmt: skip
    assert first.verified, first.report.to_json()
    return kit


def _tiled(log: Log, folder: Path | None = None) -> TiledLog:
    verifier = NoteVerifier.for_key(ORIGIN, log.harness.log.public_key)
    return TiledLog(FolderTiles(folder or log.tiles), verifier)


def test_a_bundle_without_proofs_verifies_with_proofs_from_tiles(log: Log, tmp_path: Path) -> None:
    kit = _kit(tmp_path / "kit", log)
    bundle = copy.deepcopy(log.new)
    refused = accept_bundle(kit, copy.deepcopy(bundle), kind="site", subject=SITE, source="t",
                            now=NOW)  # fmt: skip
    assert not refused.verified  # without proofs, nothing is proven
    tiled = _tiled(log)
    state = kit.state()
    done = prove_bundle(tiled, bundle, state, ORIGIN)
    entries = sum(len(bundle[name]) for name in ("certificates", "revocations", "events"))
    assert (done.inclusion, done.consistency) == (entries, True)
    assert bundle["consistency"]["from_size"] == int(log.old["checkpoint"].split("\n")[1])
    outcome = accept_bundle(kit, bundle, kind="site", subject=SITE, source="t", now=NOW)
    assert outcome.verified, outcome.report.to_json()
    assert outcome.report.state_advanced  # the consistency proof from tiles moved it
    assert {w.code for w in outcome.report.warnings} == {"label_not_present"}  # free codes
    # exactly the tiles the proofs read, once each
    size = int(bundle["checkpoint"].split("\n")[1])
    ids = [n for e in bundle["events"] for n in inclusion_proof_ids(e["index"], size)]
    assert set(tiles_needed(ids, tiled.checkpoint().size)) <= set(tiled.tiles)
    assert done.tiles == tiled.fetches == len(tiled.tiles) <= 4


def test_proofs_from_the_tiles_of_another_tree_are_caught(log: Log, tmp_path: Path) -> None:
    kit = _kit(tmp_path / "kit", log)
    bundle = copy.deepcopy(log.new)
    prove_bundle(_tiled(log, log.fork_tiles), bundle, kit.state(), ORIGIN)
    outcome = accept_bundle(kit, bundle, kind="site", subject=SITE, source="t", now=NOW)
    assert not outcome.verified
    assert outcome.stored is None


def test_a_tampered_tile_is_caught(log: Log, tmp_path: Path) -> None:
    tiles = tmp_path / "tiles"
    write_tiles(log.harness.store, tiles)
    tile = tiles / "tile/0/000"
    data = bytearray(tile.read_bytes())
    data[32 * 2] ^= 1  # the leaf hash of entry 2
    tile.write_bytes(bytes(data))
    kit = _kit(tmp_path / "kit", log)
    bundle = copy.deepcopy(log.new)
    prove_bundle(_tiled(log, tiles), bundle, kit.state(), ORIGIN)
    assert not accept_bundle(kit, bundle, kind="site", subject=SITE, source="t", now=NOW).verified


def test_every_entry_is_proven_against_the_tiles_checkpoint(log: Log) -> None:
    tiled = _tiled(log)
    checkpoint = tiled.checkpoint()
    store = log.harness.store
    leaves = store.leaf_inputs(0, checkpoint.size)
    for index in range(0, checkpoint.size, 7):
        assert tiled.verify_entry(leaf_hash(leaves[index]), index) == checkpoint
        assert tiled.inclusion_proof(index) == store.inclusion_proof(index, checkpoint.size)
    for first in (1, 5, 256, 300, checkpoint.size - 1):
        assert tiled.consistency_proof(first) == store.consistency_proof(first, checkpoint.size)
        assert tiled.consistency_proof(1, first) == store.consistency_proof(1, first)
    assert tiled.root_at(checkpoint.size) == checkpoint.root_hash
    with pytest.raises(ProofError):
        tiled.verify_entry(leaf_hash(leaves[4]), 5)
    with pytest.raises(TileError):
        tiled.inclusion_proof(0, checkpoint.size + 1)  # newer than the tiles know


def test_the_tiles_checkpoint_must_be_the_pinned_logs(log: Log, tmp_path: Path) -> None:
    stranger = NoteVerifier.for_key(ORIGIN, Ed25519Signer.generate().public_key)
    with pytest.raises(NoteError):
        TiledLog(FolderTiles(log.tiles), stranger).checkpoint()
    with pytest.raises(TileError):
        TiledLog(FolderTiles(tmp_path), stranger).checkpoint()  # no checkpoint at all
    missing = tmp_path / "partial"
    write_tiles(log.harness.store, missing)
    (missing / "tile/0/000").unlink()
    with pytest.raises(TileError, match="does not serve a tile"):
        _tiled(log, missing).inclusion_proof(3)


def test_a_bundle_newer_than_the_tiles_keeps_its_own_proofs(log: Log) -> None:
    bundle = copy.deepcopy(log.new)
    lines = bundle["checkpoint"].split("\n")
    lines[1] = str(10**6)
    bundle["checkpoint"] = "\n".join(lines)
    before = copy.deepcopy(bundle)
    assert prove_bundle(_tiled(log), bundle, None, ORIGIN).inclusion == 0
    assert bundle == before


def test_fetch_bundle_builds_its_proofs_from_tiles(log: Log, tmp_path: Path) -> None:
    """The wiring of ``chemtrace scan fetch --tiles``: the server's bundle (here, one that
    carries no proofs) is proven from the tiles before it is verified and kept."""

    class Server:
        def site_bundle(self, site: str) -> Bundle:
            assert site == SITE
            return copy.deepcopy(log.new)

    kit = _kit(tmp_path / "kit", log)
    source = open_tiles(log.tiles.as_uri())
    outcome = fetch_bundle(kit, Server(), kind="site", subject=SITE, server="test", now=NOW,  # type: ignore[arg-type]
                           tiles=source)  # fmt: skip
    source.close()
    assert outcome.verified, outcome.report.to_json()
    assert outcome.proof_fetched and outcome.stored is not None
    proof = outcome.bundle["events"][0]["inclusion"]
    assert all(len(b64decode(node)) == 32 for node in proof) and proof


def test_around_a_rotation_either_log_key_opens_the_tiles_checkpoint(log: Log) -> None:
    current = NoteVerifier.for_key(ORIGIN, log.harness.log.public_key)
    outgoing = NoteVerifier.for_key(ORIGIN, Ed25519Signer.generate().public_key)
    tiled = TiledLog(FolderTiles(log.tiles), [outgoing, current])
    assert tiled.checkpoint().origin == ORIGIN
