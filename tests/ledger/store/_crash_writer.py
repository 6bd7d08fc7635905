"""The child process of ``test_crash.py``: appends batches through the real ingest path until killed.

Usage: ``python _crash_writer.py URL OUT_DIR FIRST_BATCH BATCH_SIZE MAX_BATCHES`` with the
hex Ed25519 seeds of the ``root``, ``log``, ``org`` and ``device`` keys as JSON in
``CHEMTRACE_CRASH_SEEDS`` (the parent logged the org and device certificates already).

For each batch N it first writes the envelopes to ``OUT_DIR/batch-NNNNN.json`` (atomically:
write, fsync, rename), then submits them in one call, then prints ``batch N committed``.
Each batch commissions ``BATCH_SIZE // 2`` new items and uses each of them once, so
every event is new and a batch is one append transaction. Nothing here waits or sleeps:
the parent kills it at random moments.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ledger.append import Accepted
from ledger.builder import DeviceSession
from ledger.canonical import JsonValue
from ledger.commitments import disclose
from ledger.ingest import Ingestor
from ledger.signing import ED25519, Ed25519Signer
from ledger.store.migrate import open_store

ORIGIN = "chemtrace.test/log"  # tests.harness.ORIGIN
ORG = "crash-org"
SEEDS_ENV = "CHEMTRACE_CRASH_SEEDS"


def batch_codes(batch: int, size: int) -> list[str]:
    return [f"B{batch:05d}-{n:04d}" for n in range(size // 2)]


def make_batch(session: DeviceSession, batch: int, size: int) -> list[dict[str, JsonValue]]:
    base = datetime(2026, 10, 1, tzinfo=UTC) + timedelta(minutes=batch)
    moment = base.strftime("%Y-%m-%dT%H:%M:%SZ")
    codes = batch_codes(batch, size)
    envelopes = [
        session.event(
            "commission",
            [code],
            {
                "chemical": "1",
                "quantity": {"value": "40", "unit": "kg"},
                "lot": f"L{batch}",
                "packaging": "cylinder",
            },
            time=moment,
            site="site-a",
        )
        for code in codes
    ]
    envelopes += [
        session.event("use", [code], {"quantity": {"value": "1", "unit": "kg"}}, time=moment)
        for code in codes
    ]
    return envelopes


def write_atomically(path: Path, data: str) -> None:
    temporary = path.with_suffix(".tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def main() -> int:
    url, out_dir = sys.argv[1], Path(sys.argv[2])
    first, size, limit = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    seeds = json.loads(os.environ[SEEDS_ENV])

    def key(name: str) -> Ed25519Signer:
        return Ed25519Signer.from_seed(bytes.fromhex(seeds[name]))

    root, log, device = key("root"), key("log"), key("device")
    store = open_store(url, origin=ORIGIN, migrate=False, require_issued_codes=False)
    ingestor = Ingestor(
        store, log_signer=log, root_algorithm=ED25519, root_public_key=root.public_key
    )
    session = DeviceSession(
        signer=device,
        org=ORG,
        actor=disclose("person", "crash writer").commitment,
        catalog_version="test.1",
    )
    print(f"writer ready at batch {first}", flush=True)
    for batch in range(first, first + limit):
        envelopes = make_batch(session, batch, size)
        write_atomically(out_dir / f"batch-{batch:05d}.json", json.dumps(envelopes))
        outcomes = ingestor.submit(envelopes)
        if len(outcomes) != size or not all(
            isinstance(outcome, Accepted) and not outcome.duplicate for outcome in outcomes
        ):
            print(f"batch {batch} NOT accepted: {outcomes[:3]}", flush=True)
            return 3
        print(f"batch {batch} committed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
