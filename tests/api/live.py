"""A real ``chemtrace serve`` process for end-to-end tests, and a seeded world to drive it.

The server runs as a child process on loopback (``chemtrace serve``), so tests cross
real HTTP, real process boundaries and real crashes (``kill -9``).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger.builder import DeviceSession
from ledger.commitments import disclose
from ledger.signing import Ed25519Signer
from scanners.client import ChemtraceClient
from tests.api._cli import chemtrace_command, kill_group, stop_group
from tests.servers import pick_free_port

REPO = Path(__file__).resolve().parents[2]
BACKENDS = ["sqlite", pytest.param("postgres+redis", marks=pytest.mark.postgres)]
"""SQLite without Redis, and PostgreSQL with Redis: every end-to-end test runs on both."""
CATALOG = "2026-draft.1"
EPOCH = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
VALID = {"valid_from": "2026-01-01T00:00:00Z", "valid_until": "2030-01-01T00:00:00Z"}


class LiveServer:
    """One server process on a database, restartable and killable."""

    def __init__(self, home: Path, db_url: str, redis_url: str | None = None, **env: str) -> None:
        self.home, self.db_url, self.redis_url = home, db_url, redis_url
        self.workers = 1
        """uvicorn worker processes (``serve --workers``), set before :meth:`start`."""
        self.keys = home / "var" / "keys"
        self.port = pick_free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = env
        self.namespace = f"t{uuid.uuid4().hex[:12]}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = home / "server.log"
        self.clients: list[ChemtraceClient] = []

    def start(self, timeout: float = 30.0) -> LiveServer:
        command = [*chemtrace_command(), "serve", "--db", self.db_url, "--keys", str(self.keys),
                   "--port", str(self.port)]  # fmt: skip
        if self.redis_url:
            command += ["--redis", self.redis_url]
        if self.workers != 1:
            command += ["--workers", str(self.workers)]
        env = {**os.environ, "PYTHONPATH": str(REPO), "CHEMTRACE_CHECKPOINT_INTERVAL_S": "0.2",
               "CHEMTRACE_REDIS_NAMESPACE": self.namespace, **self.env}  # fmt: skip
        env.pop("CHEMTRACE_REDIS_URL", None)
        with self.log_path.open("ab") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                command, cwd=self.home, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.tail()}")
            try:
                if httpx.get(self.base_url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not start: {self.tail()}")

    def tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""

    @property
    def admin_token(self) -> str:
        return (self.keys.parent / "admin.token").read_text().strip()

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flushing, like a power cut of the process."""
        kill_group(self.process)
        self.process = None

    def close(self) -> None:
        self.stop()
        for client in self.clients:
            client.close()

    def stop(self) -> None:
        stop_group(self.process)
        self.process = None

    def restart(self) -> LiveServer:
        self.stop()
        return self.start()

    def client(self, token: str | None = None) -> ChemtraceClient:
        client = ChemtraceClient(self.base_url, token=token)
        self.clients.append(client)
        return client


@dataclass
class Actor:
    """An enterprise (or inspectorate) with its API client and one signing device."""

    org: str
    site: str
    client: ChemtraceClient
    device: DeviceSession
    user_id: str


