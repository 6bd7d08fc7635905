"""HTTP benchmark: a real ``chemtrace serve`` process under open-loop load from another process.

Run from the project root::

    .venv/bin/python -m bench.api [--quick] [--no-postgres] [--duration S] [--rounds N]

On SQLite (a file in a temp dir) and PostgreSQL (a private throw-away server started with
``tests.servers.PostgresServer``), side by side, in one run:

1. **Single events.** ``POST /v1/events`` at fixed offered loads (50 … 400 requests/s),
   open loop: request *i* is due at ``t0 + i/rate`` whatever happened to earlier ones,
   and its latency runs from that due time to the end of the response, so a stalled
   server is charged for the requests it held up (no coordinated omission). Achieved
   throughput and latency percentiles per load; ``GET /healthz`` at the highest load
   checks that the load generator itself keeps up.
2. **Batches.** ``POST /v1/events:batch`` of 500 events, several rounds, against the same
   events appended through the core with no HTTP (``Ingestor.submit`` of
   ``api.deployment.Deployment`` on a fresh database of the same kind), rounds interleaved.
3. **Checkpoint lag.** While the single events run, the load process polls
   ``GET /v1/log/checkpoint`` at 20 Hz; an event's lag is the time from its receipt's
   ``log_time`` until a served checkpoint covers its index. The server's own Prometheus
   histogram ``chemtrace_checkpoint_lag_seconds`` is reported beside it.

The server is a child process (``python -m api.cli serve`` through
``tests.api.live.LiveServer``); the load client is a second child process (multiprocessing,
spawn) with one ``httpx.Client`` (one keep-alive connection) per sender thread, so neither
shares a GIL with the other. Every envelope is signed and JSON-encoded before the clock
starts: signing is the device's cost, not the server's.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import multiprocessing
import os
import platform
import sqlite3
import sys
import tempfile
import threading
import time
import traceback
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx

from bench._machine import (
    header_lines,
    load_average,
    percentile,
    pg_durability,
    pg_version,
    postgres,
    results_table,
    skip_row,
)

# --------------------------------------------------------------------------------------------
# settings

RATES = (50, 100, 200, 300, 400)
CURVE_RATES = (100, 200, 300, 400, 500, 600, 700, 800, 900, 1000)
TARGET_RATE = 300
KNEE_P99_MS = 200.0  # the knee: the highest offered rate served at this p99 and in full
KNEE_BASELINE = 237  # req/s achieved at 300/s offered when the issue was filed
KNEE_TARGET = 3 * KNEE_BASELINE
P99_TARGET_MS = 50.0
BATCH = 500
RATIO_TARGET = 0.60
LAG_P99_TARGET_S = 2.0
POLL_HZ = 20
CHECKPOINT_INTERVAL_S = 0.5  # the service default, set explicitly
SENDERS = 32  # sender threads (one keep-alive connection each) in the load process
MAX_BEHIND_S = 5.0  # a sender this far behind schedule stops the load: the server is overloaded
WARMUP_RATE, WARMUP_S = 50, 2.0
PROBE_S = 2.0  # GET /healthz at the highest load: the load generator keeps up
SINGLE_CORE = 200  # Ingestor.submit at batch 1, for context
COVER_TIMEOUT_S = 20.0  # how long the poller waits for a checkpoint to cover the last event
ORG = "p-chem"
CORE_ORG = "bench-org"
CATALOG = "2026-draft.1"

Envelope = dict[str, Any]


def _console() -> Any:
    from rich.console import Console

    return Console(width=170, highlight=False, soft_wrap=False)


# --------------------------------------------------------------------------------------------
# the load process (kept free of ledger/api imports: it only speaks HTTP)


def load_main(conn: Connection, base_url: str, token: str) -> None:
    """Serve commands from the orchestrator until ``stop``; runs in its own process."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    clients = [
        httpx.Client(base_url=base_url, headers=headers, timeout=60.0, limits=limits)
        for _ in range(SENDERS)
    ]
    try:
        while True:
            command, args = conn.recv()
            if command == "stop":
                conn.send(("ok", None))
                return
            try:
                if command == "single":
                    result: Any = run_single(clients, base_url, *args)
                elif command == "batch":
                    result = run_batch(clients[0], *args)
                else:
                    raise ValueError(f"unknown command {command!r}")
                conn.send(("ok", result))
            except Exception:
                conn.send(("error", traceback.format_exc()))
    finally:
        for client in clients:
            client.close()


