"""The ``chemtrace`` command line, run as a real subprocess: demo seeding and verify-log."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from ledger.checkpoint import open_checkpoint
from ledger.note import parse_vkey
from tests.api._cli import run_cli

SEEDED = re.compile(
    r"Seeded (\d+) events on (\d+) items "
    r"\(\+(\d+) key certificates, (\d+) code batches,\s+(\d+) licences, (\d+) registry records\)"
)
ORIGIN = "chemtrace.dev/ledger"  # api.keystore.DEFAULT_ORIGIN


def _seeded(stdout: str) -> tuple[int, int, int, int]:
    match = SEEDED.search(stdout)
    assert match, stdout
    events, items, certificates, batches, licences, records = (int(g) for g in match.groups())
    return events, items, certificates, batches + licences + records + 1  # +1: the admin user


def _note(stdout: str) -> str:
    """The signed note printed after ``Checkpoint:``."""
    _, _, after = stdout.partition("Checkpoint:\n")
    assert after, stdout
    return after.strip("\n") + "\n"


def _log_state(url: str) -> tuple[int, int, int, int]:
    """``(size, checkpoint_size, max stored checkpoint size, log entries)``."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            size, checkpoint_size = conn.execute(
                text("SELECT size, checkpoint_size FROM log_state")
            ).one()
            newest = conn.execute(text("SELECT max(size) FROM checkpoint")).scalar_one()
            entries = conn.execute(text("SELECT count(*) FROM log_entry")).scalar_one()
    finally:
        engine.dispose()
    return size, checkpoint_size, newest, entries


def _seed_and_verify(url: str, tmp_path: Path) -> tuple[int, str]:
    keys = tmp_path / "keys"
    seeded = run_cli("demo", "--seed-only", "--db", url, "--keys", str(keys), cwd=tmp_path)
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    events, items, certificates, batches = _seeded(seeded.stdout)
    # code batches + licences + registry records + the admin user
    assert (events, items, certificates, batches) == (696, 246, 18, 48 + 8 + 41 + 1)
    assert "INTACT" not in seeded.stdout  # --seed-only does not audit
    note = _note(seeded.stdout)
    entries = events + certificates + batches

    verified = run_cli("verify-log", "--db", url, "--keys", str(keys), cwd=tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "INTACT" in verified.stdout

    report_run = run_cli("verify-log", "--db", url, "--keys", str(keys), "--json", cwd=tmp_path)
    assert report_run.returncode == 0
    report = json.loads(report_run.stdout)
    assert report["intact"] is True
    assert (report["entries"], report["events"], report["certificates"]) == (
        entries,
        events,
        certificates,
    )
    assert report["items"] == items
    assert report["checkpoints"] == 1
    assert report["faults"] == []

    # The checkpoint printed by the seeder covers every entry and is the tree the auditor
    # rebuilt; an auditor pinning only the published vkeys and that note agrees.
    checkpoint = open_checkpoint(note, parse_vkey((keys / "log.vkey").read_text().strip()))
    assert checkpoint.origin == ORIGIN
    assert checkpoint.size == entries
    assert "sha256:" + checkpoint.root_hash.hex() == report["root_hash"]
    (tmp_path / "trusted.note").write_text(note)
    pinned = run_cli(
        "verify-log", "--db", url, "--json",
        "--log-key", str(keys / "log.vkey"), "--root-key", str(keys / "root.vkey"),
        "--trusted-checkpoint", str(tmp_path / "trusted.note"),
        cwd=tmp_path,
    )  # fmt: skip
    assert pinned.returncode == 0, pinned.stdout + pinned.stderr
    assert json.loads(pinned.stdout)["intact"] is True
    return entries, note


def test_demo_seed_only_then_verify_log_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'data' / 'demo.db'}"
    entries, _ = _seed_and_verify(url, tmp_path)
    assert _log_state(url) == (entries, entries, entries, entries)
    assert not (tmp_path / "var").exists()  # --db and --keys were honoured


@pytest.mark.postgres
def test_demo_seed_only_then_verify_log_on_postgres(postgres_database: str, tmp_path: Path) -> None:
    entries, note = _seed_and_verify(postgres_database, tmp_path)
    size, checkpoint_size, newest, stored = _log_state(postgres_database)
    assert size == checkpoint_size == newest == stored == entries
    assert f"\n{size}\n" in note


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_demo_in_a_fresh_folder_uses_var_and_does_not_seed_twice(tmp_path: Path) -> None:
    first = run_cli("demo", "--no-serve", cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "INTACT" in first.stdout
    assert "DAMAGED" not in first.stdout
    events, _, certificates, batches = _seeded(first.stdout)

    database = tmp_path / "var" / "chemtrace.db"
    keys = tmp_path / "var" / "keys"
    assert database.is_file()
    assert _mode(keys) == 0o700
    private = sorted(keys.glob("*.pem"))
    names = {p.name for p in private}
    assert {"root.pem", "log.pem", "org-pku-lab.pem", "device-pku-lab-handheld-1.pem"} <= names
    assert len(private) == 2 + 2 * 9  # root, log, and an org and a device key per org
    for path in [*private, keys / "keystore.json"]:
        assert _mode(path) == 0o600, f"{path.name} is {oct(_mode(path))}"
    for public in ("root.vkey", "log.vkey"):  # public halves, for --root-key / --log-key
        parse_vkey((keys / public).read_text().strip())
    url = f"sqlite:///{database}"
    assert _log_state(url)[0] == events + certificates + batches

    second = run_cli("demo", "--no-serve", cwd=tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "already holds a ledger; not seeding it again" in second.stdout
    assert SEEDED.search(second.stdout) is None
    assert "INTACT" in second.stdout
    assert _log_state(url) == (events + certificates + batches,) * 4
    assert sorted(keys.glob("*.pem")) == private  # no new keys either

    report = run_cli("verify-log", "--json", cwd=tmp_path)  # the defaults: ./var
    assert report.returncode == 0, report.stdout + report.stderr
    parsed = json.loads(report.stdout)
    assert (parsed["entries"], parsed["checkpoints"]) == (events + certificates + batches, 1)
