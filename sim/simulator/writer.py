"""Writing the simulation through the real core paths, on a simulated clock.

Events are signed by per-organisation device keys (derived from the seed, certified by
org keys under the keystore's registry root) and appended with ``Ingestor.submit`` in
batches; registry records, licences and code batches go through the store's own append
methods. The store's clock is the simulation's: a batch is logged a little after its
newest event, and a batch never spans more than ``MAX_BATCH_SPAN`` of simulated time, so
log times stay close to event times and deadline rules judge simulated time.
"""

from __future__ import annotations

import hashlib
import heapq
import multiprocessing
import queue
import random
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from api.deployment import CERT_FROM, CERT_UNTIL, Deployment
from ledger.append import Accepted, Rejected
from ledger.builder import DeviceSession, Head
from ledger.canonical import JsonValue, format_hash
from ledger.codes import generate_code
from ledger.commitments import Disclosure
from ledger.licences import issue_licence
from ledger.revocations import issue_revocation
from ledger.signing import Ed25519Signer
from ledger.store.service import ServiceStore
from sim.simulator.products import CATALOG
from sim.simulator.regulation import utc_text

MAX_BATCH = 4000
MAX_BATCH_SPAN = 30 * 60
LOG_LAG = 20
"""Seconds between an event's time and its log time (at least)."""


@dataclass
class SimClock:
    """The store's clock: the simulated log time, moved by the writer."""

    now: int = 0

    def __call__(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)


@dataclass
class Stats:
    events: int = 0
    records: int = 0
    licences: int = 0
    code_batches: int = 0
    rejected: int = 0