def run_single(
    clients: list[httpx.Client], base_url: str, rate: float, payloads: list[bytes] | int
) -> dict[str, Any]:
    """Open loop: payload ``i`` is due at ``t0 + i/rate``; latency counts from the due time.

    A poller thread fetches the checkpoint at ``POLL_HZ`` throughout, and until a checkpoint
    covers the highest index a request got (or ``COVER_TIMEOUT_S`` passes). With a count
    instead of payloads, it sends that many ``GET /healthz`` (the load generator's own check)
    and polls nothing.
    """
    probe = isinstance(payloads, int)
    n = payloads if isinstance(payloads, int) else len(payloads)
    expected = 200 if probe else 201
    latency = [float("inf")] * n  # never sent or failed: infinitely late
    status = [0] * n
    receipts: list[tuple[int, str] | None] = [None] * n
    completed = [0.0] * n
    counter = itertools.count()
    gave_up = threading.Event()
    polls: list[tuple[float, int]] = []  # (wall time when the answer arrived, checkpoint size)
    polling = threading.Event()
    polling.set()
    poll_errors = [0]

    def poller() -> None:
        with httpx.Client(base_url=base_url, timeout=10.0) as http:
            interval = 1.0 / POLL_HZ
            next_at = time.perf_counter()
            while polling.is_set():
                try:
                    answer = http.get("/v1/log/checkpoint")
                    seen = time.time()
                    if answer.status_code == 200:
                        polls.append((seen, int(answer.text.split("\n", 2)[1])))
                    else:
                        poll_errors[0] += 1
                except httpx.HTTPError:
                    poll_errors[0] += 1
                next_at += interval
                time.sleep(max(0.0, next_at - time.perf_counter()))

    def sender(client: httpx.Client) -> None:
        while not gave_up.is_set():
            i = next(counter)
            if i >= n:
                return
            due = t0 + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            elif -delay > MAX_BEHIND_S:
                gave_up.set()
                return
            try:
                if isinstance(payloads, int):
                    answer = client.get("/healthz")
                else:
                    answer = client.post("/v1/events", content=payloads[i])
            except httpx.HTTPError:
                status[i] = -1
                continue
            done = time.perf_counter()
            status[i] = answer.status_code
            completed[i] = done
            if answer.status_code == expected:
                latency[i] = done - due
                if not probe:
                    receipt = answer.json()
                    receipts[i] = (int(receipt["index"]), str(receipt["log_time"]))

    poll_thread = threading.Thread(target=poller, daemon=True)
    if not probe:
        poll_thread.start()
    t0 = time.perf_counter() + 0.05
    threads = [threading.Thread(target=sender, args=(c,), daemon=True) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ended = time.perf_counter()
    top = max((r[0] for r in receipts if r is not None), default=-1)
    deadline = time.monotonic() + COVER_TIMEOUT_S
    while not probe and time.monotonic() < deadline and not (polls and polls[-1][1] > top):
        time.sleep(0.02)
    polling.clear()
    if not probe:
        poll_thread.join()
    ok = [c for c, s in zip(completed, status, strict=True) if s == expected]
    return {
        "rate": rate,
        "scheduled": n,
        "sent": sum(1 for s in status if s != 0),
        "latency": latency,
        "status": status,
        "receipts": receipts,
        "span": (max(ok) - t0) if ok else ended - t0,
        "gave_up": gave_up.is_set(),
        "polls": polls,
        "poll_errors": poll_errors[0],
    }


def run_batch(client: httpx.Client, body: bytes, count: int) -> dict[str, Any]:
    start = time.perf_counter()
    answer = client.post("/v1/events:batch", content=body)
    elapsed = time.perf_counter() - start
    if answer.status_code != 200:
        raise RuntimeError(f"batch answered {answer.status_code}: {answer.text[:500]}")
    result = answer.json()
    if result["accepted"] != count:
        first = next((r for r in result["results"] if r["status"] != "accepted"), None)
        raise RuntimeError(f"batch: {result['accepted']}/{count} accepted; first other: {first}")
    return {"elapsed": elapsed}


class LoadClient:
    """The orchestrator's handle on the load process."""

    def __init__(self, base_url: str, token: str) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=load_main, args=(child, base_url, token), name="bench-load", daemon=True
        )
        self.process.start()
        child.close()

    def call(self, command: str, *args: Any) -> Any:
        self.conn.send((command, args))
        kind, value = self.conn.recv()
        if kind != "ok":
            raise RuntimeError(f"load process failed:\n{value}")
        return value

    def close(self) -> None:
        if self.process.is_alive():
            with contextlib.suppress(Exception):
                self.call("stop")
            self.process.join(10)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)


# --------------------------------------------------------------------------------------------
# results


@dataclass
class SingleRow:
    db: str
    rate: int
    duration: float
    scheduled: int = 0
    sent: int = 0
    ok: int = 0
    errors: dict[int, int] = field(default_factory=dict)
    achieved: float = 0.0
    lat_ms: list[float] = field(default_factory=list)  # sorted, inf = never answered
    server_ms: float | None = None  # the server's own mean (request histogram)
    cpu_ms: float | None = None  # the server process's CPU time per answered request
    lag_s: list[float] = field(default_factory=list)  # sorted
    gave_up: bool = False
    skipped: str | None = None

    def pct(self, q: float) -> float:
        return percentile(self.lat_ms, q)


