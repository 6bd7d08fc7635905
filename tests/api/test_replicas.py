"""Read replicas (``--replica-db``, api/replicas.py) on a real server process.

The "standby" here is a frozen copy of the primary, so it lags by exactly what was written
after the copy: reads that may lag are served from it, a read that names a receipt's
index (``Chemtrace-Read-After``) and a proof for a tree it has not replayed go to the
primary, and authentication never reads it. The same on streaming replication is in
tests/api/test_failover.py (slow tier).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx

from api.backup import backup
from ledger.canonical import parse_hash
from ledger.merkle import leaf_hash, root_from_leaf_hashes, verify_inclusion
from tests.api.live import LiveServer, build_world


def _get(server: LiveServer, path: str, token: str, **headers: str) -> httpx.Response:
    return httpx.get(server.base_url + path, timeout=10,
                     headers={"Authorization": f"Bearer {token}", **headers})  # fmt: skip


def _primary(tmp_path: Path) -> tuple[LiveServer, str]:
    """A server on a fresh SQLite primary, and the primary's URL."""
    home = tmp_path / "home"
    home.mkdir()
    primary = f"sqlite:///{home}/var/chemtrace.db"
    return LiveServer(home, primary).start(), primary


def _freeze_standby(server: LiveServer, primary: str, tmp_path: Path) -> str:
    """Copy the primary to a standby that replays nothing more, and restart ``server``
    with it as its replica; the standby's URL."""
    server.stop()
    backup(primary, tmp_path / "standby.db")
    standby = f"sqlite:///{tmp_path / 'standby.db'}"
    server.env["CHEMTRACE_REPLICA_DB"] = standby
    server.start()
    return standby


def test_reads_go_to_the_replica_unless_they_must_see_a_newer_entry(tmp_path: Path) -> None:
    server, primary = _primary(tmp_path)
    try:
        world = build_world(server)
        producer = world.actors["p-chem"]
        old, new = world.issue("p-chem", 2)
        producer.client.submit(world.commission("p-chem", old))
        regulator = world.regulators["d1"]
        revoked_user = "reg-d1"
        _freeze_standby(server, primary, tmp_path)
        admin = server.admin_token
        receipt = producer.client.submit(world.commission("p-chem", new))

        assert _get(server, f"/v1/items/{old}", admin).json()["events"] == 1
        lagging = _get(server, f"/v1/items/{new}", admin)  # issued before the copy, no events
        assert lagging.status_code == 200
        assert lagging.json()["events"] == 0, "the read did not go to the (stale) replica"
        own_write = _get(server, f"/v1/items/{new}", admin,
                         **{"Chemtrace-Read-After": str(receipt["index"])})  # fmt: skip
        assert own_write.status_code == 200
        assert own_write.json()["events"] == 1

        bad = _get(server, f"/v1/items/{new}", admin, **{"Chemtrace-Read-After": "-1"})
        assert bad.status_code == 422 and bad.json()["code"] == "invalid_read_after"

        # a proof for a tree the replica has not replayed comes from the primary, and holds
        size = receipt["index"] + 1
        proof = producer.client.inclusion_proof(receipt["index"], size)
        leaves = world.admin.entries(0, size)  # served past the replica's size too
        assert len(leaves) == size
        root = root_from_leaf_hashes(leaf_hash(entry) for entry in leaves)
        verify_inclusion(parse_hash(receipt["leaf_hash"]), receipt["index"], size, proof, root)

        # authentication reads the primary: a token revoked after the copy is refused,
        # though the replica still holds it
        assert _get(server, "/v1/items?limit=1", str(regulator.token)).status_code == 200
        world.admin.revoke_tokens(revoked_user)
        refused = _get(server, "/v1/items?limit=1", str(regulator.token))
        assert refused.status_code == 401
        world.close()
    finally:
        server.close()


def _checkpoint_size(server: LiveServer, token: str, at_least: int) -> int:
    """The newest checkpoint's size, once it covers ``at_least`` entries."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        note = _get(server, "/v1/log/checkpoint", token)
        if note.status_code == 200 and int(note.text.splitlines()[1]) >= at_least:
            return int(note.text.splitlines()[1])
        time.sleep(0.1)
    raise AssertionError(f"no checkpoint of {at_least} entries in 20 s")


def _statements(url: str, code: str) -> set[int]:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        rows = conn.execute(
            "SELECT checkpoint_size FROM item_head_statement WHERE item_code = ?", (code,)
        )
        return {size for (size,) in rows}


def test_bundles_are_read_from_the_replica_and_the_statements_they_sign_go_to_the_primary(
    tmp_path: Path,
) -> None:
    server, primary = _primary(tmp_path)
    try:
        world = build_world(server)
        producer = world.actors["p-chem"]
        old, other = world.issue("p-chem", 2)
        first = producer.client.submit(world.commission("p-chem", old))
        _checkpoint_size(server, server.admin_token, first["index"] + 1)
        second = producer.client.submit(world.commission("p-chem", other))
        copied = _checkpoint_size(server, server.admin_token, second["index"] + 1)
        standby = _freeze_standby(server, primary, tmp_path)
        assert copied not in _statements(standby, old)  # old's head is older than the copy's
        used = producer.client.submit(world.event("p-chem", "use", [old], {
            "quantity": {"value": "1", "unit": "kg"}}))  # fmt: skip
        newest = _checkpoint_size(server, server.admin_token, used["index"] + 1)

        stale = producer.client.item_bundle(old)
        assert int(stale["checkpoint"].splitlines()[1]) == copied, "not read from the replica"
        assert len(stale["items"][0]["chain"]) == 1
        # the head statement it signed at the replica's checkpoint was stored on the primary
        assert copied in _statements(primary, old)
        assert copied not in _statements(standby, old)
        token = str(producer.client.token)
        verified = _get(server, f"/v1/items/{old}/verify", token).json()
        assert verified["verified"] is True and verified["checkpoint_size"] == copied, verified

        # a verifier that has seen the newer checkpoint is served by the primary
        fresh = producer.client.item_bundle(old, since=newest)
        assert int(fresh["checkpoint"].splitlines()[1]) == newest
        assert len(fresh["items"][0]["chain"]) == 2
        own_write = _get(server, f"/v1/items/{old}/bundle", token,
                         **{"Chemtrace-Read-After": str(used["index"])}).json()  # fmt: skip
        assert len(own_write["items"][0]["chain"]) == 2
        site = producer.client.site_bundle("p-chem-site")
        assert int(site["checkpoint"].splitlines()[1]) == copied
        world.close()
    finally:
        server.close()
