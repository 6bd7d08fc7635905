"""Core benchmark: ingest throughput against a crypto-plus-INSERT baseline, and proof latency.

Run from the project root::

    .venv/bin/python -m bench.core [--quick] [--events N] [--leaves N]

Two measurements, on SQLite (a file in a temp dir) and PostgreSQL (a private
throw-away server started with ``tests.servers.PostgresServer``) side by side:

1. **Ingest.** ``Ingestor.submit`` of pre-built, pre-signed envelopes (half
   ``commission`` of fresh items, half ``use`` of items commissioned before the
   clock starts; every event touches a distinct item) at batch size 1 and 100,
   against a **baseline** that does the same cryptographic work per event —
   one RFC 8785 canonicalisation of the envelope, one Ed25519 verify of the body
   signature, the event and leaf SHA-256 hashes, one Ed25519 receipt signature —
   and a plain INSERT of the canonical envelope into a one-table database through
   the same ``make_engine`` settings, one transaction per batch. Rounds of ours
   and of the baseline are interleaved so drift hits both alike.
2. **Inclusion proofs.** A log of ``--leaves`` leaves is written straight into
   ``log_node`` (nodes computed with :class:`ledger.merkle.Frontier` over
   synthetic leaf hashes, bulk-inserted in chunks, ``log_state.size`` set), then
   ``SqlLedgerStore.inclusion_proof`` is timed for random indices and a sample
   of proofs is checked with ``verify_inclusion`` against ``root_at``.

``--profile FILE`` instead runs one ingest config under cProfile (SQLite, batch
100 unless ``--profile-pg`` / ``--profile-batch``; on a log pre-filled with
``--leaves`` synthetic leaves if given) and writes the stats to FILE, printing
the top functions; it is kept out of the timed runs so profiling overhead never
skews them.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import cProfile
import functools
import hashlib
import json
import platform
import pstats
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import rfc8785
import sqlalchemy
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from rich.console import Console
from rich.table import Table
from sqlalchemy import Column, LargeBinary, MetaData, insert, text, update
from sqlalchemy import Table as SqlTable

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
from ledger.append import Accepted
from ledger.builder import DeviceSession
from ledger.canonical import EVENT, EVENT_BODY, RECEIPT, JsonValue
from ledger.codes import MAX_BATCH_COUNT, issue_batch
from ledger.custody import DEFAULT_POLICY
from ledger.merkle import Frontier, NodeId, root_at, verify_inclusion
from ledger.signing import Signer
from ledger.store import schema as t
from ledger.store.engine import IMMEDIATE, make_engine
from ledger.store.migrate import open_store
from ledger.timefmt import format_utc
from tests.harness import ORIGIN, Harness

BATCH_SIZES = (1, 100)
ROUNDS = 5
PROOF_QUERIES = 2_000
PROOF_WARMUP = 200
PROOF_VERIFY = 200
PROOF_BUDGET_S = 60.0  # per database; fewer proofs are timed if they are this slow
SCALE_SINGLES = 20
SCALE_BATCHES = 3
LOAD_CHUNK = 50_000
INGEST_TARGET = 0.70  # ours / baseline at batch 100
PROOF_P99_TARGET_MS = 2.0

Envelope = dict[str, JsonValue]

out = Console(width=170, highlight=False, soft_wrap=False)
log = Console(stderr=True, highlight=False)


# --------------------------------------------------------------------------------------------
# helpers


def spread(rates: Sequence[float]) -> float:
    """Max-min of per-round rates relative to their median, in percent."""
    ordered = sorted(rates)
    median = ordered[len(ordered) // 2]
    return 100.0 * (ordered[-1] - ordered[0]) / median if median else 0.0


def synthetic_leaf(index: int) -> bytes:
    return hashlib.sha256(b"chemtrace-bench-leaf" + index.to_bytes(8, "big")).digest()


# --------------------------------------------------------------------------------------------
# the baseline: the same crypto per event, then a plain INSERT


def jcs(value: Any) -> bytes:
    """RFC 8785 for the bench's envelopes (ASCII keys, small integers, no floats): what the
    standard library's C encoder writes with sorted keys and no spaces. Checked against the
    ``rfc8785`` library on every timed envelope before any clock starts."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