@dataclass
class LedgerWriter:
    """Signs and appends; one device per organisation; a deterministic random source."""

    deployment: Deployment
    service: ServiceStore
    clock: SimClock
    seed: int
    rng: random.Random
    ingest: Any
    reports: Any
    process: Any
    heads: dict[str, Head] = field(default_factory=dict)
    sessions: dict[str, DeviceSession] = field(default_factory=dict)
    pending: list[dict[str, JsonValue]] = field(default_factory=list)
    pending_since: int = 0
    pending_last: int = 0
    """The time of the newest queued event (they are queued in time order)."""
    codes: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)
    batch_sizes: dict[tuple[str, str, str], int] = field(default_factory=dict)
    stats: Stats = field(default_factory=Stats)
    batches: int = 0
    sent: int = 0
    acked: int = 0
    saved: int = 0
    logged_until: int = 0
    in_flight: deque[int] = field(default_factory=deque)
    on_flush: Callable[[int], None] | None = None
    spares: dict[str, DeviceSession] = field(default_factory=dict)
    """Extra handhelds, by key id."""
    deferred: list[tuple[int, int, dict[str, JsonValue]]] = field(default_factory=list)
    """Envelopes signed offline, by the time they are synced (an offline handheld)."""
    last_event: dict[str, int] = field(default_factory=dict)
    """The signed time of each code's newest event."""
    offline: Counter[str] = field(default_factory=Counter)
    """Codes with an event signed offline and not yet synced: nothing else may touch them."""

    @classmethod
    def open(cls, db_url: str, keys_dir: Path, seed: int) -> LedgerWriter:
        """Open the ledger here (registry appends) and start the ingest process (events)."""
        clock = SimClock()
        deployment = Deployment.open(db_url, keys_dir, clock=clock)
        service = ServiceStore(deployment.store.engine, clock=clock)
        context = multiprocessing.get_context("spawn")
        ingest: Any = context.Queue(maxsize=16)
        reports: Any = context.Queue()
        process = context.Process(target=_ingest, args=(db_url, keys_dir, ingest, reports),
                                  daemon=True)  # fmt: skip
        process.start()
        return cls(deployment, service, clock, seed, random.Random(f"{seed}:codes"), ingest,
                   reports, process)  # fmt: skip

    # -- keys and registry -----------------------------------------------------------------

    def derived_signer(self, name: str) -> Ed25519Signer:
        return Ed25519Signer.from_seed(hashlib.sha256(f"sim:{self.seed}:{name}".encode()).digest())

    def disclosure(self, kind: str, value: str) -> Disclosure:
        salt = hashlib.sha256(f"salt:{self.seed}:{kind}:{value}".encode()).digest()[:16]
        return Disclosure(kind=kind, value=value, salt=salt)

    def enrol(self, org: str, at: int) -> None:
        """Certify the org key and one handheld, and open its device session."""
        self.sync()
        self.clock.now = max(self.clock.now, at)
        root = self.deployment.keys.root_signer()
        org_key = self.derived_signer(f"org-{org}")
        device = self.derived_signer(f"device-{org}")
        window = (CERT_FROM, CERT_UNTIL)
        self.deployment.certify_key("org", org, org_key.public_key, root, window)
        self.deployment.certify_key("device", org, device.public_key, org_key, window)
        actor = self.disclosure("person", f"{org} duty officer").commitment
        self.sessions[org] = DeviceSession(signer=device, org=org, actor=actor,
                                           catalog_version=CATALOG, heads=self.heads)  # fmt: skip

    def second_device(self, org: str, name: str) -> str:
        """Certify one more handheld of ``org`` (by its org key); return its key id."""
        self.sync()
        org_key = self.derived_signer(f"org-{org}")
        device = self.derived_signer(f"device-{org}-{name}")
        self.deployment.certify_key("device", org, device.public_key, org_key,
                                    (CERT_FROM, CERT_UNTIL))  # fmt: skip
        actor = self.disclosure("person", f"{org} duty officer").commitment
        self.spares[device.key_id] = DeviceSession(
            signer=device, org=org, actor=actor, catalog_version=CATALOG, heads=self.heads
        )
        return device.key_id

    def revoke(self, org: str, key_id: str, effective: int, at: int) -> None:
        """Log a revocation of ``key_id`` by ``org``'s key, effective from ``effective``."""
        self.sync()
        self._registry_time(at)
        issuer = self.derived_signer(f"org-{org}")
        root = self.deployment.keys.root_signer()
        revocation = issue_revocation(
            issuer, key_id=key_id, org=org, effective_from=utc_text(effective), reason="compromised"
        )
        self.deployment.store.append_revocation(
            revocation, root=(root.algorithm, root.public_key),
            log_signer=self.deployment.keys.log_signer(),
        )  # fmt: skip
        self.clock.now = self.saved

    def record(self, record_kind: str, record_id: str, at: int, **attrs: Any) -> None:
        self._registry_time(at)
        self.deployment.record(record_kind, record_id, attrs)
        self.clock.now = self.saved
        self.stats.records += 1

    def licence(self, number: str, org: str, kind: str, activities: Sequence[str],
                chemicals: Sequence[str], at: int) -> None:  # fmt: skip
        self._registry_time(at)
        licence = issue_licence(
            self.deployment.keys.root_signer(), licence_no=number, org=org, kind=kind,
            activities=tuple(activities), chemicals=tuple(chemicals),
            valid_from="2026-01-01T00:00:00Z", valid_until="2029-01-01T00:00:00Z",
            status="active",
        )  # fmt: skip
        self.deployment.license(licence)
        self.clock.now = self.saved
        self.stats.licences += 1

    def code(self, org: str, form: str, packaging: str, at: int) -> str:
        """An issued code of ``org`` (batches issued on demand, as the registry would)."""
        pool = self.codes.setdefault((org, form, packaging), [])
        if not pool:
            self._registry_time(at)
            self.batches += 1
            size = self.batch_sizes[(org, form, packaging)] = min(
                2000, 2 * self.batch_sizes.get((org, form, packaging), 8)
            )
            issued = self.deployment.issue_codes(
                org, form, packaging, f"S{self.batches:06d}", size,  # type: ignore[arg-type]
                issued_at=utc_text(at)[:10], random_bytes=self.rng.randbytes,
            )  # fmt: skip
            self.clock.now = self.saved
            pool.extend(reversed([c.code for c in issued]))
            self.stats.code_batches += 1
        return pool.pop()

    def unissued_code(self) -> str:
        return generate_code(self.rng.randbytes)

    # -- events ----------------------------------------------------------------------------

    def event(
        self,
        org: str,
        kind: str,
        items: Sequence[str | tuple[str, str]],
        data: Mapping[str, JsonValue],
        at: int,
        *,
        site: str | None = None,
        geo: tuple[float, float] | None = None,
        co_actor: str | None = None,
        logged_at: int | None = None,
        device: str | None = None,
    ) -> str:
        """Sign one event and queue it; return its hash (``sha256:…``).

        With ``logged_at``, the event is signed at ``at`` but held back (an offline handheld)
        and queued once the simulation reaches ``logged_at``: nothing else may touch its
        items meanwhile.
        """
        self._release(at)
        if self.pending and (
            len(self.pending) >= MAX_BATCH or at - self.pending_since > MAX_BATCH_SPAN
        ):
            self.flush()
        if not self.pending:
            self.pending_since = at
        point = None if geo is None else {"lat": f"{geo[0]:.5f}", "lon": f"{geo[1]:.5f}"}
        codes = [item if isinstance(item, str) else item[0] for item in items]
        if busy := [code for code in codes if self.offline[code]]:
            raise RuntimeError(f"{kind} on {busy} while an offline event on it is unsynced")
        session = self.spares[device] if device else self.sessions[org]
        envelope = session.event(kind, items, data, time=utc_text(at), site=site,
                                            geo=point, co_actor=co_actor)  # fmt: skip
        if logged_at is not None:
            heapq.heappush(self.deferred, (logged_at, len(self.deferred), envelope))
            self.offline.update(codes)
        else:
            self.pending.append(envelope)
            self.pending_last = at
            self.clock.now = max(self.clock.now, at)
        for code in codes:
            self.last_event[code] = max(at, self.last_event.get(code, at))
        return format_hash(self.heads[codes[0]].head_hash)

    def _release(self, until: int) -> None:
        """Queue the offline envelopes whose sync time has come (in sync-time order)."""
        while self.deferred and self.deferred[0][0] <= until:
            logged_at, _, envelope = heapq.heappop(self.deferred)
            self.offline.subtract(str(link["code"]) for link in _links(envelope))
            if self.pending and logged_at - self.pending_since > MAX_BATCH_SPAN:
                self.flush()
            if not self.pending:
                self.pending_since = logged_at
            self.pending.append(envelope)
            self.pending_last = max(self.pending_last, logged_at)
            self.clock.now = max(self.clock.now, logged_at)

    def flush(self) -> None:
        """Hand the queued events to the ingest process, logged just after the newest."""
        if not self.pending:
            return
        self.clock.now = max(self.clock.now + 1, self.pending_last + LOG_LAG)
        while True:  # a full inbox may mean the ingest process stopped on an error: read it
            try:
                self.ingest.put((self.clock.now, self.pending), timeout=1)
                break
            except queue.Full:
                self._drain(block=False)
        self.sent += 1
        self.in_flight.append(self.clock.now)
        self.pending = []
        self._drain(block=False)

    def _registry_time(self, at: int) -> None:
        """Log a registry append no later than the events still queued for ingest.

        It is appended now, so before every event signed after it; its log time is the
        newest acknowledged batch's, so the queued events are not pushed later (the store
        never moves log time backwards).
        """
        self.saved = max(self.clock.now, at)
        self.clock.now = self.logged_until if self.sent else self.saved

    def sync(self) -> None:
        """Flush and wait until every queued event is in the log.

        Registry appends (records, licences, code batches) are logged at the simulated now:
        the events before them must be logged first, or they would be logged late.
        """
        self.flush()
        while self.acked < self.sent:
            self._drain(block=True, one=True)

    def close(self) -> None:
        """Flush, wait for the ingest process to append everything, and stop it."""
        if self.deferred:
            self._release(max(t for t, _, _ in self.deferred))
        self.flush()
        self.ingest.put(None)
        while self._drain(block=True):
            pass
        self.process.join()

    def _drain(self, *, block: bool, one: bool = False) -> bool:
        """Read the ingest process's reports; return False once it has finished."""
        while True:
            try:
                kind, value = self.reports.get(block=block, timeout=600 if block else None)
            except queue.Empty:
                if not self.process.is_alive():  # died without a word: never wait forever
                    raise RuntimeError("the ingest process died") from None
                return True
            if kind == "error":
                self.process.join()
                raise RuntimeError(f"simulated event rejected: {value}")
            if kind == "done":
                return False
            self.stats.events += int(value)
            self.acked += 1
            self.logged_until = self.in_flight.popleft()
            if self.on_flush is not None:
                self.on_flush(int(value))
            if one:
                return True

    def attempt(self, org: str, kind: str, code: str, data: Mapping[str, JsonValue], at: int,
                site: str, district: str) -> str:  # fmt: skip
        """Submit an event the ingestor must refuse, and journal the refusal as the service does.

        Returns the refusal's code (``unknown_code``, ``code_issued_to_another_org``).
        """
        self.sync()
        self.clock.now = max(self.clock.now, at + LOG_LAG)
        session = self.sessions[org]
        saved = self.heads.get(code)  # the refused event must not move the code's head
        envelope = session.event(kind, [code], data, time=utc_text(at), site=site)
        if saved is None:
            self.heads.pop(code, None)
        else:
            self.heads[code] = saved
        (outcome,) = self.deployment.ingestor.submit([envelope])
        if not isinstance(outcome, Rejected):
            raise RuntimeError(f"an event on {code} was accepted; it must be refused")
        self.service.journal(
            outcome.error.code, outcome.error.diagnostics(), org=org,
            device_key=session.signer.key_id, item_code=code, site=site, district=district,
        )  # fmt: skip
        self.stats.rejected += 1
        return outcome.error.code


