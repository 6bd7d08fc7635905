"""The findings worker dies with its server: a ``kill -9`` of ``chemtrace serve`` leaves no
orphan holding the findings lock, and the restarted server's worker takes over at once."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from ledger.store.engine import make_engine
from ledger.store.findings import FindingStore
from tests.api.live import LiveServer, World, build_world, wait_for

PROC = Path("/proc")
pytestmark = pytest.mark.skipif(not (PROC / "self" / "stat").exists(), reason="needs /proc")


@dataclass(frozen=True)
class Process:
    pid: int
    started: int  # clock ticks after boot: tells a reused pid apart

    def alive(self) -> bool:
        stat = _stat(self.pid)
        return stat is not None and stat[0] != "Z" and stat[2] == self.started


def _stat(pid: int) -> tuple[str, int, int] | None:
    """State, parent pid and start time of ``pid`` from ``/proc/PID/stat``."""
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # the command name may hold spaces
    return fields[0], int(fields[1]), int(fields[19])


def _threads(pid: int) -> str:
    """Each thread's name and where it waits in the kernel: what a stuck worker is doing."""
    found = []
    for task in sorted((PROC / str(pid) / "task").glob("*")):
        with contextlib.suppress(OSError):
            found.append(f"{(task / 'comm').read_text().strip()}:{(task / 'wchan').read_text()}")
    return ", ".join(found)


def _findings_worker_of(parent: int) -> Process | None:
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        stat = _stat(int(entry.name))
        if stat is None or stat[1] != parent or stat[0] == "Z":
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"api.cli_findings" in argv and b"worker" in argv:
            return Process(int(entry.name), stat[2])
    return None


def _pid(server: LiveServer) -> int:
    assert server.process is not None
    return server.process.pid


def _judged(world: World, store: FindingStore) -> Callable[[], bool]:
    """Log a new event; the returned check says whether a findings worker has read it."""
    (code,) = world.issue("p-chem", 1)
    actor = world.actors["p-chem"]
    actor.client.submit(world.commission("p-chem", code))
    index = int(actor.client.item(code)["head"]["index"])
    return lambda: store.cursor().log_position >= index


def test_a_killed_server_s_findings_worker_exits_and_the_restarted_one_takes_over(
    start_server: Callable[..., LiveServer], backend: str
) -> None:
    server = start_server(backend)
    world = build_world(server)
    engine = make_engine(server.db_url)
    store = FindingStore(engine)
    seen: list[Process] = []
    try:
        first = wait_for(lambda: _findings_worker_of(_pid(server)), timeout=15)
        seen.append(first)
        wait_for(_judged(world, store), timeout=20)  # it runs the engine, holding the lock

        # only the server, not its process group: a crash kills no children with it
        os.kill(_pid(server), signal.SIGKILL)
        assert server.process is not None
        server.process.wait(10)
        server.process = None
        try:
            wait_for(lambda: not first.alive(), timeout=10)
        except AssertionError:
            pytest.fail(f"the findings worker outlived its server killed with SIGKILL: "
                        f"{_stat(first.pid)} [{_threads(first.pid)}]\n{server.tail()}")  # fmt: skip

        server.start()
        second = wait_for(lambda: _findings_worker_of(_pid(server)), timeout=15)
        seen.append(second)
        wait_for(_judged(world, store), timeout=15)  # so the lock was free to take
        assert second.alive()
    finally:
        for process in seen:
            if process.alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGKILL)
        world.close()
        engine.dispose()