class Baseline:
    """Canonicalise, verify, hash, sign a receipt, INSERT the envelope bytes. Nothing else."""

    def __init__(self, url: str, log_signer: Signer, device_keys: dict[str, bytes]) -> None:
        self.engine = make_engine(url)
        metadata = MetaData()
        self.table = SqlTable(
            "plain_event",
            metadata,
            Column("event_hash", LargeBinary(32), primary_key=True),
            Column("envelope", LargeBinary, nullable=False),
        )
        metadata.create_all(self.engine)
        self._sign = log_signer.sign
        self._keys = {
            kid: Ed25519PublicKey.from_public_bytes(pk) for kid, pk in device_keys.items()
        }

    def submit(self, envelopes: Sequence[Any]) -> list[bytes]:
        log_time = format_utc(datetime.now(UTC)).encode()
        rows: list[dict[str, bytes]] = []
        receipts: list[bytes] = []
        for env in envelopes:
            canonical = jcs(env)
            # JCS(envelope) is {"body":JCS(body),"signature":{...}}: the body's canonical
            # bytes are a slice of it, so one canonicalisation serves both hash and verify.
            body = canonical[8 : canonical.rindex(b',"signature":')]
            self._keys[env["body"]["device_key"]].verify(
                base64.b64decode(env["signature"]["value"]), EVENT_BODY + body
            )
            event_hash = hashlib.sha256(EVENT + canonical).digest()
            hash_text = b"sha256:" + event_hash.hex().encode()
            leaf_input = (
                b'{"hash":"' + hash_text + b'","kind":"event","log_time":"' + log_time + b'","v":1}'
            )
            leaf = hashlib.sha256(b"\x00" + leaf_input).digest()
            receipts.append(
                self._sign(
                    RECEIPT
                    + b'{"entry_hash":"'
                    + hash_text
                    + b'","leaf_hash":"sha256:'
                    + leaf.hex().encode()
                    + b'","log_time":"'
                    + log_time
                    + b'"}'
                )
            )
            rows.append({"event_hash": event_hash, "envelope": canonical})
        with self.engine.connect().execution_options(**{IMMEDIATE: True}) as conn, conn.begin():
            conn.execute(insert(self.table), rows)
        return receipts


# --------------------------------------------------------------------------------------------
# ingest


@dataclass
class EventSet:
    setup: list[Envelope]  # commissions of the items the timed `use` events continue
    timed: list[Envelope]


def issue_codes(h: Harness, org: str, count: int) -> list[str]:
    """Registry-issued codes, logged in batches: the production path rejects any other code."""
    codes: list[str] = []
    root = (h.root.algorithm, h.root.public_key)
    while len(codes) < count:
        size = min(MAX_BATCH_COUNT, count - len(codes))
        batch = issue_batch(
            org, "1.1", "cylinder", f"B{len(codes):06d}", "2026-09-30", size, h.root
        )
        h.store.append_code_batch(batch, root=root, log_signer=h.log)
        codes.extend(signed.code for signed in batch)
    return codes


