"""The findings worker's engine snapshots on a real (simulated) ledger: a restart from a
snapshot reaches exactly the state and findings of a full replay, and a snapshot that was
tampered with, sealed under another key, made under other rules, or bound to another ledger
is refused (logged) and the worker replays from zero instead, still finding everything."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine as Sql
from sqlalchemy import text

from api.anomaly import FindingsWorker, new_engine, rescan
from api.engine_snapshots import KEY_NAME, EngineSnapshots, SnapshotPolicy
from api.keystore import FileKeystore
from ledger.rules import Engine, Finding
from ledger.rules.snapshot import canonical_state, seal
from ledger.store.engine import make_engine
from ledger.store.findings import FindingStore
from ledger.timefmt import parse_utc
from sim.simulator import simulate
from tests.ledger.rules.scenario import rules_config

KEY = b"k" * 32


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sim")
    path = folder / "ledger.db"
    simulate(f"sqlite:///{path}", items=40, seed=5, anomaly_rate=0.3,
             labels=folder / "labels.jsonl", keys=folder / "keys")  # fmt: skip
    return path


@pytest.fixture
def ledger(simulated: Path, tmp_path: Path) -> Iterator[Sql]:
    path = tmp_path / "ledger.db"
    # the backup API, not a file copy: a copy of the main file misses what is still in -wal
    with sqlite3.connect(simulated) as source, sqlite3.connect(path) as target:
        source.backup(target)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


def _clock(store: FindingStore) -> Clock:
    _, last = store.log_end()
    assert last is not None
    return Clock(parse_utc(last) + timedelta(days=2))


def _worker(
    store: FindingStore, clock: Clock, folder: Path, *, key: bytes = KEY, every: int = 150,
    make: object = new_engine,
) -> FindingsWorker:  # fmt: skip
    snapshots = EngineSnapshots(store, SnapshotPolicy(folder, every_entries=every, keep=50), key)
    return FindingsWorker(store, make, grace_s=0, clock=clock, page=100,  # type: ignore[arg-type]
                          snapshots=snapshots)  # fmt: skip


def _run(worker: FindingsWorker, steps: int | None = None) -> None:
    """Step the worker ``steps`` times, or until it has caught up."""
    done = 0
    while steps is None or done < steps:
        worker.step()
        done += 1
        engine = worker.engine
        assert engine is not None
        if steps is None and engine.position == worker._store.log_end()[0]:
            worker.step()
            return


def _by_id(found: list[Finding]) -> dict[str, Finding]:
    # the finding table keeps no ``supersedes`` on this base: compare what it stores
    return {f.id: replace(f, supersedes=()) for f in found}


def _replayed(store: FindingStore) -> Engine:
    """A fresh engine replayed from zero to the saved cursor (a restart without snapshots)."""
    worker = FindingsWorker(store, new_engine, grace_s=0)
    return worker._rebuild()


def _restart(store: FindingStore, clock: Clock, folder: Path, **kw: object) -> FindingsWorker:
    worker = _worker(store, clock, folder, **kw)  # type: ignore[arg-type]
    worker._rebuild()
    return worker


def test_a_restart_from_a_snapshot_equals_a_full_replay_and_finds_the_same(
    ledger: Sql, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = FindingStore(ledger)
    clock, folder = _clock(store), tmp_path / "snaps"
    first = _worker(store, clock, folder)
    _run(first, steps=5)  # 500 entries read: snapshots at 199 and 399, the cursor at 499
    written = sorted(folder.glob("engine-*.snap"))
    assert written and not list(folder.glob(".*"))  # atomic: no temporary file left behind
    cursor = store.cursor()
    newest = int(written[-1].stem.split("-")[1])
    assert 0 < newest < cursor.log_position

    caplog.set_level(logging.INFO, logger="chemtrace.findings")
    again = _restart(store, clock, folder)
    assert f"restored from snapshot {written[-1].name}" in caplog.text
    assert again.engine is not None and again.engine.position == cursor.log_position
    assert canonical_state(again.engine) == canonical_state(_replayed(store))

    saved_before = {f.id for f in store.all_findings()}
    _run(again)
    online = store.all_findings()
    batch = rescan(FindingStore(ledger), new_engine(), as_of=parse_utc(store.cursor().clock))
    assert _by_id(batch) == _by_id(online)
    assert saved_before <= {f.id for f in online}
    assert len(online) == len({f.id for f in online})


def _tampered_restart(
    ledger: Sql, folder: Path, caplog: pytest.LogCaptureFixture, **restart: object
) -> FindingsWorker:
    store = FindingStore(ledger)
    clock = _clock(store)
    _run(_worker(store, clock, folder), steps=3)
    caplog.set_level(logging.INFO, logger="chemtrace.findings")
    worker = _restart(store, clock, folder, **restart)
    assert "restored from snapshot" not in caplog.text
    assert worker.engine is not None
    assert canonical_state(worker.engine) == canonical_state(_replayed(store))
    _run(worker)
    batch = rescan(FindingStore(ledger), new_engine(), as_of=parse_utc(store.cursor().clock))
    assert _by_id(batch) == _by_id(store.all_findings())
    return worker


def _flip_every(folder: Path, offset: int) -> None:
    for path in folder.glob("engine-*.snap"):
        data = bytearray(path.read_bytes())
        data[offset] ^= 0x40
        path.write_bytes(bytes(data))


@pytest.mark.parametrize("offset", [-1, -100, 40])
def test_a_flipped_byte_is_refused_and_the_worker_replays_from_zero(
    ledger: Sql, tmp_path: Path, caplog: pytest.LogCaptureFixture, offset: int
) -> None:
    folder = tmp_path / "snaps"
    store = FindingStore(ledger)
    _run(_worker(store, _clock(store), folder), steps=3)
    _flip_every(folder, offset)
    caplog.clear()
    worker = _restart(store, _clock(store), folder)
    assert "refused (bad_mac" in caplog.text
    assert worker.engine is not None
    assert canonical_state(worker.engine) == canonical_state(_replayed(store))


def test_another_deployments_key_is_refused(
    ledger: Sql, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _tampered_restart(ledger, tmp_path / "snaps", caplog, key=b"o" * 32)
    assert "refused (bad_mac" in caplog.text


def test_a_snapshot_made_under_other_rules_is_refused(
    ledger: Sql, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    other = rules_config(transport={"slack_hours": "2.01"})
    store = FindingStore(ledger)
    clock, folder = _clock(store), tmp_path / "snaps"
    _run(_worker(store, clock, folder), steps=3)
    caplog.set_level(logging.INFO, logger="chemtrace.findings")
    worker = _restart(store, clock, folder, make=lambda: new_engine(other))
    assert "refused (rules_changed" in caplog.text and "restored from" not in caplog.text
    assert worker.engine is not None and worker.engine.config == other


def test_a_snapshot_bound_to_another_leaf_is_refused(
    ledger: Sql, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Even sealed with the right key: the ledger no longer holds what it was bound to."""
    folder = tmp_path / "snaps"
    store = FindingStore(ledger)
    _run(_worker(store, _clock(store), folder), steps=3)
    snapshots = EngineSnapshots(store, SnapshotPolicy(folder), KEY)
    for path in snapshots.paths():
        loaded = snapshots.open(path, new_engine)
        path.write_bytes(seal(loaded.engine, replace(loaded.binding, leaf_hash="00" * 32), KEY))
    caplog.set_level(logging.INFO, logger="chemtrace.findings")
    worker = _restart(store, _clock(store), folder)
    assert "refused (ledger_differs" in caplog.text and "restored from" not in caplog.text
    assert worker.engine is not None
    assert canonical_state(worker.engine) == canonical_state(_replayed(store))


