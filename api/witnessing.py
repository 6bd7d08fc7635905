"""The log asks its witnesses to cosign each new checkpoint (C2SP tlog-witness), off ingest.

After the integrator signs a checkpoint it wakes :class:`Witnessing`, which hands the newest
checkpoint to every configured anchor at once. A witness is one (:class:`WitnessAnchor`): it
gets a consistency proof from the size it last cosigned; a ``409`` tells the log that size
(``text/x.tlog.size``) and the request is made again from it. A cosignature is stored only
after it verifies with the witness key the operator configured. An anchor that fails is
retried with exponential backoff and jitter; it never holds up ingest or checkpoint signing,
and its state is in ``/readyz`` and the metrics.

Only the process holding the integrator's lock submits, so a deployment with many workers
asks each witness once per checkpoint.
"""

from __future__ import annotations

import functools
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import httpx

from api.accel import Accelerator
from api.metrics import QUORUM_LAG, WITNESS_FAILURES, WITNESS_LATENCY, WITNESS_SIZE, WITNESS_UP
from ledger.anchor import Anchor, AnchorReceipt, ConsistencyProver
from ledger.checkpoint import claimed_size, parse_tree_size
from ledger.cosignature import CosignerVerifier, attach, parse_cosigner_vkey, verify_cosignature
from ledger.errors import AnchorError, LedgerError, NoteError
from ledger.note import NoteVerifier, split_note
from ledger.store.repository import SqlLedgerStore
from ledger.store.witnessing import StoredCosignature, WitnessingStore, WitnessStatus
from ledger.timefmt import format_utc, parse_utc
from ledger.witness import request_body
from ledger.witness_policy import Group, PolicyLog, PolicyWitness, WitnessPolicy

log = logging.getLogger("chemtrace.witnessing")
SIZE_MEDIA_TYPE = "text/x.tlog.size"


@dataclass(frozen=True)
class WitnessEndpoint:
    """A witness the log submits to: its submission prefix and its cosigner key."""

    url: str
    verifier: CosignerVerifier

    @property
    def name(self) -> str:
        return self.verifier.name

    @classmethod
    def parse(cls, text: str) -> WitnessEndpoint:
        """Parse ``<submission prefix URL> <cosigner vkey>``.

        Raises:
            NoteError: the vkey is not a cosignature/v1 key.
            ValueError: the text is not two fields or the URL is not http(s).
        """
        parts = text.split()
        if len(parts) != 2 or not parts[0].startswith(("http://", "https://")):
            raise ValueError(f"a witness is '<http(s) URL> <cosigner vkey>', not {text!r}")
        return cls(parts[0].rstrip("/"), parse_cosigner_vkey(parts[1]))


def configured_policy(
    log: NoteVerifier, endpoints: Sequence[WitnessEndpoint], quorum: int
) -> WitnessPolicy | None:
    """The policy this server's own configuration amounts to: its log key, its witnesses and
    ``quorum`` of them (``None`` without a quorum). What ``/v1/items/{code}/verify`` judges
    by; outside verifiers hold their own policy file."""
    if quorum <= 0 or not endpoints:
        return None
    witnesses = tuple(PolicyWitness(e.name, e.verifier, e.url) for e in endpoints)
    group = Group("configured", quorum, tuple(e.name for e in endpoints))
    return WitnessPolicy((PolicyLog(log),), witnesses, (group,), group.name)