@dataclass
class BatchRow:
    db: str
    http_s: list[float] = field(default_factory=list)  # seconds per round
    core_s: list[float] = field(default_factory=list)
    core_single_ms: list[float] = field(default_factory=list)
    log_sizes: tuple[int, int] = (0, 0)  # HTTP log, core log at the end
    skipped: str | None = None

    @property
    def http_rate(self) -> float:
        return BATCH * len(self.http_s) / sum(self.http_s)

    @property
    def core_rate(self) -> float:
        return BATCH * len(self.core_s) / sum(self.core_s)

    @property
    def ratio(self) -> float:
        return self.http_rate / self.core_rate


@dataclass
class Probe:
    """``GET /healthz`` at the highest offered load: shows the load generator keeps up."""

    db: str
    rate: int = 0
    scheduled: int = 0
    ok: int = 0
    achieved: float = 0.0
    lat_ms: list[float] = field(default_factory=list)


@dataclass
class LagRow:
    db: str
    lag_s: list[float] = field(default_factory=list)  # sorted
    uncovered: int = 0
    poll_errors: int = 0
    prom_count: float = 0.0
    prom_sum: float = 0.0
    prom_buckets: list[tuple[float, float]] = field(default_factory=list)  # (le, cumulative)
    skipped: str | None = None

    def prom_quantile(self, q: float) -> float | None:
        """Upper bound of the bucket holding quantile ``q`` (None when empty)."""
        if self.prom_count <= 0:
            return None
        for le, cumulative in self.prom_buckets:
            if cumulative >= q * self.prom_count:
                return le
        return float("inf")


def process_cpu_s(pid: int) -> float | None:
    """User plus system CPU seconds so far of process ``pid`` and its live descendants (its
    worker processes), from Linux ``/proc``; None where there is no ``/proc``."""
    parent_of: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        parent_of[int(entry.name)] = int(fields[1])
        ticks[int(entry.name)] = int(fields[11]) + int(fields[12])
    if pid not in ticks:
        return None
    tree, todo = set(), [pid]
    while todo:
        node = todo.pop()
        tree.add(node)
        todo += [child for child, parent in parent_of.items() if parent == node]
    return sum(ticks[node] for node in tree) / os.sysconf("SC_CLK_TCK")


