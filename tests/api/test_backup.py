"""Backups and the restore drill: ``chemtrace backup``, a restore, then ``verify-log
--trusted-checkpoint`` with a checkpoint saved outside the database.

A restore that holds everything the saved checkpoint covers is INTACT; one that lost
acknowledged entries is reported as a rollback, never hidden.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from api.backup import BackupError, backup
from api.deployment import Deployment
from ledger.store.audit import SqlAuditSource
from ledger.verify import audit
from tests.api._cli import run_cli

ORG, FORM = "yanshan-chem", "1.1"  # a demo producer and one of its forms


@pytest.fixture(scope="module")
def demo_ledger(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One seeded demo ledger (SQLite file and keystore); tests work on copies."""
    folder = tmp_path_factory.mktemp("demo")
    keys = folder / "keys"
    url = f"sqlite:///{folder / 'demo.db'}"
    seeded = run_cli("demo", "--seed-only", "--db", url, "--keys", str(keys), cwd=folder)
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    return folder / "demo.db", keys


def _seed(demo: tuple[Path, Path], tmp_path: Path) -> tuple[str, Path]:
    database, keys = demo
    shutil.copyfile(database, tmp_path / "live.db")
    shutil.copytree(keys, tmp_path / "keys")
    return f"sqlite:///{tmp_path / 'live.db'}", tmp_path / "keys"


def _save_checkpoint(url: str, keys: Path, path: Path) -> Path:
    signed = run_cli("checkpoint", "--db", url, "--keys", str(keys), cwd=path.parent)
    assert signed.returncode == 0, signed.stdout + signed.stderr
    path.write_text(signed.stdout)
    return path


def _append(url: str, keys: Path, batch: str, count: int = 3) -> None:
    """Acknowledged entries after the backup: a logged code batch."""
    deployment = Deployment.open(url, keys)
    try:
        deployment.issue_codes(ORG, FORM, "cylinder", batch, count, issued_at="2026-12-07")
    finally:
        deployment.store.engine.dispose()


def _verify(url: str, keys: Path, trusted: Path) -> tuple[int, dict[str, Any]]:
    ran = run_cli(
        "verify-log", "--db", url, "--json", "--log-key", str(keys / "log.vkey"),
        "--root-key", str(keys / "root.vkey"), "--trusted-checkpoint", str(trusted),
        cwd=trusted.parent,
    )  # fmt: skip
    assert ran.returncode in (0, 1), ran.stdout + ran.stderr
    return ran.returncode, json.loads(ran.stdout)


def _fault_codes(report: dict[str, Any]) -> set[str]:
    return {fault["code"] for fault in report["faults"]}


def test_sqlite_restore_drill_intact_then_rollback_reported(
    demo_ledger: tuple[Path, Path], tmp_path: Path
) -> None:
    url, keys = _seed(demo_ledger, tmp_path)
    before = _save_checkpoint(url, keys, tmp_path / "before.note")

    taken = run_cli("backup", str(tmp_path / "backups" / "b1.db"), "--db", url, cwd=tmp_path)
    assert taken.returncode == 0, taken.stdout + taken.stderr
    assert "Backed up sqlite to" in taken.stdout
    copy = tmp_path / "backups" / "b1.db"
    assert not copy.with_name("b1.db.partial").exists()
    assert not Path(f"{copy}-wal").exists()

    _append(url, keys, "AFTER1")
    after = _save_checkpoint(url, keys, tmp_path / "after.note")
    assert _verify(url, keys, after)[0] == 0  # the live ledger holds everything

    restored = tmp_path / "restored.db"
    shutil.copyfile(copy, restored)
    restored_url = f"sqlite:///{restored}"
    code, report = _verify(restored_url, keys, before)
    assert code == 0 and report["intact"] is True, report["faults"]

    # the restore lost the acknowledged batch and its checkpoint: a rollback, loudly
    code, report = _verify(restored_url, keys, after)
    assert code == 1 and report["intact"] is False
    assert {"log_truncated", "checkpoint_rolled_back"} <= _fault_codes(report)


def test_backup_while_the_service_writes_is_a_consistent_ledger(
    demo_ledger: tuple[Path, Path], tmp_path: Path
) -> None:
    url, keys = _seed(demo_ledger, tmp_path)
    deployment = Deployment.open(url, keys)
    stop = threading.Event()
    written: list[int] = []

    def writer() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            deployment.issue_codes(ORG, FORM, "drum", f"W{n:04d}", 2, issued_at="2026-12-07")
            written.append(n)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        reports = [backup(url, tmp_path / f"copy{i}.db") for i in range(4)]
    finally:
        stop.set()
        thread.join()
        deployment.store.engine.dispose()
    assert written, "the writer never wrote while the backups ran"
    for report in reports:
        copy = Deployment.open(f"sqlite:///{report.path}", keys, migrate=False)
        try:
            result = audit(SqlAuditSource(copy.store.engine), copy.trusted_keys())
        finally:
            copy.store.engine.dispose()
        assert result.intact, [f.code for f in result.faults]
        assert result.entries == report.entries


def test_backup_refusals_have_stable_codes(tmp_path: Path) -> None:
    existing = tmp_path / "exists.db"
    existing.write_bytes(b"")
    with pytest.raises(BackupError) as refused:
        backup(f"sqlite:///{tmp_path / 'any.db'}", existing)
    assert refused.value.code == "backup_exists"
    with pytest.raises(BackupError) as missing:
        backup(f"sqlite:///{tmp_path / 'missing.db'}", tmp_path / "b.db")
    assert missing.value.code == "database_missing"
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(BackupError) as foreign:
        backup(f"sqlite:///{other}", tmp_path / "c.db")
    assert foreign.value.code == "not_a_ledger"
    assert not (tmp_path / "c.db").exists() and not (tmp_path / "c.db.partial").exists()
    ran = run_cli("backup", str(existing), "--db", f"sqlite:///{other}", cwd=tmp_path)
    assert ran.returncode == 2 and "backup_exists" in ran.stderr
