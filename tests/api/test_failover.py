"""Failover on PostgreSQL's own streaming replication, with real servers (slow tier).

A primary and a synchronous standby; acknowledged writes through a real ``chemtrace serve``;
``kill -9`` of the primary; ``pg_ctl promote`` and ``chemtrace failover promote`` on the
standby; the service pointed at it. Then: verify-log INTACT against a checkpoint signed
before the failover, every acknowledged entry present exactly once at its index, the log
goes on with no gap or fork, and the old primary, restarted, takes no write from any
chemtrace process.
"""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from ledger.canonical import parse_hash
from tests.api._cli import run_cli
from tests.api.live import LiveServer, build_world, wait_for
from tests.servers import PostgresServer, require_postgres_bindir

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def _replicated_pair(base: Path) -> tuple[PostgresServer, PostgresServer]:
    bindir = require_postgres_bindir()
    primary = PostgresServer.start(base / "a", bindir=bindir)
    primary.create_database("ledger")
    backup = base / "base"
    subprocess.run(
        [str(bindir / "pg_basebackup"), "--dbname", primary.libpq_url(), "--pgdata", str(backup),
         "--wal-method=stream", "--checkpoint=fast"],
        check=True, capture_output=True,
    )  # fmt: skip
    conninfo = f"host=127.0.0.1 port={primary.port} user=postgres application_name=standby1"
    standby = PostgresServer.restore(
        base / "b", backup, {"primary_conninfo": conninfo}, standby=True, bindir=bindir
    )
    with primary.connect() as conn:
        conn.execute("ALTER SYSTEM SET synchronous_standby_names = 'standby1'")
        conn.execute("SELECT pg_reload_conf()")
        wait_for(lambda: conn.execute(
            "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'"
        ).fetchone()[0] == 1, timeout=60)  # fmt: skip
    return primary, standby


def _entries(url: str) -> dict[bytes, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT entry_hash, idx FROM log_entry")).all()
    finally:
        engine.dispose()
    found: dict[bytes, int] = {}
    for entry_hash, index in rows:
        assert bytes(entry_hash) not in found, "an entry is in the log twice"
        found[bytes(entry_hash)] = index
    return found


def _verify(url: str, keys: Path, trusted: Path) -> dict[str, Any]:
    ran = run_cli("verify-log", "--db", url, "--keys", str(keys), "--json",
                  "--trusted-checkpoint", str(trusted), cwd=trusted.parent, timeout=300)  # fmt: skip
    assert ran.returncode in (0, 1), ran.stdout + ran.stderr
    report: dict[str, Any] = json.loads(ran.stdout)
    return report


def test_kill_9_the_primary_promote_the_standby_and_fence_the_old_one(tmp_path: Path) -> None:
    primary, standby = _replicated_pair(tmp_path / "pg")
    old_url, new_url = primary.url("ledger"), standby.url("ledger")
    home = tmp_path / "home"
    home.mkdir()
    server = LiveServer(home, old_url, CHEMTRACE_REPLICA_DB=new_url).start(timeout=60)
    try:
        world = build_world(server)
        producer = world.actors["p-chem"]
        codes = world.issue("p-chem", 400)
        envelopes = [world.commission("p-chem", code) for code in codes]
        acknowledged: list[dict[str, Any]] = []

        def load() -> None:
            for envelope in envelopes:
                try:
                    acknowledged.append(producer.client.submit(envelope))
                except Exception:
                    return

        sender = threading.Thread(target=load)
        sender.start()
        wait_for(lambda: len(acknowledged) >= 40, timeout=120)
        # reads go to the standby; one naming a receipt's index sees that write, wherever
        # replay has got to (api/replicas.py)
        for number in range(len(acknowledged) - 5, len(acknowledged)):
            seen = httpx.get(
                f"{server.base_url}/v1/items/{codes[number]}", timeout=10,
                headers={"Authorization": f"Bearer {producer.client.token}",
                         "Chemtrace-Read-After": str(acknowledged[number]["index"])},
            )  # fmt: skip
            assert seen.status_code == 200 and seen.json()["events"] == 1, seen.text
        saved = tmp_path / "before-failover.note"
        wait_for(lambda: int(producer.client.checkpoint().splitlines()[1]) > 0, timeout=30)
        saved.write_text(producer.client.checkpoint())
        wait_for(lambda: len(acknowledged) >= 80, timeout=120)
        primary.kill()  # kill -9, mid-load
        sender.join(60)
        assert len(acknowledged) < len(envelopes), "the kill came too late to interrupt the load"
        server.kill()

        standby.promote()
        promoted = run_cli("failover", "promote", "--db", new_url, "--replica-db", old_url,
                           cwd=home)  # fmt: skip
        assert promoted.returncode == 0, promoted.stdout + promoted.stderr
        assert "generation 2" in promoted.stdout

        report = _verify(new_url, server.keys, saved)
        assert report["intact"] is True, report["faults"]
        entries = _entries(new_url)
        for receipt in acknowledged:  # every acknowledged entry, exactly once, where promised
            assert entries.get(parse_hash(receipt["entry_hash"])) == receipt["index"]

        server.db_url = new_url
        server.env["CHEMTRACE_REPLICA_DB"] = old_url
        server.start(timeout=60)
        later = [producer.client.submit(e) for e in envelopes[len(acknowledged) :]]
        size_before = int(saved.read_text().splitlines()[1])
        wait_for(lambda: int(producer.client.checkpoint().splitlines()[1]) > size_before + 10,
                 timeout=30)  # fmt: skip
        indices = sorted(_entries(new_url).values())
        assert indices == list(range(len(indices))), "the log has a gap"
        assert {r["index"] for r in later}.isdisjoint(r["index"] for r in acknowledged)
        report = _verify(new_url, server.keys, saved)  # the old checkpoint, extended
        assert report["intact"] is True, report["faults"]
        assert report["checkpoints"] >= 2

        # the old primary comes back, standalone (no synchronous standby to wait for)
        primary.restart()
        with primary.connect() as conn:
            conn.execute("ALTER SYSTEM RESET synchronous_standby_names")
            conn.execute("SELECT pg_reload_conf()")
        stale = _entries(old_url)
        fenced = run_cli("checkpoint", "--db", old_url, "--keys", str(server.keys),
                         "--replica-db", new_url, cwd=home)  # fmt: skip
        assert fenced.returncode != 0 and "former primary" in fenced.stderr + fenced.stdout
        revived = LiveServer(tmp_path / "old-home", old_url, CHEMTRACE_REPLICA_DB=new_url)
        (tmp_path / "old-home").mkdir()
        revived.keys.parent.mkdir(parents=True)
        subprocess.run(["cp", "-a", str(server.keys), str(revived.keys)], check=True)
        with pytest.raises(RuntimeError):
            revived.start(timeout=60)
        assert "former primary" in revived.tail()
        revived.close()
        assert _entries(old_url) == stale, "a write landed on the fenced former primary"
        world.close()
    finally:
        server.close()
        standby.close()
        primary.close()