@dataclass
class World:
    """Organisations in two districts, their users and devices, and one regulator each."""

    server: LiveServer
    admin: ChemtraceClient
    actors: dict[str, Actor] = field(default_factory=dict)
    regulators: dict[str, ChemtraceClient] = field(default_factory=dict)
    heads: dict[str, Any] = field(default_factory=dict)
    clock: int = 0

    def close(self) -> None:
        self.admin.close()
        for client in [*(a.client for a in self.actors.values()), *self.regulators.values()]:
            client.close()

    def tick(self) -> str:
        self.clock += 1
        return (EPOCH + timedelta(seconds=self.clock)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def issue(
        self, org: str, count: int, form: str = "1.1", packaging: str = "cylinder"
    ) -> list[str]:
        issued = self.admin.issue_codes(org=org, form=form, packaging=packaging, count=count,
                                        batch=f"B{self.clock:04d}")  # fmt: skip
        self.clock += 1
        return [entry["code"] for entry in issued]

    def event(self, org: str, event_type: str, items: list[Any], data: dict[str, Any],
              **fields: Any) -> dict[str, Any]:  # fmt: skip
        actor = self.actors[org]
        fields.setdefault("site", actor.site)
        return actor.device.event(event_type, items, data, time=self.tick(), **fields)

    def commission(self, org: str, code: str, chemical: str = "1") -> dict[str, Any]:
        return self.event(org, "commission", [code], {
            "chemical": chemical, "quantity": {"value": "40", "unit": "kg"}, "lot": "L1",
            "packaging": "cylinder",
        })  # fmt: skip


ORGS = {
    # id: (type, district)
    "p-chem": ("producer", "d1"),
    "t-trade": ("trader", "d1"),
    "c-move": ("carrier", "d2"),
    "u-lab": ("laboratory", "d2"),
    "d1-inspect": ("regulator", "d1"),
}


def build_world(server: LiveServer) -> World:
    """Seed registries, users, tokens and devices through the typed client, as an admin would."""
    admin = server.client(server.admin_token)
    world = World(server=server, admin=admin)
    heads: dict[str, Any] = {}
    for number, (org, (kind, district)) in enumerate(ORGS.items()):
        admin.put_org(org, name=f"{org} Ltd", type=kind, district=district)
        site = f"{org}-site"
        admin.put_site(site, org=org, name=f"{org} main site", address=f"{number} Test Road",
                       district=district, lat=f"39.{number}", lon=f"116.{number}",
                       capacity_t="100", major_hazard=False)  # fmt: skip
        role = "inspector" if kind == "regulator" else "enterprise"
        admin.put_user(f"user-{org}", role=role, org=org, name=f"{org} operator",
                       districts=[district] if role == "inspector" else [])  # fmt: skip
        signer = Ed25519Signer.generate()
        admin.enrol_device(org, signer.public_key, **VALID)
        session = DeviceSession(signer=signer, org=org, actor=disclose("person", org).commitment,
                                catalog_version=CATALOG, heads=heads)  # fmt: skip
        client = admin.with_token(admin.issue_token(f"user-{org}"))
        world.actors[org] = Actor(org, site, client, session, f"user-{org}")
    for district in ("d1", "d2"):
        admin.put_user(f"reg-{district}", role="regulator", districts=[district],
                       name=f"{district} bureau")  # fmt: skip
        world.regulators[district] = admin.with_token(admin.issue_token(f"reg-{district}"))
    world.heads = heads
    return world


def world_fixture(prefix: str, **env: str) -> Any:
    """A module-scoped fixture: a seeded world on a fresh server for each backend, with the
    ``CHEMTRACE_*`` settings in ``env``."""

    @pytest.fixture(scope="module", params=BACKENDS)
    def fixture(
        request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[World]:
        home = tmp_path_factory.mktemp(prefix)
        with shared_server(request, home, str(request.param), **env) as (_, world):
            yield world

    return fixture


def without_request_id(response: httpx.Response) -> str:
    """The response body with its per-request ``request_id`` left out, for comparing the
    answers to two requests byte for byte."""
    text = response.text
    request_id = response.headers.get("x-request-id")
    return text if request_id is None else text.replace(f',"request_id":"{request_id}"', "")


def wait_for(predicate: Any, timeout: float = 10.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not reached in time")


@contextlib.contextmanager
def shared_server(
    request: Any, home: Path, backend: str, **env: str
) -> Iterator[tuple[LiveServer, World]]:
    """A started server with a seeded world on a fresh database, for one test module;
    ``backend`` is ``sqlite`` or ``postgres+redis`` (its database is dropped afterwards)."""
    drop = None
    if backend == "sqlite":
        server = LiveServer(home, f"sqlite:///{home}/var/chemtrace.db", **env)
    else:
        postgres = request.getfixturevalue("postgres_server")
        name = f"shared_{uuid.uuid4().hex[:16]}"
        server = LiveServer(home, postgres.create_database(name),
                            request.getfixturevalue("redis_server").url, **env)  # fmt: skip
        drop = lambda: postgres.drop_database(name)  # noqa: E731
    try:
        server.start()
        world = build_world(server)
        try:
            yield server, world
        finally:
            world.close()
    finally:
        server.close()
        if drop is not None:
            drop()
