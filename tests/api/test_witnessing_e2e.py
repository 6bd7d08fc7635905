"""Witnessing end to end, with real processes: a log, three witnesses and a quorum of two.

* every checkpoint gets the quorum, ``/v1/log/checkpoint`` and bundles carry it, and
  ``verify-log --witness-policy`` accepts the ledger;
* a witness killed with SIGKILL never holds up ingest; ``/readyz`` and the metrics show it,
  and it is back in the quorum after a restart;
* the split view: an operator with database access rolls the log back to an earlier copy,
  re-appends other entries and signs a checkpoint of that fork with the real log key. No
  witness cosigns it, a verifier holding the policy rejects it, the witnesses keep the true
  history, and the true log goes on being cosigned.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.accel import LocalAccelerator
from api.deployment import Deployment
from api.keystore import FileKeystore
from api.witnessing import WitnessEndpoint, Witnessing
from ledger.note import split_note
from ledger.store.witnessing import WitnessingStore
from ledger.witness import request_body
from ledger.witness_policy import judge_checkpoint, parse_policy
from tests.api._cli import run_cli
from tests.api.live import BACKENDS, LiveServer, World, build_world, wait_for
from tests.api.witness_procs import CityWitness, policy_text

QUORUM = 2


@dataclass
class City:
    home: Path
    server: LiveServer
    world: World
    witnesses: list[CityWitness]
    policy_file: Path
    backend: str
    postgres: Any = None

    @property
    def policy(self) -> Any:
        return parse_policy(self.policy_file.read_text())

    def checkpoint(self) -> str:
        response = httpx.get(f"{self.server.base_url}/v1/log/checkpoint", timeout=5)
        response.raise_for_status()
        return response.text

    def quorum_at_least(self, size: int, timeout: float = 20.0) -> str:
        """Wait until the served checkpoint covers ``size`` and meets the policy."""

        def met() -> str | None:
            note = self.checkpoint()
            verdict = judge_checkpoint(note, self.policy, now=int(time.time()))
            return note if verdict.accepted and verdict.checkpoint.size >= size else None

        return str(wait_for(met, timeout=timeout, interval=0.1))

    def verify_log(self, policy: Path, *source: str) -> subprocess.CompletedProcess[str]:
        """``chemtrace verify-log`` of ``source`` (``--db URL`` by default) under ``policy``."""
        where = source or ("--db", self.server.db_url, "--keys", str(self.server.keys))
        return run_cli(
            "verify-log", *where, "--witness-policy", str(policy), "--json", cwd=self.home
        )

    def unmeetable_policy(self, name: str) -> Path:
        """A policy asking for all three witnesses and a fourth that never runs."""
        never = CityWitness(
            self.home / f"{name}-w", f"{name}.example", [self.server.keys / "log.vkey"]
        )
        path = self.home / f"{name}.policy"
        log_vkey = (self.server.keys / "log.vkey").read_text().strip()
        path.write_text(policy_text([log_vkey], [*self.witnesses, never], 4))
        return path

    def log_size(self) -> int:
        return int(httpx.get(f"{self.server.base_url}/readyz", timeout=5).json()["log_size"])

    def commission(self, count: int) -> None:
        codes = self.world.issue("p-chem", count)
        for code in codes:
            self.world.actors["p-chem"].client.submit(self.world.commission("p-chem", code))


def _db_url(request: pytest.FixtureRequest, home: Path, backend: str) -> tuple[str, Any, Any]:
    if backend == "sqlite":
        return f"sqlite:///{home}/var/chemtrace.db", None, None
    postgres = request.getfixturevalue("postgres_server")
    redis = request.getfixturevalue("redis_server")
    return postgres.create_database(f"wit_{uuid.uuid4().hex[:12]}"), redis.url, postgres


@pytest.fixture(scope="module", params=BACKENDS)
def city(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[City]:
    home = tmp_path_factory.mktemp("witnessed")
    keys = home / "var" / "keys"
    log_vkey = FileKeystore(keys).log_vkey()  # the log key exists before its witnesses start
    witnesses = [
        CityWitness(home / f"w{n}", f"witness-{n}.city.example", [keys / "log.vkey"]).start()
        for n in range(3)
    ]
    policy_file = home / "city.policy"
    policy_file.write_text(policy_text([log_vkey], witnesses, QUORUM))
    db_url, redis_url, postgres = _db_url(request, home, str(request.param))
    server = LiveServer(
        home,
        db_url,
        redis_url,
        CHEMTRACE_WITNESSES=",".join(w.endpoint for w in witnesses),
        CHEMTRACE_WITNESS_QUORUM=str(QUORUM),
        CHEMTRACE_WITNESS_BACKOFF_S="0.1",
    ).start()
    world = build_world(server)
    try:
        yield City(home, server, world, witnesses, policy_file, str(request.param), postgres)
    finally:
        world.close()
        server.close()
        for witness in witnesses:
            witness.close()


def test_every_checkpoint_gets_the_quorum_and_the_audit_accepts_it(city: City) -> None:
    city.commission(3)
    note = city.quorum_at_least(city.log_size())
    verdict = judge_checkpoint(note, city.policy, now=int(time.time()))
    assert len(verdict.cosigned) >= QUORUM and not verdict.bad
    ready = httpx.get(f"{city.server.base_url}/readyz", timeout=5).json()
    assert ready["witnessing"]["quorum"] == QUORUM
    assert set(ready["witnessing"]["witnesses"]) == {w.name for w in city.witnesses}
    audited = city.verify_log(city.policy_file)
    assert audited.returncode == 0, audited.stdout + audited.stderr
    assert '"witnessed_size"' in audited.stdout
    # a policy no checkpoint can meet: the audit says so (exit 1), it does not pass silently
    refused = city.verify_log(city.unmeetable_policy("strict"))
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "log_unwitnessed" in refused.stdout


def test_an_item_bundle_carries_the_quorum(city: City) -> None:
    code = city.world.issue("p-chem", 1)[0]
    city.world.actors["p-chem"].client.submit(city.world.commission("p-chem", code))
    city.quorum_at_least(city.log_size())
    client = city.world.actors["p-chem"].client
    bundle = client.item_bundle(code)
    verdict = judge_checkpoint(str(bundle["checkpoint"]), city.policy, now=int(time.time()))
    assert verdict.accepted, verdict.explain()
    # the server's own verification judges by its configured witnesses and quorum
    report = client.verify_item(code)
    assert report["verified"] is True, report
    assert len(report["witnesses"]) >= QUORUM, report


def test_a_killed_witness_never_holds_up_ingest(city: City) -> None:
    dead = city.witnesses[0]
    dead.kill()
    try:
        started = time.monotonic()
        city.commission(4)
        assert time.monotonic() - started < 15
        note = city.quorum_at_least(city.log_size())
        verdict = judge_checkpoint(note, city.policy, now=int(time.time()))
        assert "W0" not in verdict.cosigned

        def failing() -> bool:
            ready = httpx.get(f"{city.server.base_url}/readyz", timeout=5).json()
            state = ready["witnessing"]["witnesses"][dead.name]
            return bool(ready["ready"] and state["state"] == "failing" and state["last_error"])

        wait_for(failing, timeout=15)
        metrics = httpx.get(f"{city.server.base_url}/metrics", timeout=5).text
        assert f'chemtrace_witness_up{{witness="{dead.name}"}} 0.0' in metrics
    finally:
        dead.start()
    city.commission(1)

    def back() -> bool:
        note = city.checkpoint()
        return "W0" in judge_checkpoint(note, city.policy, now=int(time.time())).cosigned

    wait_for(back, timeout=30, interval=0.2)


def _snapshot(city: City, name: str) -> str:
    """A copy of the log's database as it is now (the server is stopped meanwhile)."""
    city.server.stop()
    try:
        if city.backend == "sqlite":
            source = Path(city.server.db_url.removeprefix("sqlite:///"))
            copy = city.home / f"{name}.db"
            shutil.copyfile(source, copy)
            return f"sqlite:///{copy}"
        from psycopg import sql

        original = city.server.db_url.rsplit("/", 1)[1]
        with city.postgres.connect() as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(original)
                )
            )
        return str(city.postgres.url(name))
    finally:
        city.server.start()


