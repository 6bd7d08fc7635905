"""The fast generator: a realistic ledger of N events, written the way the append path writes.

1. The registry (records, licences, certificates, code batches) is logged through the
   real append methods of :class:`api.deployment.Deployment`.
2. Worker processes (:mod:`bench.scale.stories`) simulate and sign the stories, each
   owning its items, and hand the signed envelopes over in windows of event time.
3. The loader merges the windows in time order and, per batch, calls the append path's
   own pure planner (:func:`ledger.append.plan_append`: device certificate, issuance,
   custody policy, head checks, leaves, Merkle nodes, receipts signed by the log key)
   with the facts kept in memory instead of read back from the database, and writes the
   plan with the store's own row writer (``SqlLedgerStore._write_plan``) — so every row is
   built by the code the ingest path uses. Checkpoints (with their item-head statements)
   are signed by ``Deployment.checkpoint`` along the way and at the end.

During the load SQLite runs with ``synchronous=OFF`` and PostgreSQL sessions with
``synchronous_commit=off``; the database is then reopened with the service's durable
settings, checkpointed (WAL truncated) and analysed. The result verifies with
``chemtrace verify-log`` and serves with ``chemtrace serve``.
"""

from __future__ import annotations

import heapq
import json
import multiprocessing
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, text

from api.deployment import Deployment
from bench.scale.city import START, City, Story, issue_codes, plan_city, plan_stories, register
from bench.scale.stories import Signed, windows
from ledger.append import AppendContext, ItemHead, Rejected, plan_append
from ledger.certificates import TrustStore
from ledger.custody import Custody
from ledger.envelope import SignedEvent
from ledger.events import parse_body
from ledger.merkle import Frontier, frontier_ids
from ledger.signing import ED25519
from ledger.store.engine import is_sqlite
from ledger.timefmt import format_utc

WINDOW_S = 6 * 3600
LOG_LAG_S = 20
MAX_BATCH_SPAN_S = 30 * 60
"""A batch never spans more event time than this (as in the simulator's writer), so log
times stay within minutes of event times and deadline rules judge real lags."""


@dataclass
class Report:
    events: int = 0
    items: int = 0
    stories: int = 0
    orgs: int = 0
    registry_entries: int = 0
    code_batches_entries: int = 0
    checkpoints: int = 0
    seconds_registry: float = 0.0
    seconds_events: float = 0.0
    seconds_finish: float = 0.0
    mix: Counter[str] = field(default_factory=Counter)
    first_event: str = ""
    last_event: str = ""

    @property
    def seconds(self) -> float:
        return self.seconds_registry + self.seconds_events + self.seconds_finish


class _FixedClock:
    def __init__(self, at: int) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return datetime.fromtimestamp(self.at, UTC)