def test_a_snapshot_of_another_ledger_is_refused(
    ledger: Sql, simulated: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A snapshot of a ledger of the same length but other entries (another deployment's
    log, or this log rewritten) names a leaf this ledger does not hold at that index."""
    other_path = tmp_path / "other.db"
    simulate(f"sqlite:///{other_path}", items=40, seed=6, anomaly_rate=0.3,
             labels=tmp_path / "other.jsonl", keys=tmp_path / "other-keys")  # fmt: skip
    other = make_engine(f"sqlite:///{other_path}")
    try:
        store = FindingStore(other)
        _run(_worker(store, _clock(store), tmp_path / "snaps"), steps=3)
    finally:
        other.dispose()
    mine = FindingStore(ledger)
    caplog.set_level(logging.INFO, logger="chemtrace.findings")
    worker = _restart(mine, _clock(mine), tmp_path / "snaps")
    assert "refused (ledger_differs" in caplog.text
    assert worker.engine is not None and worker.engine.position == -1


def test_a_snapshot_ahead_of_the_cursor_is_not_used(
    ledger: Sql, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = FindingStore(ledger)
    clock, folder = _clock(store), tmp_path / "snaps"
    _run(_worker(store, clock, folder), steps=3)
    ahead = store.cursor().log_position
    reset = replace(store.cursor(), log_position=100)  # the cursor went back (a restore)
    store.save([], reset)
    caplog.set_level(logging.INFO, logger="chemtrace.findings")
    worker = _restart(store, clock, folder)
    assert "ahead of the saved cursor 100" in caplog.text
    assert worker.engine is not None and worker.engine.position == 100 < ahead


def test_the_periodic_check_keeps_a_true_snapshot_and_discards_a_false_one(
    ledger: Sql, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = FindingStore(ledger)
    folder = tmp_path / "snaps"
    _run(_worker(store, _clock(store), folder), steps=3)
    snapshots = EngineSnapshots(store, SnapshotPolicy(folder), KEY)
    true_one = snapshots.paths()[0]
    assert snapshots.verify(true_one, new_engine)

    loaded = snapshots.open(true_one, new_engine)
    loaded.engine.state.registry.records.popitem()  # a record the worker could not forget
    true_one.write_bytes(seal(loaded.engine, loaded.binding, KEY))
    caplog.set_level(logging.INFO, logger="chemtrace.findings")
    assert not snapshots.verify(true_one, new_engine)
    assert "DIFFERS FROM A FULL REPLAY" in caplog.text and not true_one.exists()


def test_the_worker_checks_every_nth_snapshot_when_asked(
    ledger: Sql, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = FindingStore(ledger)
    folder = tmp_path / "snaps"
    policy = SnapshotPolicy(folder, every_entries=150, verify_every=2)
    worker = FindingsWorker(store, new_engine, grace_s=0, clock=_clock(store), page=100,
                            snapshots=EngineSnapshots(store, policy, KEY))  # fmt: skip
    caplog.set_level(logging.INFO, logger="chemtrace.findings")
    _run(worker, steps=4)
    assert caplog.text.count("matches a full replay") == 1


def test_a_snapshot_taken_at_an_entry_that_is_no_rule_fact_matches_a_full_replay(
    ledger: Sql, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A code batch judges nothing, yet the worker's position moves onto it: a full replay to
    that position must end there too (it stopped at the fact before, and every such snapshot
    was called false: the CI flake of `every_nth` above, whenever entry 399 was a batch)."""
    with ledger.connect() as conn:
        batch = conn.execute(
            text("SELECT min(idx) FROM log_entry WHERE kind = 'code_batch' AND idx > 100")
        ).scalar_one()
    store = FindingStore(ledger)
    policy = SnapshotPolicy(tmp_path / "snaps", every_entries=1, verify_every=1)
    worker = FindingsWorker(store, new_engine, grace_s=0, clock=_clock(store), page=batch + 1,
                            snapshots=EngineSnapshots(store, policy, KEY))  # fmt: skip
    caplog.set_level(logging.INFO, logger="chemtrace.findings")
    worker.step()
    assert worker.engine is not None and worker.engine.position == batch
    assert f"engine-{batch:012d}.snap matches a full replay" in caplog.text


def test_old_snapshots_are_pruned(ledger: Sql, tmp_path: Path) -> None:
    store = FindingStore(ledger)
    folder = tmp_path / "snaps"
    snapshots = EngineSnapshots(store, SnapshotPolicy(folder, every_entries=100, keep=2), KEY)
    worker = FindingsWorker(store, new_engine, grace_s=0, clock=_clock(store), page=100,
                            snapshots=snapshots)  # fmt: skip
    _run(worker, steps=5)
    assert len(snapshots.paths()) == 2


def test_the_snapshot_key_is_private_and_stable(tmp_path: Path) -> None:
    keys = FileKeystore(tmp_path / "keys")
    key = keys.secret(KEY_NAME)
    assert len(key) == 32 and keys.secret(KEY_NAME) == key
    assert (tmp_path / "keys" / f"{KEY_NAME}.key").stat().st_mode & 0o077 == 0
    assert FileKeystore(tmp_path / "other").secret(KEY_NAME) != key


def test_verify_snapshot_on_the_cli_passes_a_true_one_and_fails_a_tampered_one(
    ledger: Sql, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from api.cli_findings import app

    keys, folder = tmp_path / "keys", tmp_path / "snaps"
    store = FindingStore(ledger)
    _run(_worker(store, _clock(store), folder, key=FileKeystore(keys).secret(KEY_NAME)), steps=3)
    args = ["verify-snapshot", "--db", str(ledger.url), "--snapshots", str(folder),
            "--keys", str(keys)]  # fmt: skip
    passed = CliRunner().invoke(app, args)
    assert passed.exit_code == 0, passed.output
    assert "1 of 1 snapshot(s) match" in passed.output
    _flip_every(folder, -1)
    failed = CliRunner().invoke(app, args)
    assert failed.exit_code == 1 and "0 of 1" in failed.output
    assert not list(folder.glob("engine-*.snap"))


def test_the_server_passes_the_snapshot_folder_and_keystore_to_its_worker(tmp_path: Path) -> None:
    from api.anomaly import worker_command

    command = worker_command("sqlite:///x.db", None, None, "ns", 0.25,
                             snapshots=tmp_path / "s", keys=tmp_path / "k")  # fmt: skip
    assert command[-4:] == ["--snapshots", str(tmp_path / "s"), "--keys", str(tmp_path / "k")]
    assert "--snapshots" not in worker_command("sqlite:///x.db", None, None, "ns", 0.25)


def test_a_failed_snapshot_write_does_not_stop_the_worker(
    ledger: Sql, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = FindingStore(ledger)
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the snapshot folder should be")
    worker = _worker(store, _clock(store), blocked)
    _run(worker, steps=3)
    assert "could not write an engine snapshot" in caplog.text
    assert store.cursor().log_position == 299
