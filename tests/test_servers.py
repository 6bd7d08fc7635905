"""The test tooling itself: real PostgreSQL and Redis servers start, serve, crash and recover."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from sqlalchemy import create_engine, text

import tests.servers
from tests.servers import (
    PostgresServer,
    RedisServer,
    find_postgres_bindir,
    pick_free_port,
    require_postgres_bindir,
    require_redis_server,
    to_libpq_url,
)


@pytest.fixture
def private_postgres(tmp_path: Path) -> Iterator[PostgresServer]:
    """A server of this test's own, which it may kill (never kill the session one)."""
    bindir = require_postgres_bindir()
    with PostgresServer.start(tmp_path / "pg", bindir=bindir) as server:
        yield server


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    binary = require_redis_server()
    with RedisServer.start(tmp_path / "redis", binary=binary) as server:
        yield server


@pytest.fixture
def taken_port(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """A port someone else listens on, handed out first by pick_free_port (a lost race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = int(squatter.getsockname()[1])
        ports = iter([port])
        monkeypatch.setattr(tests.servers, "pick_free_port", lambda: next(ports, pick_free_port()))
        yield port


@pytest.mark.parametrize("ci", [False, True])
def test_missing_binary_skips_or_fails_in_ci(monkeypatch: pytest.MonkeyPatch, ci: bool) -> None:
    monkeypatch.setattr(tests.servers, "find_redis_server", lambda: None)
    monkeypatch.setattr("tests.conftest.IN_CI", ci)
    expected = pytest.fail.Exception if ci else pytest.skip.Exception
    with pytest.raises(expected, match="redis-server not found"):
        require_redis_server()


def test_find_postgres_bindir_has_the_server_tools() -> None:
    bindir = find_postgres_bindir()
    if bindir is None:
        pytest.skip("no PostgreSQL installed")
    for tool in ("initdb", "pg_ctl", "postgres"):
        assert (bindir / tool).is_file()


def test_to_libpq_url() -> None:
    assert to_libpq_url("postgresql+psycopg://postgres@127.0.0.1:5/db") == (
        "postgresql://postgres@127.0.0.1:5/db"
    )


@pytest.mark.postgres
def test_postgres_server_listens_on_loopback_only(postgres_server: PostgresServer) -> None:
    assert postgres_server.url("x") == (
        f"postgresql+psycopg://postgres@127.0.0.1:{postgres_server.port}/x"
    )
    with postgres_server.connect() as conn:
        settings = dict(
            conn.execute(
                "SELECT name, setting FROM pg_settings WHERE name IN "
                "('listen_addresses', 'fsync', 'max_connections', 'server_encoding', 'lc_collate')"
            ).fetchall()
        )
        user = conn.execute("SELECT current_user").fetchone()
    assert settings == {
        "listen_addresses": "127.0.0.1",
        "fsync": "off",
        "max_connections": "200",
        "server_encoding": "UTF8",
        "lc_collate": "C",
    }
    assert user == ("postgres",)
    if os.geteuid() == 0:
        # PostgreSQL refuses root: the tooling runs it as an unprivileged system user
        pid = postgres_server.pid
        assert pid is not None
        assert os.stat(f"/proc/{pid}").st_uid != 0


@pytest.mark.postgres
def test_two_databases_via_psycopg_and_sqlalchemy(
    postgres_database: str, postgres_database_factory: Callable[..., str]
) -> None:
    other = postgres_database_factory("other")
    assert other != postgres_database

    with psycopg.connect(to_libpq_url(postgres_database)) as conn:
        conn.execute("CREATE TABLE t (v text)")
        conn.execute("INSERT INTO t VALUES ('first')")
        row = conn.execute("SELECT current_database(), count(*) FROM t").fetchone()
    assert row is not None
    assert row[1] == 1

    engine = create_engine(other)
    try:
        with engine.begin() as sa:
            sa.execute(text("CREATE TABLE t (v text)"))
            assert sa.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
            db = sa.execute(text("SELECT current_database()")).scalar_one()
    finally:
        engine.dispose()
    assert db != row[0]  # separate, empty databases


@pytest.mark.postgres
def test_databases_are_dropped_after_use(postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database("ct_dropme")
    conn = psycopg.connect(to_libpq_url(url))  # left open on purpose: drop terminates it
    try:
        postgres_server.drop_database("ct_dropme")
    finally:
        conn.close()
    with postgres_server.connect() as admin:
        rows = admin.execute("SELECT 1 FROM pg_database WHERE datname = 'ct_dropme'").fetchall()
    assert rows == []


@pytest.mark.postgres
def test_postgres_survives_kill_9_and_restart(private_postgres: PostgresServer) -> None:
    url = private_postgres.create_database("durable")
    with psycopg.connect(to_libpq_url(url), autocommit=True) as conn:
        conn.execute("CREATE TABLE events (id int PRIMARY KEY, body text NOT NULL)")
        conn.execute("INSERT INTO events VALUES (1, 'committed before the crash')")

    old_pid = private_postgres.pid
    assert old_pid is not None
    private_postgres.kill()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(to_libpq_url(url), connect_timeout=2)

    private_postgres.restart()  # crash recovery replays the WAL
    assert private_postgres.pid not in (None, old_pid)
    engine = create_engine(url)
    try:
        with engine.connect() as sa:
            rows = sa.execute(text("SELECT id, body FROM events")).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in rows] == [(1, "committed before the crash")]

    private_postgres.stop()  # a clean stop and start keeps the data too
    private_postgres.restart()
    with psycopg.connect(to_libpq_url(url)) as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone() == (1,)


@pytest.mark.postgres
def test_postgres_start_retries_on_a_taken_port(tmp_path: Path, taken_port: int) -> None:
    with PostgresServer.start(tmp_path / "pg", bindir=require_postgres_bindir()) as server:
        assert server.port != taken_port
        with server.connect() as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)


def test_redis_start_retries_on_a_taken_port(tmp_path: Path, taken_port: int) -> None:
    with RedisServer.start(tmp_path / "redis", binary=require_redis_server()) as server:
        assert server.port != taken_port
        client = redis.Redis.from_url(server.url)
        try:
            assert client.ping()
        finally:
            client.close()


def test_redis_set_get(redis_server: RedisServer) -> None:
    assert redis_server.url == f"redis://127.0.0.1:{redis_server.port}/0"
    client = redis.Redis.from_url(redis_server.url)
    try:
        client.set("chemtrace:test", "value")
        assert client.get("chemtrace:test") == b"value"
    finally:
        client.delete("chemtrace:test")
        client.close()


def test_redis_kill_and_restart(private_redis: RedisServer) -> None:
    client = redis.Redis.from_url(private_redis.url, socket_timeout=5)
    try:
        client.set("k", "before")
        old_pid = private_redis.pid
        private_redis.kill()
        with pytest.raises(redis.ConnectionError):
            client.get("k")

        private_redis.restart()
        assert private_redis.pid not in (None, old_pid)
        assert client.get("k") is None  # persistence is off: a crash loses everything
        client.set("k", "after")
        assert client.get("k") == b"after"
    finally:
        client.close()
