"""Rotating the log key: both signatures during the handover, a retired key bounded by the
last size it signed for, and an audit that judges each entry by the key valid for it."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import update

from api.deployment import Deployment
from api.keystore import FileKeystore
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
    size, _ = deployment.store.countersign_latest(
        signer=deployment.keys.next_log_signer(),  # type: ignore[arg-type]
        note_name=deployment.keys.origin,
    )
    deployment.keys.finish_log_rotation(size)
    deployment.store.engine.dispose()
    deployment = Deployment.open(db, keys)
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
        size, _ = deployment.store.countersign_latest(
            signer=deployment.keys.next_log_signer(),  # type: ignore[arg-type]
            note_name=deployment.keys.origin,
        )
        deployment.keys.finish_log_rotation(size)
        deployment.store.engine.dispose()
        deployment = Deployment.open(db, keys)
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