class WitnessAnchor:
    """A C2SP witness as an :class:`ledger.anchor.Anchor`: add-checkpoint over HTTP."""

    def __init__(self, endpoint: WitnessEndpoint, http: httpx.Client) -> None:
        self.endpoint, self._http = endpoint, http

    @property
    def name(self) -> str:
        return self.endpoint.name

    @property
    def location(self) -> str:
        return self.endpoint.url

    def anchor(self, note: str, known_size: int, prove: ConsistencyProver) -> AnchorReceipt:
        """One add-checkpoint exchange, made again from the witness's size after a 409.

        Raises:
            AnchorError: the witness is unreachable, refuses, or answers nonsense.
        """
        size = claimed_size(note)
        old = known_size
        for _ in range(3):
            if old > size:
                raise AnchorError(
                    f"the witness has cosigned size {old}, beyond this log's newest checkpoint "
                    f"{size}: the log was rolled back or forked",
                    anchored_size=old,
                )
            proof = [] if old in (0, size) else prove(old, size)
            started = time.perf_counter()
            try:
                response = self._http.post(
                    f"{self.endpoint.url}/add-checkpoint", content=request_body(old, proof, note)
                )
            except httpx.HTTPError as exc:
                raise AnchorError(f"unreachable: {type(exc).__name__}: {exc}") from exc
            if response.status_code == 200:
                WITNESS_LATENCY.labels(self.name).observe(time.perf_counter() - started)
                line, timestamp = self._verified(note, response.text)
                return AnchorReceipt(self.name, size, timestamp, line=line)
            media = response.headers.get("content-type", "")
            if response.status_code == 409 and media.startswith(SIZE_MEDIA_TYPE):
                old = _size_of(response.text)
                continue
            raise AnchorError(f"HTTP {response.status_code}: {response.text[:200].strip()}")
        raise AnchorError("the witness keeps answering 409")

    def _verified(self, note: str, body: str) -> tuple[str, int]:
        """The witness's cosignature line in ``body``, verified with its configured key."""
        text, _ = split_note(note)
        verifier = self.endpoint.verifier
        for line in body.splitlines():
            try:
                _, [parsed] = split_note(f"{text}\n{line}\n")
            except (LedgerError, ValueError):
                continue
            if (parsed.name, parsed.key_id) != (verifier.name, verifier.key_id):
                continue  # other keys of the same witness, or unknown: ignored (tlog-witness)
            try:
                return line, verify_cosignature(verifier, text, parsed).timestamp
            except NoteError as exc:
                raise AnchorError(f"its cosignature does not verify: {exc.message}") from exc
        raise AnchorError("the answer holds no cosignature from its configured key")