def _ingest(db_url: str, keys_dir: Path, inbox: Any, reports: Any) -> None:
    """The ingest process: ``Ingestor.submit`` each batch at its simulated log time.

    Signing and simulating run in the parent, parsing, verifying and appending here, so
    the two cores work side by side; batches arrive (and are logged) in time order.
    """
    clock = SimClock()
    try:
        deployment = Deployment.open(db_url, keys_dir, clock=clock, migrate=False)
        while (batch := inbox.get()) is not None:
            clock.now, envelopes = batch
            outcomes = deployment.ingestor.submit(envelopes)
            for envelope, outcome in zip(envelopes, outcomes, strict=True):
                if isinstance(outcome, Rejected):
                    reports.put(("error", f"{outcome.error.diagnostics()} ({envelope})"))
                    return
            reports.put(("ok", sum(isinstance(o, Accepted) for o in outcomes)))
        deployment.store.engine.dispose()
        reports.put(("done", 0))
    except Exception as exc:  # report any failure to the parent instead of dying silently
        reports.put(("error", repr(exc)))


def _links(envelope: dict[str, JsonValue]) -> list[dict[str, JsonValue]]:
    body = envelope["body"]
    assert isinstance(body, dict)
    links = body["items"]
    assert isinstance(links, list)
    return [link for link in links if isinstance(link, dict)]
