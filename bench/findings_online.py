"""Online anomaly latency: how long after an event its finding is visible, under load.

A real ``chemtrace serve`` (SQLite, then PostgreSQL + Redis when available) takes a
sustained open-loop load of signed events at ``--rate`` events/s (storage moves by the
holder: no findings) from sender threads. Once a second a probe ships a cylinder without
an e-waybill: the online engine must raise ``transport.documents_missing`` for it. The
table gives the time from the probe's HTTP response to the worker committing the finding
(its ``found_at``; both clocks are this machine's) (target: p99 <= 5 s at 200 events/s).

    .venv/bin/python -m bench.findings_online [--rate 200] [--seconds 30] [--no-postgres]
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench._machine import header_lines, percentile, pg_version, postgres
from ledger.timefmt import parse_utc

TARGET_S = 5.0


@dataclass
class Run:
    backend: str
    sent: int = 0
    failed: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    missed: int = 0


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def drive(
    backend: str, home: Path, db_url: str, redis_url: str | None, rate: int, seconds: float
) -> Run:
    from ledger.store.engine import make_engine
    from ledger.store.findings import FindingStore
    from tests.api.live import LiveServer, build_world

    server = LiveServer(home, db_url, redis_url).start()
    world = build_world(server)
    run = Run(backend)
    try:
        producer = world.actors["p-chem"]
        pool = world.issue("p-chem", 200)
        probes_codes = world.issue("p-chem", int(seconds) + 5)
        for code in pool + probes_codes:
            producer.client.submit(producer.device.event("commission", [code], {
                "chemical": "17", "quantity": {"value": "20", "unit": "kg"}, "lot": "L1",
                "packaging": "cylinder"}, time=_now(), site=producer.site))  # fmt: skip
        stop = time.monotonic() + seconds
        start = time.monotonic()
        senders_n = 12
        sent, failed = [0] * senders_n, [0] * senders_n  # one slot per sender: no shared +=

        def sender(offset: int) -> None:
            # each sender owns the items congruent to its offset: no two touch one chain
            mine = pool[offset::senders_n]
            number = 0
            while True:
                due = start + (number * senders_n + offset) / rate
                if due >= stop:
                    return
                time.sleep(max(0.0, due - time.monotonic()))
                code = mine[number % len(mine)]
                kind = "store_in" if (number // len(mine)) % 2 == 0 else "store_out"
                envelope = producer.device.event(kind, [code], {}, time=_now(), site=producer.site)
                try:
                    producer.client.submit(envelope)
                    sent[offset] += 1
                except Exception:
                    failed[offset] += 1
                number += 1

        senders = [
            threading.Thread(target=sender, args=(i,), daemon=True) for i in range(senders_n)
        ]
        for thread in senders:
            thread.start()
        store = FindingStore(make_engine(db_url))
        sent_at: dict[str, float] = {}
        for code in probes_codes[: int(seconds)]:
            envelope = producer.device.event("ship", [code], {
                "carrier": "c-move", "consignee": "u-lab", "consignee_site": "u-lab-site"},
                time=_now(), site=producer.site)  # fmt: skip
            producer.client.submit(envelope)
            sent_at[code] = time.time()
            time.sleep(1.0)
        for thread in senders:
            thread.join()
        run.sent, run.failed = sum(sent), sum(failed)
        run.seconds = time.monotonic() - start
        deadline = time.monotonic() + 30
        seen: dict[str, float] = {}
        while time.monotonic() < deadline and len(seen) < len(sent_at):
            for stored in _search_rule(store, "transport.documents_missing"):
                item = stored.finding.item
                if item in sent_at and item not in seen:  # saved at found_at, by the worker
                    seen[item] = parse_utc(stored.found_at).timestamp()
            time.sleep(0.05)
        run.latencies = sorted(seen[c] - sent_at[c] for c in seen)
        run.missed = len(sent_at) - len(seen)
    finally:
        world.close()
        server.close()
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    for line in header_lines("bench.findings_online"):
        print(line)
    runs: list[Run] = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        (home / "sqlite").mkdir()
        runs.append(drive("sqlite", home / "sqlite", f"sqlite:///{tmp}/bench.db", None,
                          args.rate, args.seconds))  # fmt: skip
        if not args.no_postgres:
            from tests.servers import RedisServer

            with postgres(Path(tmp)) as (pg, reason), contextlib.ExitStack() as stack:
                if pg is None:
                    print(f"# PostgreSQL skipped: {reason}")
                else:
                    redis = stack.enter_context(RedisServer.start(Path(tmp) / "redis"))
                    url = pg.create_database("findings_bench")
                    print(f"# PostgreSQL {pg_version(pg)}")
                    (home / "live-pg").mkdir()
                    runs.append(drive("postgres+redis", home / "live-pg", url, redis.url, args.rate,
                                      args.seconds))  # fmt: skip
    print()
    print(f"{'backend':<16}{'events/s':>10}{'probes':>8}{'p50 s':>8}{'p99 s':>8}"
          f"{'max s':>8}{'missed':>8}  verdict (p99 <= {TARGET_S:.0f} s)")  # fmt: skip
    for run in runs:
        lat = run.latencies or [float("nan")]
        rate = run.sent / run.seconds if run.seconds else 0.0
        p99 = percentile(lat, 0.99)
        verdict = "PASS" if run.latencies and p99 <= TARGET_S and not run.missed else "MISS"
        print(f"{run.backend:<16}{rate:>10.0f}{len(run.latencies):>8}{percentile(lat, 0.5):>8.2f}"
              f"{p99:>8.2f}{lat[-1]:>8.2f}{run.missed:>8}  {verdict}")  # fmt: skip


def _search_rule(store: Any, rule: str) -> list[Any]:
    from ledger.store.findings import FindingFilter

    return list(store.search(FindingFilter(rule=rule), limit=500))


if __name__ == "__main__":
    main()
