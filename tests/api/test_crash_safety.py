"""Crashes with real processes: ``kill -9`` of the server mid-batch, and Redis dying mid-run."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from scanners.client import ApiError
from tests.api._cli import run_cli
from tests.api.live import LiveServer, build_world, wait_for
from tests.servers import RedisServer, require_redis_server


def test_kill_9_mid_batch_loses_nothing_and_a_resend_lands_exactly_once(
    start_server: Callable[..., LiveServer], backend: str
) -> None:
    server = start_server(backend)
    world = build_world(server)
    producer = world.actors["p-chem"]
    codes = world.issue("p-chem", 2000)
    batches = [[world.commission("p-chem", c) for c in codes[i : i + 200]]
               for i in range(0, len(codes), 200)]  # fmt: skip
    answered: list[int] = []

    def upload() -> None:
        for number, batch in enumerate(batches):
            try:
                producer.client.submit_batch(batch)
            except Exception:
                return
            answered.append(number)

    sender = threading.Thread(target=upload)
    sender.start()
    wait_for(lambda: len(answered) >= 2, timeout=60)
    server.kill()
    sender.join(30)
    assert len(answered) < len(batches), "the kill came too late to interrupt the upload"

    server.start()
    audit = run_cli("verify-log", "--db", server.db_url, "--keys", str(server.keys), "--json",
                    cwd=server.home, timeout=300)  # fmt: skip
    assert audit.returncode == 0, audit.stdout[-2000:] + audit.stderr[-2000:]

    outcomes = [producer.client.submit_batch(batch) for batch in batches]
    for number in answered:  # acknowledged before the crash: must all be there
        assert outcomes[number].duplicates == len(batches[number])
    rejected = [r["error"] for o in outcomes for r in o.results if r["status"] == "rejected"]
    assert rejected == []
    again = [producer.client.submit_batch(batch) for batch in batches]
    assert all(o.duplicates == len(b) for o, b in zip(again, batches, strict=True))
    assert len(world.admin.search(org="p-chem", limit=5000)) == len(codes)
    world.close()


@pytest.mark.postgres
def test_redis_dying_mid_run_loses_and_duplicates_nothing(
    start_server: Callable[..., LiveServer],
    tmp_path: Path,
    postgres_database_factory: Callable[..., str],
) -> None:
    with RedisServer.start(tmp_path / "redis", binary=require_redis_server()) as private:
        home = tmp_path / "home"
        home.mkdir()
        server = LiveServer(home, postgres_database_factory("redis_kill"), private.url).start()
        try:
            world = build_world(server)
            producer = world.actors["p-chem"]
            codes = world.issue("p-chem", 300)
            envelopes = [world.commission("p-chem", c) for c in codes]
            receipts: dict[int, dict] = {}
            for i in range(100):
                receipts[i] = producer.client.submit(envelopes[i])
            private.kill()  # mid-run: idempotency front, locks, limits and the relay lose Redis
            for i in range(100, 200):
                receipts[i] = producer.client.submit(envelopes[i])
            for i in range(0, 200, 7):  # resends while Redis is down: the database answers
                assert producer.client.submit(envelopes[i]) == receipts[i]
            ready = server.client().readyz()
            assert ready["ready"] and ready["redis"] == "degraded"
            private.restart()
            for i in range(200, 300):
                receipts[i] = producer.client.submit(envelopes[i])
            assert len({r["index"] for r in receipts.values()}) == 300

            # The relay catches up: every outbox row is published, none twice.
            client = redis.Redis.from_url(private.url)
            stream = f"{server.namespace}:entries"

            def relayed() -> bool:
                return receipts[299]["index"] in _stream_indices(client, stream)

            wait_for(relayed, timeout=20)
            indices = _stream_indices(client, stream)
            assert len(indices) == len(set(indices))
            # Redis ran without persistence, so entries relayed before the crash are gone from
            # it; everything logged while it was down or after it came back is there, in order.
            after = sorted(r["index"] for i, r in receipts.items() if i >= 100)
            assert set(after) <= set(indices) and indices == sorted(indices)
            client.close()
            # Every event is there exactly once: each resend returns its one receipt, and a
            # resend with its signature stripped is a different event, refused on its merits.
            assert all(producer.client.submit(envelopes[i]) == receipts[i] for i in range(300))
            with pytest.raises(ApiError) as caught:
                producer.client.submit(
                    {**envelopes[0], "signature": {"alg": "ed25519", "value": ""}}
                )
            assert caught.value.code == "bad_signature"
            world.close()
        finally:
            server.close()


def _stream_indices(client: redis.Redis, stream: str) -> list[int]:
    return [int(fields[b"index"]) for _, fields in client.xrange(stream)]


def test_outbox_relay_crash_between_publish_and_mark_publishes_nothing_twice(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    from api.background import OutboxRelay
    from ledger.store.service import ServiceStore
    from tests.harness import Harness

    harness = Harness.create(f"sqlite:///{tmp_path}/l.db")
    device = harness.device("acme")
    harness.submit([harness.commission(device, f"ITEM-{n}") for n in range(5)])
    reads = ServiceStore(harness.store.engine)
    client = redis.Redis.from_url(redis_server.url)
    stream = f"relay-test-{time.monotonic_ns()}"

    class CrashAfterPublish(ServiceStore):
        def mark_published(self, indices):  # type: ignore[no-untyped-def]
            raise RuntimeError("crash between XADD and the database update")

    crashing = OutboxRelay(CrashAfterPublish(harness.store.engine), client, stream)
    with pytest.raises(RuntimeError):
        crashing.step()
    assert client.xlen(stream) == len(reads.unpublished())  # published, not marked
    assert OutboxRelay(reads, client, stream).step() == client.xlen(stream)
    assert reads.unpublished() == []
    assert len(set(_stream_indices(client, stream))) == client.xlen(stream)
    client.close()