def build_events(h: Harness, device: DeviceSession, count: int) -> EventSet:
    """``count`` signed events on distinct items: even positions commission, odd ones use."""
    uses = count // 2
    used = issue_codes(h, device.org, uses)
    fresh = iter(issue_codes(h, device.org, count - uses))
    setup = [h.commission(device, code) for code in used]
    timed: list[Envelope] = []
    for i in range(count):
        if i % 2 and i // 2 < uses:
            timed.append(h.use(device, used[i // 2]))
        else:
            timed.append(h.commission(device, next(fresh)))
    return EventSet(setup, timed)


def submit_all(h: Harness, envelopes: Sequence[Envelope], batch: int) -> None:
    for start in range(0, len(envelopes), batch):
        check_accepted(h.submit(envelopes[start : start + batch]))


def check_accepted(outcomes: Sequence[object]) -> None:
    for outcome in outcomes:
        if not isinstance(outcome, Accepted) or outcome.duplicate:
            raise RuntimeError(f"benchmark event was not freshly accepted: {outcome!r}")


@dataclass
class IngestRow:
    db: str
    batch: int
    events: int
    ours_s: float = 0.0
    base_s: float = 0.0
    ours_rounds: list[float] = field(default_factory=list)
    base_rounds: list[float] = field(default_factory=list)
    skipped: str | None = None
    log_from: int = 0
    log_to: int = 0

    @property
    def ours_rate(self) -> float:
        return self.events / self.ours_s

    @property
    def base_rate(self) -> float:
        return self.events / self.base_s

    @property
    def ratio(self) -> float:
        return self.ours_rate / self.base_rate


def _timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_ingest(db: str, url_ledger: str, url_plain: str, events: int) -> list[IngestRow]:
    h = Harness.create(url_ledger, require_issued_codes=True, custody=DEFAULT_POLICY)
    device = h.device("org-bench")
    baseline = Baseline(url_plain, h.log, {device.signer.key_id: device.signer.public_key})
    sample = h.commission(device, issue_codes(h, device.org, 1)[0])
    canonical = rfc8785.dumps(sample)
    assert canonical[8 : canonical.rindex(b',"signature":')] == rfc8785.dumps(sample["body"])
    assert jcs(sample) == canonical, "the baseline's encoder is not RFC 8785 on these envelopes"
    check_accepted(h.submit([sample]))

    rows: list[IngestRow] = []
    try:
        for batch in BATCH_SIZES:
            per_round = max(batch, (events // ROUNDS) // batch * batch)
            total = per_round * ROUNDS
            warmup = max(10 * batch, 200) if batch > 1 else 100
            log.print(f"  [{db}] batch {batch}: signing {warmup + total} envelopes ...")
            warm = build_events(h, device, warmup)
            timed = build_events(h, device, total)
            if any(jcs(e) != rfc8785.dumps(e) for e in timed.timed):
                raise RuntimeError("the baseline's encoder is not RFC 8785 on these envelopes")
            submit_all(h, warm.setup + timed.setup, 100)  # untimed: the items `use` continues

            # warm-up both paths (connections, statement caches, page cache, WAL)
            submit_all(h, warm.timed, batch)
            for start in range(0, len(warm.timed), batch):
                baseline.submit(warm.timed[start : start + batch])

            row = IngestRow(db, batch, total, log_from=h.store.log_size())
            for r in range(ROUNDS):
                chunk = timed.timed[r * per_round : (r + 1) * per_round]
                batches = [chunk[s : s + batch] for s in range(0, len(chunk), batch)]
                outcomes: list[object] = []

                def ours(
                    batches: list[list[Envelope]] = batches, sink: list[object] = outcomes
                ) -> None:
                    for group in batches:
                        sink.extend(h.ingestor.submit(group))

                def base(batches: list[list[Envelope]] = batches) -> None:
                    for group in batches:
                        baseline.submit(group)

                order = (ours, base) if r % 2 == 0 else (base, ours)
                for fn in order:
                    elapsed = _timed(fn)
                    if fn is ours:
                        row.ours_s += elapsed
                        row.ours_rounds.append(per_round / elapsed)
                    else:
                        row.base_s += elapsed
                        row.base_rounds.append(per_round / elapsed)
                check_accepted(outcomes)
                if len(outcomes) != per_round:
                    raise RuntimeError("an event got no outcome")
            row.log_to = h.store.log_size()
            log.print(
                f"  [{db}] batch {batch}: ours {row.ours_rate:,.0f} ev/s, "
                f"baseline {row.base_rate:,.0f} ev/s ({100 * row.ratio:.1f}%)"
            )
            rows.append(row)
    finally:
        h.store.engine.dispose()
        baseline.engine.dispose()
    return rows


# --------------------------------------------------------------------------------------------
# inclusion proofs


@dataclass
class Tree:
    size: int
    root: bytes
    nodes: list[tuple[NodeId, bytes]]
    build_s: float


def build_tree(leaves: int) -> Tree:
    start = time.perf_counter()
    frontier = Frontier.empty()
    nodes: list[tuple[NodeId, bytes]] = []
    for index in range(leaves):
        nodes.extend(frontier.append(synthetic_leaf(index)))
    return Tree(leaves, frontier.root(), nodes, time.perf_counter() - start)


@dataclass
class ProofRow:
    db: str
    leaves: int
    load_s: float = 0.0
    lat_ms: list[float] = field(default_factory=list)
    verified: int = 0
    checked: int = 0
    skipped: str | None = None
    capped: str | None = None

    def pct(self, q: float) -> float:
        return percentile(self.lat_ms, q)


def load_tree(url: str, tree: Tree) -> float:
    """Write the tree's nodes straight into ``log_node`` and set ``log_state.size``."""
    engine = make_engine(url)
    marker = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    sql = f"INSERT INTO log_node (level, idx, hash) VALUES ({marker}, {marker}, {marker})"  # noqa: S608
    start = time.perf_counter()
    try:
        for first in range(0, len(tree.nodes), LOAD_CHUNK):
            params = [
                (level, index, digest)
                for (level, index), digest in tree.nodes[first : first + LOAD_CHUNK]
            ]
            with engine.begin() as conn:
                conn.exec_driver_sql(sql, params)
        with engine.begin() as conn:
            conn.execute(update(t.log_state).where(t.log_state.c.id == 1).values(size=tree.size))
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:  # what autovacuum would long have done on a real log
                conn.execute(text("ANALYZE log_node"))
    finally:
        engine.dispose()
    return time.perf_counter() - start


def bench_proofs(db: str, url: str, tree: Tree, budget_s: float) -> ProofRow:
    """Time ``inclusion_proof`` for up to PROOF_QUERIES random indices.

    If proofs are so slow that PROOF_QUERIES would blow ``budget_s``, fewer are
    timed (``row.capped`` says so) rather than letting the run take hours.
    """
    row = ProofRow(db, tree.size)
    store = open_store(url, origin=ORIGIN)
    try:
        log.print(f"  [{db}] loading {len(tree.nodes):,} log_node rows ...")
        row.load_s = load_tree(url, tree)
        if store.log_size() != tree.size:
            raise RuntimeError("log_state.size was not set")
        root = root_at(store, tree.size)
        if root != tree.root:
            raise RuntimeError("root_at over the stored nodes differs from the in-memory root")
        rng = random.Random(20261121)
        warm_start = time.perf_counter()
        warm = 0
        while warm < PROOF_WARMUP and (warm < 5 or time.perf_counter() - warm_start < 5.0):
            store.inclusion_proof(rng.randrange(tree.size), tree.size)
            warm += 1
        per_proof = (time.perf_counter() - warm_start) / warm
        queries = PROOF_QUERIES
        if per_proof * queries > budget_s:
            queries = max(50, int(budget_s / per_proof))
            row.capped = (
                f"{db}: only {queries:,} of {PROOF_QUERIES:,} proofs timed: warm-up took "
                f"{1000 * per_proof:.1f} ms/proof, {PROOF_QUERIES:,} would take "
                f"~{per_proof * PROOF_QUERIES:,.0f} s (budget {budget_s:.0f} s)"
            )
            log.print(f"  [{db}] {row.capped}")
        edges = [0, tree.size - 1, tree.size // 2, (1 << (tree.size.bit_length() - 1)) - 1]
        indices = edges + [rng.randrange(tree.size) for _ in range(queries - len(edges))]
        proofs: list[list[bytes]] = []
        clock = time.perf_counter_ns
        for index in indices:
            start = clock()
            proof = store.inclusion_proof(index, tree.size)
            row.lat_ms.append((clock() - start) / 1e6)
            proofs.append(proof)
        row.lat_ms.sort()
        verify = min(PROOF_VERIFY, len(indices))
        sample = list(range(len(edges))) + rng.sample(
            range(len(edges), len(indices)), verify - len(edges)
        )
        for position in sample:
            index = indices[position]
            row.checked += 1
            verify_inclusion(synthetic_leaf(index), index, tree.size, proofs[position], root)
            row.verified += 1
    finally:
        store.engine.dispose()
    return row


@dataclass
class ScaleRow:
    db: str
    log_size: int
    single_ms: list[float] = field(default_factory=list)
    batch_ms: list[float] = field(default_factory=list)
    skipped: str | None = None


def bench_big_log(db: str, url: str, size: int) -> ScaleRow:
    """Scale check: ``Ingestor.submit`` on the big proof log (same shapes as the ingest test)."""
    row = ScaleRow(db, size)
    h = Harness.create(url, require_issued_codes=True, custody=DEFAULT_POLICY)
    try:
        device = h.device("org-scale")
        singles = build_events(h, device, SCALE_SINGLES)
        batched = build_events(h, device, 100 * SCALE_BATCHES)
        submit_all(h, singles.setup + batched.setup, 100)
        row.log_size = h.store.log_size()
        for envelope in singles.timed:
            row.single_ms.append(1000 * _timed(functools.partial(submit_all, h, [envelope], 1)))
        for first in range(0, len(batched.timed), 100):
            group = batched.timed[first : first + 100]
            row.batch_ms.append(1000 * _timed(functools.partial(submit_all, h, group, 100)))
    finally:
        h.store.engine.dispose()
    return row


# --------------------------------------------------------------------------------------------
# reporting


def print_header(args: argparse.Namespace, tmp: Path, budget: float) -> None:
    for line in header_lines("bench.core"):
        out.print(line)
    out.print(
        f"python {platform.python_version()} ({platform.python_implementation()}), "
        f"SQLAlchemy {sqlalchemy.__version__}, SQLite {sqlite3.sqlite_version}, "
        f"rfc8785 {getattr(rfc8785, '__version__', '?')}"
    )
    out.print(
        f"settings: events/config={args.events:,} in {ROUNDS} interleaved rounds, "
        f"batch sizes {', '.join(map(str, BATCH_SIZES))}, proof leaves={args.leaves:,}, "
        f"proof queries={PROOF_QUERIES:,} (+{PROOF_WARMUP} warm-up; capped at a "
        f"{budget:.0f} s budget per database), verified={PROOF_VERIFY}; temp dir {tmp}"
    )


def ingest_table(rows: Sequence[IngestRow]) -> Table:
    table = results_table(
        "Ingest: Ingestor.submit vs baseline (same crypto + plain INSERT)",
        [
            "database",
            "batch",
            "events",
            "log size",
            "ours ev/s",
            "ours ms/commit",
            "ours ±",
            "base ev/s",
            "base ms/commit",
            "base ±",
            "ours/base",
            "target",
        ],
    )
    for row in rows:
        if row.skipped:
            skip_row(table, [row.db, str(row.batch), "-", "-"])
            continue
        commits = row.events / row.batch
        target = ""
        if row.batch == 100:
            target = f"≥ {INGEST_TARGET:.0%} " + ("PASS" if row.ratio >= INGEST_TARGET else "FAIL")
        table.add_row(
            row.db,
            str(row.batch),
            f"{row.events:,}",
            f"{row.log_from:,}→{row.log_to:,}",
            f"{row.ours_rate:,.0f}",
            f"{1000 * row.ours_s / commits:.2f}",
            f"±{spread(row.ours_rounds) / 2:.0f}%",
            f"{row.base_rate:,.0f}",
            f"{1000 * row.base_s / commits:.2f}",
            f"±{spread(row.base_rounds) / 2:.0f}%",
            f"{100 * row.ratio:.1f}%",
            target,
        )
    return table


def proof_table(rows: Sequence[ProofRow], tree: Tree) -> Table:
    table = results_table(
        f"Inclusion proofs: SqlLedgerStore.inclusion_proof(index, {tree.size:,})",
        [
            "database",
            "leaves",
            "load s",
            "proofs",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "mean ms",
            "verified",
            "target",
        ],
    )
    for row in rows:
        if row.skipped:
            skip_row(table, [row.db, f"{row.leaves:,}", "-"])
            continue
        p99 = row.pct(0.99)
        table.add_row(
            row.db,
            f"{row.leaves:,}",
            f"{row.load_s:.1f}",
            f"{len(row.lat_ms):,}" + ("*" if row.capped else ""),
            f"{row.pct(0.50):.3f}",
            f"{row.pct(0.90):.3f}",
            f"{p99:.3f}",
            f"{row.lat_ms[-1]:.3f}",
            f"{sum(row.lat_ms) / len(row.lat_ms):.3f}",
            f"{row.verified}/{row.checked}",
            f"p99 < {PROOF_P99_TARGET_MS:g} ms "
            + ("PASS" if p99 < PROOF_P99_TARGET_MS else "FAIL"),
        )
    return table


def scale_table(rows: Sequence[ScaleRow], fresh: Sequence[IngestRow]) -> Table:
    table = results_table(
        "Scale check: Ingestor.submit on the big proof log (no baseline; few samples)",
        [
            "database",
            "log size",
            "batch 1: commits",
            "p50 ms/commit",
            "max ms",
            "small-log ms",
            "batch 100: commits",
            "p50 ms/commit",
            "ev/s",
            "small-log ms",
        ],
    )
    fresh_ms = {
        (r.db, r.batch): 1000 * r.ours_s * r.batch / r.events for r in fresh if not r.skipped
    }
    for row in rows:
        if row.skipped:
            skip_row(table, [row.db, "-"])
            continue
        single = sorted(row.single_ms)
        batch = sorted(row.batch_ms)
        b50 = percentile(batch, 0.5)
        table.add_row(
            row.db,
            f"{row.log_size:,}",
            str(len(single)),
            f"{percentile(single, 0.5):.2f}",
            f"{single[-1]:.2f}",
            f"{fresh_ms.get((row.db, 1), float('nan')):.2f}",
            str(len(batch)),
            f"{b50:.1f}",
            f"{100_000 / b50:,.0f}",
            f"{fresh_ms.get((row.db, 100), float('nan')):.1f}",
        )
    return table


def verdicts(ingest: Sequence[IngestRow], proofs: Sequence[ProofRow]) -> list[str]:
    lines = []
    for row in ingest:
        if row.batch != 100:
            continue
        if row.skipped:
            lines.append(f"SKIP  ingest ratio at batch 100 on {row.db}: {row.skipped}")
            continue
        verdict = "PASS" if row.ratio >= INGEST_TARGET else "FAIL"
        lines.append(
            f"{verdict}  ingest ratio at batch 100 on {row.db}: ours {row.ours_rate:,.0f} ev/s = "
            f"{100 * row.ratio:.1f}% of baseline {row.base_rate:,.0f} ev/s "
            f"(target ≥ {100 * INGEST_TARGET:.0f}%)"
        )
    for proof in proofs:
        if proof.skipped:
            lines.append(f"SKIP  inclusion proof p99 on {proof.db}: {proof.skipped}")
            continue
        p99 = proof.pct(0.99)
        ok = p99 < PROOF_P99_TARGET_MS and proof.verified == proof.checked
        lines.append(
            f"{'PASS' if ok else 'FAIL'}  inclusion proof p99 on {proof.db} at {proof.leaves:,} "
            f"leaves: {p99:.3f} ms (p50 {proof.pct(0.5):.3f}, max {proof.lat_ms[-1]:.3f}; "
            f"target < {PROOF_P99_TARGET_MS:g} ms), "
            f"{proof.verified}/{proof.checked} proofs verified"
            + (f", {len(proof.lat_ms)} proofs timed (capped)" if proof.capped else "")
        )
    return lines


# --------------------------------------------------------------------------------------------
# profile mode


def profile_ingest(args: argparse.Namespace, tmp: Path) -> None:
    """cProfile one ingest config; write stats to ``args.profile``, print the top functions.

    With ``--leaves`` the log is first pre-filled with that many synthetic leaves
    (as for the proof test) so costs that grow with the log show up.
    """
    path: Path = args.profile
    batch: int = args.profile_batch
    with contextlib.ExitStack() as stack:
        if args.profile_pg:
            server, reason = stack.enter_context(postgres(tmp))
            if server is None:
                raise SystemExit(f"PostgreSQL unavailable: {reason}")
            url = server.create_database("bench_profile")
        else:
            url = f"sqlite:///{tmp / 'profile.db'}"
        if args.leaves_given:
            tree = build_tree(args.leaves)
            open_store(url, origin=ORIGIN).engine.dispose()
            load_tree(url, tree)
        h = Harness.create(url, require_issued_codes=True, custody=DEFAULT_POLICY)
        device = h.device("org-bench")
        warm = build_events(h, device, max(200, 5 * batch))
        timed = build_events(h, device, args.events)
        submit_all(h, warm.setup + timed.setup, 100)
        submit_all(h, warm.timed, batch)
        batches = [timed.timed[s : s + batch] for s in range(0, len(timed.timed), batch)]
        profiler = cProfile.Profile()
        start = time.perf_counter()
        profiler.enable()
        for group in batches:
            h.ingestor.submit(group)
        profiler.disable()
        elapsed = time.perf_counter() - start
        size = h.store.log_size()
        h.store.engine.dispose()
    profiler.dump_stats(str(path))
    print(
        f"profiled {args.events} events at batch {batch} on "
        f"{'PostgreSQL' if args.profile_pg else 'SQLite'} in {elapsed:.2f} s "
        f"(under cProfile; log size at the end {size:,}); stats in {path}"
    )
    stats = pstats.Stats(str(path))
    stats.sort_stats("cumulative").print_stats(40)
    stats.sort_stats("tottime").print_stats(25)


# --------------------------------------------------------------------------------------------
# main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.core", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="2,000 events, 100,000 leaves")
    parser.add_argument("--events", type=int, help="events per config (default 5,000; quick 2,000)")
    parser.add_argument(
        "--leaves", type=int, help="proof tree size (default 1,000,000; quick 100,000)"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="FILE",
        help="only cProfile one ingest config (default: SQLite, batch 100); stats to FILE",
    )
    parser.add_argument("--profile-batch", type=int, default=100, help="batch size to profile")
    parser.add_argument("--profile-pg", action="store_true", help="profile on PostgreSQL")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args(argv)
    args.leaves_given = args.leaves is not None
    args.events = args.events or (2_000 if args.quick else 5_000)
    args.leaves = args.leaves or (100_000 if args.quick else 1_000_000)
    budget = PROOF_BUDGET_S / 3 if args.quick else PROOF_BUDGET_S
    if args.events < ROUNDS * max(BATCH_SIZES) and args.profile is None:
        parser.error(f"--events must be at least {ROUNDS * max(BATCH_SIZES)}")
    if args.leaves < PROOF_QUERIES:
        parser.error(f"--leaves must be at least {PROOF_QUERIES}")

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="chemtrace-bench-") as tmp_name:
        tmp = Path(tmp_name)
        if args.profile is not None:
            profile_ingest(args, tmp)
            return 0
        print_header(args, tmp, budget)
        ingest_rows: list[IngestRow] = []
        proof_rows: list[ProofRow] = []
        scale_rows: list[ScaleRow] = []

        log.print("SQLite: ingest ...")
        ingest_rows += bench_ingest(
            "SQLite", f"sqlite:///{tmp / 'ledger.db'}", f"sqlite:///{tmp / 'plain.db'}", args.events
        )
        log.print(f"building a {args.leaves:,}-leaf tree with Frontier ...")
        tree = build_tree(args.leaves)
        log.print("SQLite: proofs ...")
        proof_url = f"sqlite:///{tmp / 'proofs.db'}"
        proof_rows.append(bench_proofs("SQLite", proof_url, tree, budget))
        log.print("SQLite: ingest on the big log ...")
        scale_rows.append(bench_big_log("SQLite", proof_url, tree.size))

        if not args.no_postgres:
            log.print("PostgreSQL: starting a private server ...")
        pg = contextlib.nullcontext((None, "--no-postgres")) if args.no_postgres else postgres(tmp)
        pg_note = "PostgreSQL: skipped"
        with pg as (server, reason):
            if server is None:
                pg_note = f"PostgreSQL: skipped: {reason}"
                ingest_rows += [IngestRow("PostgreSQL", b, 0, skipped=reason) for b in BATCH_SIZES]
                proof_rows.append(ProofRow("PostgreSQL", args.leaves, skipped=reason))
                scale_rows.append(ScaleRow("PostgreSQL", 0, skipped=reason))
            else:
                pg_note = (
                    f"PostgreSQL {pg_version(server)}: private server via "
                    f"tests.servers.PostgresServer, TCP on 127.0.0.1, ({pg_durability(server)}), "
                    "for ours and the baseline alike"
                )
                log.print("PostgreSQL: ingest ...")
                ingest_rows += bench_ingest(
                    "PostgreSQL",
                    server.create_database("bench_ledger"),
                    server.create_database("bench_plain"),
                    args.events,
                )
                log.print("PostgreSQL: proofs ...")
                proof_url = server.create_database("bench_proofs")
                proof_rows.append(bench_proofs("PostgreSQL", proof_url, tree, budget))
                log.print("PostgreSQL: ingest on the big log ...")
                scale_rows.append(bench_big_log("PostgreSQL", proof_url, tree.size))

        out.print(
            "SQLite: a file in the temp dir (ext4/whatever backs it), WAL, synchronous=FULL, "
            "BEGIN IMMEDIATE (ledger.store.engine.make_engine), for ours and the baseline alike"
        )
        out.print(pg_note)
        out.print()
        out.print(ingest_table(ingest_rows))
        out.print(
            f"±: half the max-min range of the {ROUNDS} per-round rates, relative to "
            "their median (ours and baseline rounds interleaved). ms/commit: per submit() call "
            "or baseline transaction. log size: ledger entries before→after the timed rounds"
        )
        out.print()
        out.print(proof_table(proof_rows, tree))
        out.print(
            f"tree: {tree.size:,} synthetic leaves, {len(tree.nodes):,} log_node rows computed "
            f"with ledger.merkle.Frontier in {tree.build_s:.1f} s, then bulk-inserted ('load s'); "
            "'proofs' = timed random indices (incl. 0, size-1, size/2 and the last leaf of the "
            "largest perfect subtree); 'verified' = a sample checked with verify_inclusion "
            "against root_at"
        )
        for row in proof_rows:
            if row.capped:
                out.print(f"* {row.capped}")
        out.print()
        out.print(scale_table(scale_rows, ingest_rows))
        out.print()
        for line in verdicts(ingest_rows, proof_rows):
            out.print(line)
        out.print(
            f"total runtime: {time.perf_counter() - started:.1f} s; load average at the end "
            f"{load_average()} (other processes on this machine share the CPUs)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