def spread(values: Sequence[float]) -> float:
    """Half the max-min range of per-round rates relative to their median, in percent."""
    ordered = sorted(values)
    median = ordered[len(ordered) // 2]
    return 50.0 * (ordered[-1] - ordered[0]) / median if median else 0.0


# --------------------------------------------------------------------------------------------
# Prometheus scraping


def scrape(base_url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(base_url + "/metrics", timeout=10).text
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def _delta(after: dict[Any, float], before: dict[Any, float], name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def server_mean_ms(after: dict[Any, float], before: dict[Any, float]) -> float | None:
    labels = {"route": "/v1/events", "method": "POST", "status": "201"}
    count = _delta(after, before, "chemtrace_http_request_seconds_count", **labels)
    total = _delta(after, before, "chemtrace_http_request_seconds_sum", **labels)
    return 1000 * total / count if count else None


def lag_histogram(row: LagRow, after: dict[Any, float], before: dict[Any, float]) -> None:
    name = "chemtrace_checkpoint_lag_seconds"
    row.prom_count = _delta(after, before, name + "_count")
    row.prom_sum = _delta(after, before, name + "_sum")
    buckets: list[tuple[float, float]] = []
    for (sample, labels), value in after.items():
        le = dict(labels).get("le")
        if sample == name + "_bucket" and le is not None:
            buckets.append((float(le), value - before.get((sample, labels), 0.0)))
    row.prom_buckets = sorted(buckets)


# --------------------------------------------------------------------------------------------
# building signed events (before any clock starts)


@dataclass
class Workload:
    setup: list[bytes]  # commissions of the items the timed store_in events continue
    timed: list[bytes]  # even positions commission a fresh item, odd ones store_in


def now_utc() -> str:
    from ledger.timefmt import format_utc

    return format_utc(datetime.now(UTC))


def _commission(session: Any, code: str, site: str) -> Envelope:
    data = {
        "chemical": "1",
        "quantity": {"value": "40", "unit": "kg"},
        "lot": "L1",
        "packaging": "cylinder",
    }
    envelope: Envelope = session.event("commission", [code], data, time=now_utc(), site=site)
    return envelope


def _store_in(session: Any, code: str, site: str) -> Envelope:
    envelope: Envelope = session.event(
        "store_in", [code], {"location": "cylinder bay A"}, time=now_utc(), site=site
    )
    return envelope


def build_workload(session: Any, site: str, codes: Iterator[str], count: int) -> Workload:
    """``count`` signed events on distinct items, JSON-encoded, plus their setup commissions."""
    uses = count // 2
    used = [next(codes) for _ in range(uses)]
    setup = [_commission(session, code, site) for code in used]
    timed: list[Envelope] = []
    for i in range(count):
        if i % 2 and i // 2 < uses:
            timed.append(_store_in(session, used[i // 2], site))
        else:
            timed.append(_commission(session, next(codes), site))
    encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    return Workload([encode(e).encode() for e in setup], [encode(e).encode() for e in timed])


def batch_body(payloads: Sequence[bytes]) -> bytes:
    return b'{"events":[' + b",".join(payloads) + b"]}"


# --------------------------------------------------------------------------------------------
# one database


@dataclass
class Plan:
    duration: float
    rounds: int
    rates: tuple[int, ...] = RATES
    workers: int = 1

    @property
    def single_counts(self) -> list[int]:
        return [round(rate * self.duration) for rate in self.rates]

    @property
    def http_events(self) -> int:
        warm = round(WARMUP_RATE * WARMUP_S)
        return warm + sum(self.single_counts) + BATCH * (self.rounds + 1)


def issue_http_codes(admin: Any, count: int) -> Iterator[str]:
    from ledger.codes import MAX_BATCH_COUNT

    issued = 0
    while issued < count:
        size = min(MAX_BATCH_COUNT, count - issued)
        for entry in admin.issue_codes(
            org=ORG, form="1.1", packaging="cylinder", count=size, batch=f"H{issued:06d}"
        ):
            yield str(entry["code"])
        issued += size


def submit_setup(load: LoadClient, payloads: Sequence[bytes]) -> None:
    for first in range(0, len(payloads), BATCH):
        chunk = payloads[first : first + BATCH]
        load.call("batch", batch_body(chunk), len(chunk))


class Core:
    """The same ingest with no HTTP: ``Deployment.open`` on a fresh database, one device."""

    def __init__(self, url: str, keys: Path) -> None:
        from api.deployment import Deployment
        from ledger.builder import DeviceSession
        from ledger.commitments import disclose

        self.deployment = Deployment.open(url, keys)
        self.deployment.certify_org(CORE_ORG)
        signer = self.deployment.certify_device(CORE_ORG, "bench")
        self.session = DeviceSession(
            signer=signer,
            org=CORE_ORG,
            actor=disclose("person", CORE_ORG).commitment,
            catalog_version=CATALOG,
        )

    def codes(self, count: int) -> Iterator[str]:
        from ledger.codes import MAX_BATCH_COUNT

        issued = 0
        today = datetime.now(UTC).strftime("%Y-%m-%d")
        while issued < count:
            size = min(MAX_BATCH_COUNT, count - issued)
            batch = self.deployment.issue_codes(
                CORE_ORG, "1.1", "cylinder", f"C{issued:06d}", size, issued_at=today
            )
            yield from (signed.code for signed in batch)
            issued += size

    def submit(self, payloads: Sequence[bytes]) -> float:
        """Seconds for one ``Ingestor.submit`` of the parsed payloads (parsing not timed)."""
        from ledger.append import Accepted

        envelopes = [json.loads(p) for p in payloads]
        start = time.perf_counter()
        outcomes = self.deployment.ingestor.submit(envelopes)
        elapsed = time.perf_counter() - start
        for outcome in outcomes:
            if not isinstance(outcome, Accepted) or outcome.duplicate:
                raise RuntimeError(f"core event was not freshly accepted: {outcome!r}")
        return elapsed

    def close(self) -> None:
        self.deployment.store.engine.dispose()


def bench_database(
    db: str, home: Path, http_url: str, core_url: str, plan: Plan
) -> tuple[list[SingleRow], BatchRow, LagRow, Probe]:
    from ledger.timefmt import parse_utc
    from tests.api.live import LiveServer, build_world

    log = _console().__class__(stderr=True, highlight=False)
    home.mkdir(parents=True)
    server = LiveServer(
        home,
        http_url,
        CHEMTRACE_RATE_LIMIT_PER_MINUTE="0",
        CHEMTRACE_CHECKPOINT_INTERVAL_S=str(CHECKPOINT_INTERVAL_S),
    )
    server.workers = plan.workers
    load: LoadClient | None = None
    core: Core | None = None
    try:
        log.print(f"  [{db}] starting chemtrace serve on {http_url.split('@')[-1]} ...")
        server.start()
        assert server.process is not None
        server_pid = server.process.pid
        world = build_world(server)
        actor = world.actors[ORG]
        token = actor.client.token
        assert token is not None
        load = LoadClient(server.base_url, token)

        total = plan.http_events
        log.print(f"  [{db}] issuing {total:,} codes and signing {total + total // 2:,} events ...")
        workload = build_workload(
            actor.device, actor.site, issue_http_codes(world.admin, total), total
        )
        submit_setup(load, workload.setup)  # untimed: the items store_in continues
        timed = iter(workload.timed)

        def take(count: int) -> list[bytes]:
            return list(itertools.islice(timed, count))

        # warm-up: connections, caches, the integrator's first rounds
        load.call("single", WARMUP_RATE, take(round(WARMUP_RATE * WARMUP_S)))
        top = max(plan.rates)
        checked = load.call("single", top, round(top * PROBE_S))
        probe = Probe(db, top, checked["scheduled"])
        probe.ok = sum(1 for code in checked["status"] if code == 200)
        probe.achieved = probe.ok / checked["span"] if checked["span"] > 0 else 0.0
        probe.lat_ms = sorted(1000 * x for x in checked["latency"])
        lag = LagRow(db)
        before_phase = scrape(server.base_url)
        rows: list[SingleRow] = []
        for rate, count in zip(plan.rates, plan.single_counts, strict=True):
            before = scrape(server.base_url)
            cpu_before = process_cpu_s(server_pid)
            result = load.call("single", rate, take(count))
            cpu_after = process_cpu_s(server_pid)
            after = scrape(server.base_url)
            row = SingleRow(db, rate, plan.duration, scheduled=count, sent=result["sent"])
            for code in result["status"]:
                if code == 201:
                    row.ok += 1
                elif code != 0:
                    row.errors[code] = row.errors.get(code, 0) + 1
            row.achieved = row.ok / result["span"] if result["span"] > 0 else 0.0
            row.lat_ms = sorted(1000 * x for x in result["latency"])
            row.server_ms = server_mean_ms(after, before)
            if row.ok and cpu_before is not None and cpu_after is not None:
                row.cpu_ms = 1000 * (cpu_after - cpu_before) / row.ok
            row.gave_up = result["gave_up"]
            polls: list[tuple[float, int]] = result["polls"]
            seen_at = [t for t, _ in polls]
            sizes = list(itertools.accumulate((s for _, s in polls), max))
            lags: list[float] = []
            for receipt in result["receipts"]:
                if receipt is None:
                    continue
                index, log_time = receipt
                position = bisect_right(sizes, index)  # first poll whose size > index
                if position == len(sizes):
                    lag.uncovered += 1
                    continue
                lags.append(seen_at[position] - parse_utc(log_time).timestamp())
            row.lag_s = sorted(lags)
            lag.lag_s.extend(lags)
            lag.poll_errors += result["poll_errors"]
            rows.append(row)
            log.print(
                f"  [{db}] {rate} req/s offered: {row.achieved:,.0f} achieved, "
                f"p50 {fmt_ms(row.pct(0.5))} ms, p99 {fmt_ms(row.pct(0.99))} ms"
                + (", overloaded (load stopped)" if row.gave_up else "")
            )
        lag_histogram(lag, scrape(server.base_url), before_phase)
        lag.lag_s.sort()

        log.print(f"  [{db}] batches of {BATCH}: HTTP and core, {plan.rounds} rounds ...")
        core = Core(core_url, home / "core-keys")
        core_count = BATCH * (plan.rounds + 1) + SINGLE_CORE
        core_work = build_workload(core.session, "site-a", core.codes(core_count), core_count)
        for first in range(0, len(core_work.setup), BATCH):
            core.submit(core_work.setup[first : first + BATCH])
        batches = BatchRow(db)
        http_batches = [take(BATCH) for _ in range(plan.rounds + 1)]
        core_batches = [
            core_work.timed[i * BATCH : (i + 1) * BATCH] for i in range(plan.rounds + 1)
        ]
        singles = core_work.timed[BATCH * (plan.rounds + 1) :]
        for r, (http_chunk, core_chunk) in enumerate(zip(http_batches, core_batches, strict=True)):
            http_body = batch_body(http_chunk)
            steps = ["http", "core"] if r % 2 == 0 else ["core", "http"]
            for step in steps:
                if step == "http":
                    elapsed = load.call("batch", http_body, len(http_chunk))["elapsed"]
                    if r:  # round 0 warms both up
                        batches.http_s.append(elapsed)
                else:
                    elapsed = core.submit(core_chunk)
                    if r:
                        batches.core_s.append(elapsed)
        for payload in singles:
            batches.core_single_ms.append(1000 * core.submit([payload]))
        batches.core_single_ms.sort()
        batches.log_sizes = (
            int(httpx.get(server.base_url + "/readyz", timeout=10).json()["log_size"]),
            core.deployment.store.log_size(),
        )
        log.print(
            f"  [{db}] batch: HTTP {batches.http_rate:,.0f} ev/s, core {batches.core_rate:,.0f} "
            f"ev/s ({100 * batches.ratio:.1f}%)"
        )
        if next(timed, None) is not None:
            raise RuntimeError("workload sizing: unused HTTP events")
        return rows, batches, lag, probe
    except Exception:
        log.print(f"[red]{db}: server log tail:[/red]\n{server.tail()}")
        raise
    finally:
        if load is not None:
            load.close()
        if core is not None:
            core.close()
        server.close()


# --------------------------------------------------------------------------------------------
# PostgreSQL


# --------------------------------------------------------------------------------------------
# reporting


def fmt_ms(value: float) -> str:
    if value != value:  # nan
        return "-"
    if value == float("inf"):
        return f"≥{1000 * MAX_BEHIND_S:,.0f}"
    return f"{value:.1f}" if value < 100 else f"{value:,.0f}"


def fmt_s(value: float | None) -> str:
    if value is None or value != value:
        return "-"
    if value == float("inf"):
        return "> max bucket"
    return f"{value:.2f}"


def single_table(rows: Sequence[SingleRow]) -> Any:
    table = results_table(
        "Single events: POST /v1/events, open loop (latency from the scheduled send time)",
        ["database", "offered/s", "scheduled", "ok", "errors", "achieved/s", "p50 ms",
         "p90 ms", "p99 ms", "max ms", "server ms", "CPU ms/req", "lag p50 s", "lag p99 s",
         "target"],
    )  # fmt: skip
    for row in rows:
        if row.skipped:
            skip_row(table, [row.db, str(row.rate)])
            continue
        target = ""
        if row.rate == TARGET_RATE:
            p99 = row.pct(0.99)
            target = f"p99≤{P99_TARGET_MS:g}ms " + ("PASS" if p99 <= P99_TARGET_MS else "MISS")
        errors = ", ".join(f"{n}×{code if code > 0 else 'conn'}" for code, n in row.errors.items())
        table.add_row(
            row.db,
            str(row.rate),
            f"{row.scheduled:,}",
            f"{row.ok:,}",
            errors or "0",
            f"{row.achieved:,.0f}" + ("*" if row.gave_up else ""),
            fmt_ms(row.pct(0.50)),
            fmt_ms(row.pct(0.90)),
            fmt_ms(row.pct(0.99)),
            fmt_ms(row.lat_ms[-1] if row.lat_ms else float("nan")),
            fmt_ms(row.server_ms) if row.server_ms is not None else "-",
            f"{row.cpu_ms:.2f}" if row.cpu_ms is not None else "-",
            fmt_s(percentile(row.lag_s, 0.5)),
            fmt_s(percentile(row.lag_s, 0.99)),
            target,
        )
    return table


def batch_table(rows: Sequence[BatchRow]) -> Any:
    table = results_table(
        f"Batches of {BATCH}: POST /v1/events:batch vs Ingestor.submit (no HTTP), interleaved",
        ["database", "rounds", "HTTP ev/s", "HTTP ms/batch", "HTTP ±", "core ev/s",
         "core ms/batch", "core ±", "HTTP/core", "core batch-1 p50 ms", "log sizes",
         "target"],
    )  # fmt: skip
    for row in rows:
        if row.skipped:
            skip_row(table, [row.db])
            continue
        http_rounds = [BATCH / s for s in row.http_s]
        core_rounds = [BATCH / s for s in row.core_s]
        table.add_row(
            row.db,
            str(len(row.http_s)),
            f"{row.http_rate:,.0f}",
            f"{1000 * sum(row.http_s) / len(row.http_s):.0f}",
            f"±{spread(http_rounds):.0f}%",
            f"{row.core_rate:,.0f}",
            f"{1000 * sum(row.core_s) / len(row.core_s):.0f}",
            f"±{spread(core_rounds):.0f}%",
            f"{100 * row.ratio:.1f}%",
            f"{percentile(row.core_single_ms, 0.5):.2f}",
            f"{row.log_sizes[0]:,} / {row.log_sizes[1]:,}",
            f"≥ {RATIO_TARGET:.0%} " + ("PASS" if row.ratio >= RATIO_TARGET else "MISS"),
        )
    return table


def lag_table(rows: Sequence[LagRow]) -> Any:
    table = results_table(
        "Checkpoint lag: receipt log_time → a served GET /v1/log/checkpoint covers the index",
        ["database", "events", "p50 s", "p90 s", "p99 s", "max s", "uncovered",
         "prom count", "prom mean s", "prom p50 ≤ s", "prom p99 ≤ s", "target"],
    )  # fmt: skip
    for row in rows:
        if row.skipped:
            skip_row(table, [row.db])
            continue
        p99 = percentile(row.lag_s, 0.99)
        ok = p99 <= LAG_P99_TARGET_S and not row.uncovered
        table.add_row(
            row.db,
            f"{len(row.lag_s):,}",
            fmt_s(percentile(row.lag_s, 0.5)),
            fmt_s(percentile(row.lag_s, 0.9)),
            fmt_s(p99),
            fmt_s(row.lag_s[-1] if row.lag_s else None),
            str(row.uncovered),
            f"{row.prom_count:,.0f}",
            fmt_s(row.prom_sum / row.prom_count if row.prom_count else None),
            fmt_s(row.prom_quantile(0.5)),
            fmt_s(row.prom_quantile(0.99)),
            f"p99 ≤ {LAG_P99_TARGET_S:g} s " + ("PASS" if ok else "MISS"),
        )
    return table


def verdicts(
    singles: Sequence[SingleRow], batches: Sequence[BatchRow], lags: Sequence[LagRow]
) -> list[str]:
    lines: list[str] = []
    for row in singles:
        if row.rate != TARGET_RATE:
            continue
        scope = "" if row.db == "PostgreSQL" else " (the target is set for PostgreSQL)"
        if row.skipped:
            lines.append(
                f"SKIP  single-event p99 at {TARGET_RATE} req/s on {row.db}: {row.skipped}"
            )
            continue
        p99 = row.pct(0.99)
        lines.append(
            f"{'PASS' if p99 <= P99_TARGET_MS else 'MISS'}  single-event p99 at {TARGET_RATE} "
            f"req/s on {row.db}: {fmt_ms(p99)} ms (p50 {fmt_ms(row.pct(0.5))} ms, achieved "
            f"{row.achieved:,.0f} req/s; target ≤ {P99_TARGET_MS:g} ms){scope}"
        )
    for db in dict.fromkeys(row.db for row in singles):
        curve = [r for r in singles if r.db == db and not r.skipped]
        if len(curve) < 2:
            continue
        knee = knee_of(curve)
        scope = "" if db == "PostgreSQL" else " (the target is set for PostgreSQL)"
        lines.append(
            f"{'PASS' if knee >= KNEE_TARGET else 'MISS'}  knee of the single-event curve on "
            f"{db}: {knee:,} req/s offered (the highest load achieved in full at p99 ≤ "
            f"{KNEE_P99_MS:g} ms; target ≥ 3 × {KNEE_BASELINE} = {KNEE_TARGET}){scope}"
        )
    for batch in batches:
        scope = "" if batch.db == "PostgreSQL" else " (the target is set for PostgreSQL)"
        if batch.skipped:
            lines.append(f"SKIP  batch HTTP/core ratio on {batch.db}: {batch.skipped}")
            continue
        lines.append(
            f"{'PASS' if batch.ratio >= RATIO_TARGET else 'MISS'}  batch-of-{BATCH} ingest over "
            f"HTTP on {batch.db}: {batch.http_rate:,.0f} ev/s = {100 * batch.ratio:.1f}% of the "
            f"core's {batch.core_rate:,.0f} ev/s (target ≥ {RATIO_TARGET:.0%}){scope}"
        )
    for lag in lags:
        if lag.skipped:
            lines.append(f"SKIP  checkpoint lag p99 on {lag.db}: {lag.skipped}")
            continue
        p99 = percentile(lag.lag_s, 0.99)
        ok = p99 <= LAG_P99_TARGET_S and not lag.uncovered
        lines.append(
            f"{'PASS' if ok else 'MISS'}  checkpoint lag p99 on {lag.db}: {fmt_s(p99)} s "
            f"(p50 {fmt_s(percentile(lag.lag_s, 0.5))} s, {len(lag.lag_s):,} events, "
            f"{lag.uncovered} never covered; target ≤ {LAG_P99_TARGET_S:g} s)"
        )
    return lines


def knee_of(curve: Sequence[SingleRow]) -> int:
    """The highest offered rate served in full (≥ 95 % achieved, none stopped) at the knee's p99,
    with every lower rate served too: a curve that recovers past a failure does not count."""
    knee = 0
    for row in sorted(curve, key=lambda r: r.rate):
        served = not row.gave_up and not row.errors and row.achieved >= 0.95 * row.rate
        if not (served and row.pct(0.99) <= KNEE_P99_MS):
            break
        knee = row.rate
    return knee


def print_header(out: Any, plan: Plan, tmp: Path) -> None:
    import fastapi
    import sqlalchemy
    import uvicorn

    for line in header_lines("bench.api"):
        out.print(line)
    out.print(
        f"python {platform.python_version()}, FastAPI {fastapi.__version__}, uvicorn "
        f"{uvicorn.__version__}, httpx {httpx.__version__}, SQLAlchemy {sqlalchemy.__version__}, "
        f"SQLite {sqlite3.sqlite_version}"
    )
    out.print(
        f"settings: offered loads {', '.join(map(str, plan.rates))} req/s × {plan.duration:g} s "
        "each "
        f"(after a {WARMUP_S:g} s warm-up at {WARMUP_RATE}/s), {SENDERS} sender threads with one "
        f"keep-alive connection each; batches of {BATCH} × {plan.rounds} rounds (+1 warm-up); "
        f"checkpoint poll {POLL_HZ} Hz; server: {plan.workers} uvicorn worker(s), no Redis, "
        f"CHEMTRACE_RATE_LIMIT_PER_MINUTE=0, CHEMTRACE_CHECKPOINT_INTERVAL_S="
        f"{CHECKPOINT_INTERVAL_S:g}; temp dir {tmp}"
    )


# --------------------------------------------------------------------------------------------
# main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.api", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="3 s per load, 4 batch rounds")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--duration", type=float, help="seconds per offered load (default 8)")
    parser.add_argument("--rounds", type=int, help="timed batch rounds (default 10)")
    parser.add_argument(
        "--curve",
        action="store_true",
        help=f"offered loads {CURVE_RATES[0]}…{CURVE_RATES[-1]} req/s: the full latency curve "
        f"and its knee (the highest load served in full at p99 ≤ {KNEE_P99_MS:g} ms)",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="the server's uvicorn worker processes (default 1)"
    )
    args = parser.parse_args(argv)
    plan = Plan(
        workers=args.workers,
        duration=args.duration or (3.0 if args.quick else 8.0),
        rounds=args.rounds or (4 if args.quick else 10),
        rates=tuple(sorted({*RATES, *CURVE_RATES})) if args.curve else RATES,
    )
    out = _console()
    log = out.__class__(stderr=True, highlight=False)
    started = time.perf_counter()
    singles: list[SingleRow] = []
    batches: list[BatchRow] = []
    lags: list[LagRow] = []
    probes: list[Probe] = []
    with tempfile.TemporaryDirectory(prefix="chemtrace-bench-api-") as tmp_name:
        tmp = Path(tmp_name)
        print_header(out, plan, tmp)
        log.print("SQLite ...")
        s, b, lag, probe = bench_database(
            "SQLite",
            tmp / "sqlite",
            f"sqlite:///{tmp / 'sqlite' / 'var' / 'chemtrace.db'}",
            f"sqlite:///{tmp / 'sqlite' / 'core.db'}",
            plan,
        )
        singles += s
        batches.append(b)
        lags.append(lag)
        probes.append(probe)

        if not args.no_postgres:
            log.print("PostgreSQL: starting a private server ...")
        pg = contextlib.nullcontext((None, "--no-postgres")) if args.no_postgres else postgres(tmp)
        with pg as (server, reason):
            if server is None:
                pg_note = f"PostgreSQL: skipped: {reason}"
                singles += [
                    SingleRow("PostgreSQL", r, plan.duration, skipped=reason) for r in plan.rates
                ]
                batches.append(BatchRow("PostgreSQL", skipped=reason))
                lags.append(LagRow("PostgreSQL", skipped=reason))
            else:
                pg_note = (
                    f"PostgreSQL {pg_version(server)}: private server via "
                    f"tests.servers.PostgresServer, TCP on 127.0.0.1, ({pg_durability(server)}); "
                    "the server's and the core's databases are two databases of that one cluster"
                )
                log.print("PostgreSQL ...")
                s, b, lag, probe = bench_database(
                    "PostgreSQL",
                    tmp / "postgres",
                    server.create_database("bench_http"),
                    server.create_database("bench_core"),
                    plan,
                )
                singles += s
                batches.append(b)
                lags.append(lag)
                probes.append(probe)

        out.print(
            "SQLite: a file in the temp dir, WAL, synchronous=FULL, BEGIN IMMEDIATE "
            "(ledger.store.engine.make_engine); the core's database is a second file"
        )
        out.print(pg_note)
        out.print()
        out.print(single_table(singles))
        out.print(
            "ok = 201 answers; achieved = ok / (last answer − first due time); latency = answer "
            "time − due time, measured in the load process; server ms = mean of the service's own "
            "chemtrace_http_request_seconds for these requests (from its middleware on, so without "
            "the wait for the event loop); CPU ms/req = the server process's user+system CPU "
            "over the load / ok (all its threads: independent of what else the machine runs, so "
            "comparable across runs); lag: the checkpoint lag of that load's events"
            + (
                f"; * overloaded: the load stopped once a sender fell {MAX_BEHIND_S:g} s behind "
                f"schedule; requests never sent (or never answered) count as "
                f"≥{1000 * MAX_BEHIND_S:,.0f} ms: while the offered load exceeds capacity the "
                "backlog only grows, so they would have been at least that late"
                if any(r.gave_up for r in singles)
                else ""
            )
        )
        for probe in probes:
            p50, p99 = (fmt_ms(percentile(probe.lat_ms, q)) for q in (0.5, 0.99))
            out.print(
                f"load generator check on the {probe.db} server: GET /healthz open loop at "
                f"{probe.rate}/s for {PROBE_S:g} s, same senders: {probe.ok:,}/{probe.scheduled:,} "
                f"ok, {probe.achieved:,.0f}/s achieved, p50 {p50} ms, p99 {p99} ms"
            )
        out.print()
        out.print(batch_table(batches))
        out.print(
            f"one round = one batch of {BATCH} events (half commission of fresh items, half "
            "store_in of items commissioned beforehand); HTTP = the load process's wall time for "
            "the request (body pre-encoded; parsing the answer not timed); core = "
            "Ingestor.submit of the same shape of events on a fresh database (json.loads not "
            "timed); ±: half the max-min range of per-round rates relative to their median; "
            "core batch-1 = Ingestor.submit of one event, for scale; log sizes: HTTP / core "
            "ledger entries at the end"
        )
        out.print()
        out.print(lag_table(lags))
        out.print(
            f"measured over the single-event loads; a {POLL_HZ} Hz poller adds up to "
            f"{1000 // POLL_HZ} ms. prom = the server's chemtrace_checkpoint_lag_seconds over the "
            "same span (its own definition: age of the oldest uncheckpointed entry when the "
            "integrator signs; quantiles are bucket upper bounds)"
        )
        out.print()
        for line in verdicts(singles, batches, lags):
            out.print(line)

        out.print(
            f"total runtime: {time.perf_counter() - started:.1f} s; load average at the end "
            f"{load_average()} (server, load client and PostgreSQL share the CPUs)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