class Witnessing:
    """Collects cosignatures on the newest checkpoint from every configured anchor."""

    def __init__(
        self,
        store: SqlLedgerStore,
        witnessing: WitnessingStore,
        endpoints: Sequence[WitnessEndpoint],
        accel: Accelerator,
        *,
        quorum: int,
        lock_held: Callable[[], bool],
        timeout_s: float = 5.0,
        backoff_s: float = 0.5,
        max_backoff_s: float = 60.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store, self._witnessing, self._accel = store, witnessing, accel
        self._http = httpx.Client(timeout=timeout_s, follow_redirects=False)
        self.anchors: list[Anchor] = [WitnessAnchor(e, self._http) for e in endpoints]
        self.quorum = quorum
        self._lock_held = lock_held
        self._backoff_s, self._max_backoff_s, self._clock = backoff_s, max_backoff_s, clock
        self._pool = ThreadPoolExecutor(max(1, len(self.anchors)), "witness")
        self.wakeup = threading.Event()
        self._quorum_size = -1
        """The newest checkpoint size whose quorum lag was timed."""
        self._busy: set[str] = set()
        self._busy_lock = threading.Lock()

    def wake(self) -> None:
        """Ask for a round now (the integrator signed a checkpoint)."""
        self.wakeup.set()

    def step(self, *, wait: bool = True) -> int:
        """Give the newest checkpoint to each anchor that is due and not still busy.

        With ``wait`` (tests, benchmarks, the CLI) return the receipts got. The worker passes
        ``wait=False``: each anchor's exchange finishes on its own, so a slow witness delays
        only itself, and a finished one wakes the worker for the next checkpoint.
        """
        if not self.anchors or not self._lock_held():
            return 0
        latest = self._store.latest_checkpoint()
        if latest is None:
            return 0
        size, note = latest
        have = {c.witness for c in self._witnessing.cosignatures(size)}
        known = {s.name: s for s in self._witnessing.statuses()}
        now = self._clock()
        futures = []
        for anchor in self.anchors:
            status = known.get(anchor.name) or WitnessStatus(
                anchor.name, anchor.location, 0, 0, None, None, None, format_utc(now)
            )
            WITNESS_SIZE.labels(anchor.name).set(status.size)
            if anchor.name in have or parse_utc(status.next_attempt_at) > now:
                continue
            with self._busy_lock:
                if anchor.name in self._busy:
                    continue
                self._busy.add(anchor.name)
            future = self._pool.submit(self._round, anchor, status, size, note)
            future.add_done_callback(functools.partial(self._done, anchor.name))
            futures.append(future)
        return sum(future.result() for future in futures) if wait else 0

    def _done(self, name: str, future: Future[int]) -> None:
        with self._busy_lock:
            self._busy.discard(name)
        self.wakeup.set()  # a newer checkpoint may be waiting for this anchor

    def _round(self, anchor: Anchor, status: WitnessStatus, size: int, note: str) -> int:
        attempt_at = self._clock()
        try:
            receipt = anchor.anchor(note, status.size, self._store.consistency_proof)
        except AnchorError as exc:
            self._failed(anchor, status, attempt_at, exc)
            return 0
        except Exception as exc:  # a bug or a database error: back off all the same
            log.exception("witness %s: unexpected failure", anchor.name)
            self._failed(anchor, status, attempt_at, AnchorError(f"{type(exc).__name__}: {exc}"))
            return 0
        done = self._clock()
        if receipt.line is not None:
            key_id = split_note(f"{note}{receipt.line}\n")[1][-1].key_id.hex()
            stored = StoredCosignature(anchor.name, key_id, receipt.timestamp, receipt.line)
            self._witnessing.add_cosignature(size, stored, format_utc(done))
            self._after_receipts(size, note)
        self._witnessing.save_status(
            replace(
                status,
                url=anchor.location,
                size=receipt.anchored_size,
                failures=0,
                last_error=None,
                last_attempt_at=format_utc(attempt_at),
                last_success_at=format_utc(done),
                next_attempt_at=format_utc(done),
            )
        )
        WITNESS_UP.labels(anchor.name).set(1)
        WITNESS_SIZE.labels(anchor.name).set(receipt.anchored_size)
        return 1

    def _failed(
        self, anchor: Anchor, status: WitnessStatus, attempt_at: datetime, exc: AnchorError
    ) -> None:
        failures = status.failures + 1
        delay = min(self._max_backoff_s, self._backoff_s * 2 ** (failures - 1))
        delay *= random.uniform(0.8, 1.2)
        self._witnessing.save_status(
            replace(
                status,
                url=anchor.location,
                failures=failures,
                last_error=exc.message,
                last_attempt_at=format_utc(attempt_at),
                next_attempt_at=format_utc(attempt_at + timedelta(seconds=delay)),
                size=status.size if exc.anchored_size is None else exc.anchored_size,
            )
        )
        WITNESS_UP.labels(anchor.name).set(0)
        WITNESS_FAILURES.labels(anchor.name).inc()
        log.warning("witness %s: %s (retry in %.1f s)", anchor.name, exc.message, delay)

    def _after_receipts(self, size: int, note: str) -> None:
        """Serve the cosigned note at once, and time the quorum the first time it is met.

        The cache keeps the larger checkpoint (and, of one size, the one with more lines),
        so a round finishing late never rolls the served checkpoint back.
        """
        lines = [c.line for c in self._witnessing.cosignatures(size)]  # one read for both
        self._accel.cache_checkpoint(attach(note, lines))
        count = len(lines)
        with self._busy_lock:
            first = bool(self.quorum) and count >= self.quorum and size > self._quorum_size
            if first:
                self._quorum_size = size
        if first:
            signed_at = self._witnessing.signed_at(size)
            if signed_at is not None:
                lag = (self._clock() - parse_utc(signed_at)).total_seconds()
                QUORUM_LAG.observe(max(0.0, lag))

    def report(self) -> dict[str, object]:
        """What ``/readyz`` shows: each witness's state, and whether the newest has a quorum."""
        statuses = {s.name: s for s in self._witnessing.statuses()}
        latest = self._store.latest_checkpoint()
        cosigned = set()
        if latest is not None:
            cosigned = {c.witness for c in self._witnessing.cosignatures(latest[0])}
        witnesses = {}
        for anchor in self.anchors:
            status = statuses.get(anchor.name)
            witnesses[anchor.name] = {
                "url": anchor.location,
                "state": "ok" if status is None or status.failures == 0 else "failing",
                "cosigned_size": 0 if status is None else status.size,
                "failures": 0 if status is None else status.failures,
                "last_error": None if status is None else status.last_error,
                "cosigned_newest": anchor.name in cosigned,
            }
        return {
            "quorum": self.quorum,
            "newest_has_quorum": len(cosigned) >= self.quorum,
            "witnesses": witnesses,
        }

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._http.close()


def _size_of(body: str) -> int:
    """The size in a ``text/x.tlog.size`` body: one size line."""
    try:
        return parse_tree_size(body.removesuffix("\n"))
    except NoteError as exc:
        raise AnchorError(f"409 without a size: {body[:50]!r}") from exc
