"""Rotating the log key: both signatures during the handover, a retired key bounded by the
last size it signed for, and an audit that judges each entry by the key valid for it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import update

from api.deployment import Deployment
from api.keystore import FileKeystore, KeystoreError
from ledger.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from ledger.note import parse_vkey, split_note
from ledger.store import schema as t
from tests.api._cli import run_cli


def _grow(deployment: Deployment, count: int, prefix: str) -> str:
    for n in range(count):
        deployment.certify_org(f"{prefix}-{n}")
    note = deployment.checkpoint()
    assert note is not None
    return note


def _finish(deployment: Deployment, db: str, keys: Path) -> Deployment:
    """``log-key finish`` in process: countersign, hand over, reopen with the new key."""
    size, _ = deployment.store.countersign_latest(
        signer=deployment.keys.next_log_signer(),  # type: ignore[arg-type]
        note_name=deployment.keys.origin,
    )
    deployment.keys.finish_log_rotation(size)
    deployment.store.engine.dispose()
    return Deployment.open(db, keys)


def _audit(home: Path, db: str, *extra: str) -> tuple[int, dict[str, object]]:
    done = run_cli(
        "verify-log", "--db", db, "--keys", str(home / "keys"), "--json", *extra, cwd=home
    )
    return done.returncode, json.loads(done.stdout)


def test_a_rotation_keeps_every_old_proof_and_bounds_the_old_key(tmp_path: Path) -> None:
    db, keys = f"sqlite:///{tmp_path}/ledger.db", tmp_path / "keys"
    deployment = Deployment.open(db, keys)
    old_vkey = deployment.keys.log_vkey()
    _grow(deployment, 3, "before")
    deployment.store.engine.dispose()

    begun = run_cli("log-key", "begin", "--db", db, "--keys", str(keys), cwd=tmp_path)
    assert begun.returncode == 0, begun.stderr
    new_vkey = begun.stdout.strip()
    assert new_vkey != old_vkey and parse_vkey(new_vkey).name == parse_vkey(old_vkey).name
    assert (
        run_cli("log-key", "begin", "--db", db, "--keys", str(keys), cwd=tmp_path).returncode == 2
    )

    deployment = Deployment.open(db, keys)
    both = _grow(deployment, 2, "during")
    assert len(split_note(both)[1]) == 2
    for vkey in (old_vkey, new_vkey):
        open_checkpoint(both, parse_vkey(vkey))  # either pinned key accepts it
    deployment.store.engine.dispose()

    finished = run_cli("log-key", "finish", "--db", db, "--keys", str(keys), cwd=tmp_path)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip() == new_vkey
    assert (keys / "log.vkey").read_text().strip() == new_vkey
    assert (keys / "log-retired-1.vkey").read_text().strip() == old_vkey
    last = json.loads((keys / "log-retired-1.json").read_text())["last_size"]

    deployment = Deployment.open(db, keys)
    after = _grow(deployment, 2, "after")
    assert len(split_note(after)[1]) == 1
    open_checkpoint(after, parse_vkey(new_vkey))
    assert deployment.store.log_size() > last
    deployment.store.engine.dispose()

    code, report = _audit(tmp_path, db)
    assert code == 0, report

    # An auditor pinning only the new key refuses what the old key signed...
    (tmp_path / "new.vkey").write_text(new_vkey + "\n")
    (tmp_path / "old.vkey").write_text(old_vkey + "\n")
    code, report = _audit(tmp_path, db, "--log-key", str(tmp_path / "new.vkey"))
    assert code == 1
    faults = {f["code"] for f in report["faults"]}  # type: ignore[union-attr]
    assert "checkpoint_signature_invalid" in faults
    # ...and accepts it when told which key was retired at which size.
    code, report = _audit(
        tmp_path,
        db,
        "--log-key",
        str(tmp_path / "new.vkey"),
        "--retired-log-key",
        f"{tmp_path / 'old.vkey'}:{last}",
    )
    assert code == 0, report


def test_the_retired_key_signs_nothing_beyond_its_last_size(tmp_path: Path) -> None:
    db, keys = f"sqlite:///{tmp_path}/ledger.db", tmp_path / "keys"
    deployment = Deployment.open(db, keys)
    _grow(deployment, 2, "before")
    deployment.keys.begin_log_rotation()
    _grow(deployment, 1, "during")
    deployment = _finish(deployment, db, keys)
    after = _grow(deployment, 2, "after")
    deployment.store.engine.dispose()
    assert _audit(tmp_path, db)[0] == 0

    # Whoever holds the retired key signs the newest checkpoint with it: refused.
    retired = FileKeystore(keys).signer("log-retired-1")
    body = Checkpoint.from_text(split_note(after)[0])
    forged = sign_checkpoint(body, body.origin, retired)
    with deployment.store.engine.begin() as conn:
        conn.execute(
            update(t.checkpoint).where(t.checkpoint.c.size == body.size).values(note=forged)
        )
    code, report = _audit(tmp_path, db)
    assert code == 1
    assert any(
        f["code"] == "checkpoint_signature_invalid" and f["index"] == body.size
        for f in report["faults"]  # type: ignore[union-attr]
    )


def test_witnesses_follow_a_rotation_and_refuse_the_retired_key(tmp_path: Path) -> None:
    """The order that keeps witnesses cosigning: add the new key, see a checkpoint carrying
    both signatures, then drop the old key; after that the old key alone gets 403."""
    from api.accel import LocalAccelerator
    from api.witnessing import WitnessEndpoint, Witnessing
    from ledger.store.witnessing import WitnessingStore
    from ledger.witness import request_body
    from tests.api.witness_procs import CityWitness

    db, keys = f"sqlite:///{tmp_path}/ledger.db", tmp_path / "keys"
    deployment = Deployment.open(db, keys)
    (tmp_path / "old.vkey").write_text(deployment.keys.log_vkey() + "\n")
    witness = CityWitness(tmp_path / "w", "w.city.example", [tmp_path / "old.vkey"]).start()

    def cosigned_newest() -> bool:
        witnessing = Witnessing(
            deployment.store,
            WitnessingStore(deployment.store.engine),
            [WitnessEndpoint.parse(witness.endpoint)],
            LocalAccelerator(),
            quorum=1,
            lock_held=lambda: True,
        )
        try:
            return witnessing.step() == 1
        finally:
            witnessing.close()

    def restart(*vkeys: str) -> None:
        witness.stop()
        witness.log_keys = [tmp_path / name for name in vkeys]
        witness.start()

    try:
        _grow(deployment, 1, "a")
        assert cosigned_newest()
        (tmp_path / "new.vkey").write_text(deployment.keys.begin_log_rotation() + "\n")
        restart("old.vkey", "new.vkey")
        _grow(deployment, 1, "b")  # signed by both keys
        assert cosigned_newest()
        deployment = _finish(deployment, db, keys)
        restart("new.vkey")  # its state carries the new key's signature: it starts
        after = _grow(deployment, 1, "c")
        assert len(split_note(after)[1]) == 1
        assert cosigned_newest()

        retired = FileKeystore(keys).signer("log-retired-1")
        body = Checkpoint.from_text(split_note(after)[0])
        forged = sign_checkpoint(body, body.origin, retired)
        answer = witness.post(request_body(body.size, [], forged))
        assert answer.status_code == 403, answer.text
    finally:
        witness.close()
        deployment.store.engine.dispose()


def _begin(tmp_path: Path) -> tuple[str, Path, Deployment]:
    db, keys = f"sqlite:///{tmp_path}/ledger.db", tmp_path / "keys"
    deployment = Deployment.open(db, keys)
    _grow(deployment, 2, "before")
    deployment.keys.begin_log_rotation()
    _grow(deployment, 1, "during")
    return db, keys, deployment


def test_a_handover_cut_short_by_a_crash_is_completed_not_replaced(tmp_path: Path) -> None:
    db, keys, deployment = _begin(tmp_path)
    size = deployment.store.log_size()
    deployment.store.engine.dispose()
    # the crash: the size file is written and the old key moved, the new one not yet in place
    (keys / "log-retired-1.json").write_text(json.dumps({"last_size": size}))
    for suffix in (".pem", ".vkey"):
        (keys / f"log{suffix}").rename(keys / f"log-retired-1{suffix}")
    with pytest.raises(KeystoreError, match="middle of a rotation"):
        Deployment.open(db, keys)  # never a fresh log key in its place
    resumed = run_cli("log-key", "finish", "--db", db, "--keys", str(keys), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert (keys / "log.vkey").read_text().strip() == resumed.stdout.strip()
    assert not list(keys.glob("log-next.*")) and not list(keys.glob("log-retired-2*"))
    assert _audit(tmp_path, db)[0] == 0


def test_a_checkpoint_saved_before_the_rotation_still_anchors_the_audit(tmp_path: Path) -> None:
    db, keys = f"sqlite:///{tmp_path}/ledger.db", tmp_path / "keys"
    deployment = Deployment.open(db, keys)
    saved = tmp_path / "seen.checkpoint"
    saved.write_text(_grow(deployment, 2, "before"))
    deployment.store.engine.dispose()
    for step in ("begin", "finish"):
        assert (
            run_cli("log-key", step, "--db", db, "--keys", str(keys), cwd=tmp_path).returncode == 0
        )
    code, report = _audit(tmp_path, db, "--trusted-checkpoint", str(saved))
    assert code == 0, report


def test_finish_refuses_while_the_service_holds_the_log(tmp_path: Path) -> None:
    from api.background import SingletonLock

    db, keys, deployment = _begin(tmp_path)
    lock = SingletonLock(db, deployment.store.engine)
    assert lock.acquire()
    try:
        refused = run_cli("log-key", "finish", "--db", db, "--keys", str(keys), cwd=tmp_path)
        assert refused.returncode == 2
        assert "service is running" in refused.stderr
        assert (keys / "log-next.pem").exists()
    finally:
        lock.release()
        deployment.store.engine.dispose()


def _cosigned(checkpoint: Checkpoint) -> str:
    from ledger.cosignature import cosign
    from ledger.signing import Ed25519Signer

    line = cosign(checkpoint.to_text(), "w.example", Ed25519Signer.generate(), 1_800_000_000)
    return line.rstrip("\n")


def test_bundles_after_a_rotation_take_a_checkpoint_the_current_key_signed(
    tmp_path: Path,
) -> None:
    from ledger.store.bundles import build_site_bundle
    from ledger.store.witnessing import StoredCosignature, WitnessingStore

    db, keys = f"sqlite:///{tmp_path}/ledger.db", tmp_path / "keys"
    deployment = Deployment.open(db, keys)
    old_only = Checkpoint.from_text(split_note(_grow(deployment, 2, "before"))[0])
    # a quorum on the old-key-only checkpoint (the rows a witness round would have stored)
    WitnessingStore(deployment.store.engine).add_cosignature(
        old_only.size,
        StoredCosignature("w.example", "00000000", 1, _cosigned(old_only)),
        "2026-12-07T00:00:00Z",
    )
    deployment.keys.begin_log_rotation()
    _grow(deployment, 1, "during")  # newer, signed by both keys, but not yet witnessed
    deployment = _finish(deployment, db, keys)
    try:
        bundle = build_site_bundle(
            deployment.store,
            "nowhere",
            log_signer=deployment.keys.log_signer(),
            witnesses=(["w.example"], 1),
        )
        open_checkpoint(str(bundle["checkpoint"]), parse_vkey(deployment.keys.log_vkey()))
    finally:
        deployment.store.engine.dispose()