def test_a_forked_log_gets_no_cosignature_and_no_verifier_accepts_it(city: City) -> None:
    city.commission(2)
    city.quorum_at_least(city.log_size())
    fork_url = _snapshot(city, f"fork_{uuid.uuid4().hex[:8]}")
    city.commission(3)  # the true log moves on, witnessed
    true_note = city.quorum_at_least(city.log_size())
    witnessed = judge_checkpoint(true_note, city.policy, now=int(time.time())).checkpoint

    # The operator restores the older copy, appends other entries with the real keys, and
    # signs a checkpoint of the fork beyond the witnessed size.
    fork_keys = city.home / "fork-keys"
    if not fork_keys.exists():
        shutil.copytree(city.server.keys, fork_keys)
    fork = Deployment.open(fork_url, fork_keys)
    try:
        while fork.store.log_size() <= witnessed.size + 2:
            fork.certify_org(f"fork-{uuid.uuid4().hex[:8]}")
        fork_note = fork.checkpoint()
        assert fork_note is not None
        endpoints = [WitnessEndpoint.parse(w.endpoint) for w in city.witnesses]
        witnessing = Witnessing(
            fork.store,
            WitnessingStore(fork.store.engine),
            endpoints,
            LocalAccelerator(),
            quorum=QUORUM,
            lock_held=lambda: True,
            backoff_s=0.01,
        )
        try:
            assert witnessing.step() == 0
            statuses = WitnessingStore(fork.store.engine).statuses()
            assert len(statuses) == 3
            assert all(s.failures == 1 and "422" in (s.last_error or "") for s in statuses), [
                s.last_error for s in statuses
            ]
        finally:
            witnessing.close()
        verdict = judge_checkpoint(fork_note, city.policy, now=int(time.time()))
        assert not verdict.accepted and set(verdict.missing) == {"W0", "W1", "W2"}

        # Sent by hand from the witnesses' own size, with the fork's proof: 422 from each.
        fork_size = int(fork_note.split("\n")[1])
        for witness in city.witnesses:
            monitored = httpx.get(f"{witness.url}/{_origin_hash(fork_note)}/checkpoint", timeout=5)
            size = int(monitored.text.split("\n")[1])
            body = request_body(size, fork.store.consistency_proof(size, fork_size), fork_note)
            answer = httpx.post(f"{witness.url}/add-checkpoint", content=body, timeout=5)
            assert answer.status_code == 422, answer.text
            assert split_note(monitored.text)[0].split("\n")[2] == _root_line_at(city, size)
    finally:
        fork.store.engine.dispose()

    # An auditor holding the true, cosigned checkpoint finds the fork.
    trusted = city.home / "trusted.checkpoint"
    trusted.write_text(true_note)
    found = city.verify_log(
        city.policy_file,
        "--db",
        fork_url,
        "--keys",
        str(fork_keys),
        "--trusted-checkpoint",
        str(trusted),
    )
    assert found.returncode == 1, found.stdout + found.stderr

    # The witnesses' state is untouched: the true log is still cosigned.
    city.commission(1)
    city.quorum_at_least(city.log_size())


