"""The PostgreSQL restore drill (slow tier): a base backup with ``chemtrace backup``, WAL
archiving, then point-in-time recovery into a new server, judged by ``verify-log
--trusted-checkpoint`` with checkpoints saved outside the database.

- recovered to a time after the middle checkpoint: INTACT against it;
- the same restore against a checkpoint signed later: a rollback (``log_truncated``,
  ``checkpoint_rolled_back``), never hidden;
- recovered to the end of the archive: INTACT against the newest checkpoint.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.api._cli import run_cli
from tests.api.test_backup import _append, _fault_codes, _save_checkpoint, _verify
from tests.servers import PostgresServer, require_postgres_bindir

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def _archiving_primary(base: Path) -> tuple[PostgresServer, Path]:
    primary = PostgresServer.start(base, bindir=require_postgres_bindir())
    archive = primary.run_dir / "archive"
    archive.mkdir()
    primary._chown(archive)
    with primary.connect() as conn:
        conn.execute("ALTER SYSTEM SET archive_mode = 'on'")
        conn.execute(
            f"ALTER SYSTEM SET archive_command = 'test ! -f {archive}/%f && cp %p {archive}/%f'"
        )
    primary.restart()
    return primary, archive


def _archive_current_wal(primary: PostgresServer) -> None:
    """Close the current WAL segment and wait until the archiver has copied it."""
    with primary.connect() as conn:
        segment = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()[0]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done = conn.execute("SELECT last_archived_wal FROM pg_stat_archiver").fetchone()[0]
            if done is not None and done >= segment:
                return
            time.sleep(0.2)
    raise AssertionError(f"WAL segment {segment} was not archived")


def _wait_promoted(server: PostgresServer) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with server.connect() as conn:
            if not conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                return
        time.sleep(0.2)
    raise AssertionError("the restored server never left recovery")


def test_postgres_point_in_time_restore_drill(tmp_path: Path) -> None:
    primary, archive = _archiving_primary(tmp_path / "primary")
    restored: list[PostgresServer] = []
    try:
        url = primary.create_database("ledger")
        keys = tmp_path / "keys"
        seeded = run_cli("demo", "--seed-only", "--db", url, "--keys", str(keys), cwd=tmp_path)
        assert seeded.returncode == 0, seeded.stdout + seeded.stderr
        before = _save_checkpoint(url, keys, tmp_path / "before.note")

        taken = run_cli("backup", str(tmp_path / "base"), "--db", url, cwd=tmp_path)
        assert taken.returncode == 0, taken.stdout + taken.stderr
        assert "Backed up postgresql to" in taken.stdout

        _append(url, keys, "MID1")
        middle = _save_checkpoint(url, keys, tmp_path / "middle.note")
        time.sleep(1.1)
        with primary.connect() as conn:
            target = conn.execute("SELECT now()::text").fetchone()[0]
        time.sleep(1.1)
        _append(url, keys, "LATE1")
        after = _save_checkpoint(url, keys, tmp_path / "after.note")
        _archive_current_wal(primary)

        restore = f"cp {archive}/%f %p"
        to_target = PostgresServer.restore(
            tmp_path / "pitr", tmp_path / "base",
            {"restore_command": restore, "recovery_target_time": target,
             "recovery_target_action": "promote"},
        )  # fmt: skip
        restored.append(to_target)
        _wait_promoted(to_target)
        at_target = to_target.url("ledger")
        for trusted in (before, middle):
            code, report = _verify(at_target, keys, trusted)
            assert code == 0 and report["intact"] is True, (trusted.name, report["faults"])
        code, report = _verify(at_target, keys, after)
        assert code == 1 and report["intact"] is False
        assert {"log_truncated", "checkpoint_rolled_back"} <= _fault_codes(report)

        to_end = PostgresServer.restore(
            tmp_path / "full", tmp_path / "base", {"restore_command": restore}
        )
        restored.append(to_end)
        _wait_promoted(to_end)
        code, report = _verify(to_end.url("ledger"), keys, after)
        assert code == 0 and report["intact"] is True, report["faults"]
    finally:
        for server in restored:
            server.close()
        primary.close()
