"""Live servers for the end-to-end tests: SQLite without Redis, and PostgreSQL with Redis."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.api.live import BACKENDS, LiveServer, World, build_world


@pytest.fixture
def start_server(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[..., LiveServer]]:
    """``start(backend, **env)``: a fresh database and a running server on it."""
    started: list[LiveServer] = []

    def start(backend: str, **env: str) -> LiveServer:
        home = tmp_path / f"home{len(started)}"
        home.mkdir()
        if backend == "sqlite":
            server = LiveServer(home, f"sqlite:///{home}/var/chemtrace.db", **env)
        else:
            url = request.getfixturevalue("postgres_database_factory")("e2e")
            redis = request.getfixturevalue("redis_server")
            server = LiveServer(home, url, redis.url, **env)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server(start_server: Callable[..., LiveServer], backend: str) -> LiveServer:
    return start_server(backend)


@pytest.fixture
def world(server: LiveServer) -> Iterator[World]:
    world = build_world(server)
    yield world
    world.close()