def _fast_writes(engine: Any, sqlite: bool) -> None:
    """Drop the per-commit fsync for the load (the reopen restores durable settings)."""

    def configure(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        if sqlite:
            cursor.execute("PRAGMA synchronous=OFF")
        else:
            cursor.execute("SET synchronous_commit = off")
        cursor.close()

    event.listen(engine, "connect", configure)
    engine.dispose()  # pooled connections were opened with the durable settings


def _worker(city: City, stories: list[Story], width: int, out: Any) -> None:
    try:
        for chunk in windows(city, stories, width):
            out.put(chunk)
        out.put(None)
    except BaseException as exc:  # the loader must hear of it, never wait forever
        out.put(("error", repr(exc)))
        raise


def _merged(city: City, stories: list[Story], workers: int) -> Iterator[Signed]:
    """Every signed event in time order, simulated on ``workers`` processes."""
    if workers <= 1:
        yield from (e for chunk in windows(city, stories, WINDOW_S) for e in chunk)
        return
    context = multiprocessing.get_context("spawn")
    queues = [context.Queue(maxsize=8) for _ in range(workers)]
    shards = [stories[n::workers] for n in range(workers)]
    procs = [
        context.Process(target=_worker, args=(city, shard, WINDOW_S, q), daemon=True)
        for shard, q in zip(shards, queues, strict=True)
    ]
    for proc in procs:
        proc.start()
    live = list(range(workers))
    try:
        while live:
            chunks: list[list[Signed]] = []
            for n in list(live):
                chunk = queues[n].get()
                if chunk is None:
                    live.remove(n)
                elif isinstance(chunk, tuple):
                    raise RuntimeError(f"story worker failed: {chunk[1]}")
                else:
                    chunks.append(chunk)
            # stable: equal times keep each worker's (chain) order
            yield from heapq.merge(*chunks, key=lambda e: e[0])
    finally:  # cut at ``events``, the workers may still be simulating: stop them
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
            proc.join()


def to_signed_event(signed: Signed) -> SignedEvent:
    """The :class:`SignedEvent` ``open_envelope`` would build (strict body parse included)."""
    _, canonical, body_bytes, signature, digest = signed
    raw_body = json.loads(body_bytes)
    return SignedEvent(
        body=parse_body(raw_body),
        raw_body=raw_body,
        body_bytes=body_bytes,
        algorithm=ED25519,
        signature=signature,
        canonical=canonical,
        event_hash=digest,
    )


def plan_world(events: int, seed: int, days: int) -> tuple[City, list[Story]]:
    city = plan_city(events, seed)
    return city, plan_stories(city, events, seed, days)


def generate(
    db_url: str,
    keys_dir: Path,
    *,
    events: int,
    seed: int = 1,
    days: int = 90,
    workers: int = 2,
    batch: int = 2000,
    checkpoint_every: int = 250_000,
    progress: Callable[[int], None] | None = None,
    sink: Callable[[list[SignedEvent], str], None] | None = None,
) -> Report:
    """Generate ``events`` events (cut in time order) into an empty ledger.

    ``sink``, when given, hears each appended batch with its log time (the tests replay
    them through the real ``Ingestor``).
    """
    report = Report()
    began = time.perf_counter()
    clock = _FixedClock(START - 86_400)
    deployment = Deployment.open(db_url, keys_dir, clock=clock)
    store = deployment.store
    if store.log_size() > 0:
        raise RuntimeError(f"{db_url} already holds a ledger; generate into an empty database")
    sqlite = is_sqlite(db_url)
    _fast_writes(store.engine, sqlite)
    city, stories = plan_world(events, seed, days)
    report.orgs, report.stories = len(city.orgs), len(stories)
    report.registry_entries = register(deployment, city)
    size_before_codes = store.log_size()
    stories = issue_codes(deployment, stories, seed)
    report.code_batches_entries = store.log_size() - size_before_codes
    report.seconds_registry = time.perf_counter() - began

    began = time.perf_counter()
    root = deployment.keys.root_signer()
    trust = TrustStore(ED25519, root.public_key)
    for cert in sorted(store.certificates(), key=lambda c: c.role != "org"):
        trust.add(cert)
    issued = {code: s.origin for s in stories for code in s.codes}
    log_signer = deployment.keys.log_signer()
    size = store.log_size()
    ids = frontier_ids(size)
    nodes = store.get_nodes(ids)
    frontier = Frontier.from_nodes(size, [nodes[i] for i in ids])
    heads: dict[str, ItemHead] = {}
    custody: dict[str, Custody] = {}
    last_log = START - 86_400
    next_checkpoint = size + checkpoint_every
    pending: list[SignedEvent] = []
    newest = oldest = 0
    items: set[str] = set()

    def flush() -> None:
        nonlocal size, last_log, next_checkpoint
        last_log = max(last_log + 1, newest + LOG_LAG_S)
        log_time = format_utc(datetime.fromtimestamp(last_log, UTC))
        context = AppendContext(
            origin=store.origin,
            log_time=log_time,
            next_index=size,
            frontier=frontier,
            heads=heads,
            existing={},
            trust=trust,
            issued=issued,
            custody=custody,
            policy=store.custody_policy,
        )
        plan = plan_append(pending, context, log_signer)
        refused = [o for o in plan.outcomes if isinstance(o, Rejected)]
        if refused:
            raise RuntimeError(f"the generator wrote a refused event: {refused[0].error}")
        with store._write() as conn:
            store._write_plan(conn, plan, log_time)
        if sink is not None:
            sink(list(pending), log_time)
        heads.update(plan.heads)
        custody.update(plan.custody)
        size = plan.next_index
        if progress is not None:
            progress(len(pending))
        pending.clear()
        if size >= next_checkpoint:
            clock.at = last_log
            deployment.checkpoint()
            report.checkpoints += 1
            next_checkpoint = size + checkpoint_every

    for signed in _merged(city, stories, workers):
        if report.events >= events:
            break
        parsed = to_signed_event(signed)
        report.mix[parsed.body.type] += 1
        items.update(link.code for link in parsed.body.items)
        if not report.first_event:
            report.first_event = parsed.body.time
        report.last_event = parsed.body.time
        if pending and signed[0] - oldest > MAX_BATCH_SPAN_S:
            flush()
        if not pending:
            oldest = signed[0]
        newest = max(newest, signed[0])
        pending.append(parsed)
        report.events += 1
        if len(pending) >= batch:
            flush()
    if pending:
        flush()
    report.items = len(items)
    report.seconds_events = time.perf_counter() - began

    began = time.perf_counter()
    clock.at = last_log
    deployment.checkpoint()
    report.checkpoints += 1
    store.engine.dispose()
    finish(db_url)
    report.seconds_finish = time.perf_counter() - began
    return report


def finish(db_url: str) -> None:
    """Reopen with the service's durable settings; flush the WAL (SQLite) and analyse."""
    from ledger.store.engine import make_engine

    engine = make_engine(db_url)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            if is_sqlite(db_url):
                conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
                conn.execute(text("ANALYZE"))
            else:
                conn.execute(text("CHECKPOINT"))
                conn.execute(text("ANALYZE"))
    finally:
        engine.dispose()