def _origin_hash(note: str) -> str:
    import hashlib

    return hashlib.sha256(note.split("\n", 1)[0].encode()).hexdigest()


def _root_line_at(city: City, size: int) -> str:
    """The true log's root at ``size``, as a checkpoint's third line (from its own audit API)."""
    import base64

    from ledger.merkle import leaf_hash as hash_leaf
    from ledger.merkle import root_from_leaf_hashes

    leaves: list[bytes] = []
    while len(leaves) < size:
        got = httpx.get(
            f"{city.server.base_url}/v1/log/entries",
            params={"start": len(leaves), "end": size},
            timeout=10,
        ).json()
        leaves += [base64.b64decode(entry) for entry in got["entries"]]
    return base64.b64encode(root_from_leaf_hashes(hash_leaf(x) for x in leaves)).decode()


def test_tiles_carry_the_quorum_and_verify_log_tiles_holds_the_policy(city: City) -> None:
    city.commission(1)
    city.quorum_at_least(city.log_size())
    served = httpx.get(f"{city.server.base_url}/tlog/checkpoint", timeout=5).text
    assert judge_checkpoint(served, city.policy, now=int(time.time())).accepted
    strict = city.unmeetable_policy("strict-tiles")
    folder = city.home / f"exported-{uuid.uuid4().hex[:6]}"
    exported = run_cli(
        "tiles",
        "export",
        str(folder),
        "--db",
        city.server.db_url,
        "--keys",
        str(city.server.keys),
        cwd=city.home,
    )
    assert exported.returncode == 0, exported.stdout + exported.stderr
    assert judge_checkpoint(
        (folder / "checkpoint").read_text(), city.policy, now=int(time.time())
    ).accepted
    prefix = f"{city.server.base_url}/tlog"
    keys = ("--keys", str(city.server.keys))
    for location, policy, expected in (
        (prefix, city.policy_file, 0),
        (str(folder), city.policy_file, 0),
        (prefix, strict, 1),
    ):
        done = city.verify_log(policy, "--tiles", location, *keys)
        assert done.returncode == expected, done.stdout + done.stderr
    assert "checkpoint_unwitnessed" in done.stdout
