"""Online backups of a live ledger: a consistent copy taken while the service writes.

Replicas are not backups: a standby replays a mistaken bulk delete or a corrupted page at
once. A backup is a copy frozen at one moment, and what restoring it can lose is exactly
what an auditor's saved checkpoint exposes: ``verify-log --trusted-checkpoint`` on a
restored copy that lacks acknowledged entries reports ``log_truncated`` and
``checkpoint_rolled_back`` instead of INTACT.

- SQLite: SQLite's online backup API, from a read-only connection, into a temporary file
  that is checked (``PRAGMA integrity_check``), flushed and then renamed into place, so a
  crash never leaves a half-written backup under the final name.
- PostgreSQL: ``pg_basebackup`` (a physical base backup with the WAL it needs, verified
  with ``pg_verifybackup``). Point-in-time recovery needs the server's WAL archive as
  well; docs/operations.md says how to configure it and how to restore.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from glob import glob
from pathlib import Path
from typing import Literal

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

__all__ = ["BackupError", "BackupReport", "backup"]


class BackupError(Exception):
    """A backup that could not be taken; ``code`` is stable, for scripts."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class BackupReport:
    kind: Literal["sqlite", "postgresql"]
    path: Path
    entries: int
    """SQLite: the log entries in the copy. PostgreSQL: the entries acknowledged before the
    base backup began, all of which it holds (it may hold more)."""
    checkpoint_size: int
    bytes: int


def backup(url: str, out: Path) -> BackupReport:
    """Copy the live ledger at ``url`` to ``out`` (a file for SQLite, a new directory for
    PostgreSQL). ``out`` must not exist: a backup never overwrites another."""
    if out.exists():
        raise BackupError("backup_exists", f"{out} exists; a backup never overwrites one")
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise BackupError("unsupported_database", "an in-memory SQLite has nothing to back up")
        source = Path(parsed.database)
        if not source.is_file():
            raise BackupError("database_missing", f"no database at {source}")
        return _sqlite(source, out)
    if backend == "postgresql":
        return _postgres(url, out)
    raise BackupError("unsupported_database", f"cannot back up a {backend} database")


def _log_state(conn: sqlite3.Connection) -> tuple[int, int]:
    try:
        row = conn.execute("SELECT size, checkpoint_size FROM log_state").fetchone()
    except sqlite3.DatabaseError as exc:
        raise BackupError("not_a_ledger", f"the database holds no ledger: {exc}") from exc
    if row is None:
        raise BackupError("not_a_ledger", "the database holds no log state")
    return int(row[0]), int(row[1])


def _sqlite(source: Path, out: Path) -> BackupReport:
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    try:
        _log_state(src)
        dst = sqlite3.connect(partial)
        try:
            # one step (pages=-1): the copy is the database at a single moment, whatever the
            # service writes meanwhile
            src.backup(dst, pages=-1)
            verdict = dst.execute("PRAGMA integrity_check").fetchone()
            if verdict is None or verdict[0] != "ok":
                raise BackupError("backup_corrupt", f"the copy failed integrity_check: {verdict}")
            entries, checkpoint_size = _log_state(dst)
            # the copy must not need a -wal beside it
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        src.close()
    _fsync(partial)
    os.replace(partial, out)
    _fsync(out.parent)
    return BackupReport("sqlite", out, entries, checkpoint_size, out.stat().st_size)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _pg_tool(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if found is None:
        raise BackupError(
            "tool_missing", f"{name} not found (Debian: apt-get install postgresql-client)"
        )
    return found


def _postgres(url: str, out: Path) -> BackupReport:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            entries, checkpoint_size = conn.execute(
                text("SELECT size, checkpoint_size FROM log_state")
            ).one()
    finally:
        engine.dispose()
    libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    command = [
        _pg_tool("pg_basebackup"), "--dbname", libpq, "--pgdata", str(out),
        "--wal-method=stream", "--checkpoint=fast", "--no-password",
        "--label", "chemtrace backup",
    ]  # fmt: skip
    try:
        _run(command, "pg_basebackup")
        _run([_pg_tool("pg_verifybackup"), str(out)], "pg_verifybackup")
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)  # it did not exist before: never a half backup
        raise
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return BackupReport("postgresql", out, int(entries), int(checkpoint_size), size)


def _run(command: list[str], what: str) -> None:
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 (fixed PostgreSQL tools)
    except OSError as exc:
        raise BackupError("tool_failed", f"{what} could not start: {exc}") from exc
    if result.returncode != 0:
        raise BackupError("tool_failed", f"{what} failed: {result.stderr.strip()[-2000:]}")
