"""A ledger on a real database with throwaway in-memory keys, for tests and benchmarks.

The keys here are test keys generated per harness; nothing is written to disk
except the database itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ledger.append import Outcome
from ledger.builder import DeviceSession, Head
from ledger.canonical import JsonValue
from ledger.certificates import issue_certificate
from ledger.commitments import disclose
from ledger.custody import EVENT_TYPES, RELATIONS, CustodyPolicy, EventRule
from ledger.ingest import Ingestor
from ledger.note import NoteVerifier
from ledger.signing import ED25519, Ed25519Signer
from ledger.store.audit import SqlAuditSource
from ledger.store.migrate import open_store
from ledger.store.repository import Clock, SqlLedgerStore, utc_now
from ledger.verify import AuditReport, TrustedKeys, audit

ORIGIN = "chemtrace.test/log"
CATALOG = "test.1"
ANYONE = CustodyPolicy(
    {kind: EventRule(dict.fromkeys(RELATIONS, "allowed")) for kind in EVENT_TYPES}
)
"""A custody policy that lets any organisation write on any item: for tests of the log
itself (integrity, concurrency, crashes), whose random ledgers hand items around freely.
The custody policy has its own tests (tests/ledger/test_custody.py, tests/security/)."""


@dataclass
class Harness:
    """A migrated store, pinned keys, an ingestor and device sessions."""

    url: str
    store: SqlLedgerStore
    root: Ed25519Signer
    log: Ed25519Signer
    ingestor: Ingestor
    heads: dict[str, Head] = field(default_factory=dict)
    orgs: dict[str, Ed25519Signer] = field(default_factory=dict)
    base_time: datetime = field(default_factory=lambda: datetime(2026, 10, 1, tzinfo=UTC))
    _tick: int = 0

    @classmethod
    def create(
        cls,
        url: str,
        *,
        clock: Clock = utc_now,
        root: Ed25519Signer | None = None,
        log: Ed25519Signer | None = None,
        require_issued_codes: bool = False,
        custody: CustodyPolicy = ANYONE,
    ) -> Harness:
        """A ledger on ``url``; most tests use free-form item codes and hand items between
        organisations freely, so issuance and the custody policy are opt-in."""
        store = open_store(
            url,
            origin=ORIGIN,
            clock=clock,
            require_issued_codes=require_issued_codes,
            custody_policy=custody,
        )
        root = root or Ed25519Signer.generate()
        log = log or Ed25519Signer.generate()
        ingestor = Ingestor(
            store, log_signer=log, root_algorithm=ED25519, root_public_key=root.public_key
        )
        return cls(url=url, store=store, root=root, log=log, ingestor=ingestor)

    def reopen(self) -> Harness:
        """The same database and keys through a brand-new store (a restart)."""
        self.store.engine.dispose()
        return Harness.create(
            self.url,
            root=self.root,
            log=self.log,
            require_issued_codes=self.store.require_issued_codes,
            custody=self.store.custody_policy,
        )

    def trusted(self) -> TrustedKeys:
        return TrustedKeys(
            log=NoteVerifier.for_key(ORIGIN, self.log.public_key),
            root_algorithm=ED25519,
            root_public_key=self.root.public_key,
        )

    def org(
        self,
        org: str,
        *,
        valid_from: str = "2020-01-01T00:00:00Z",
        valid_until: str = "2036-01-01T00:00:00Z",
    ) -> Ed25519Signer:
        signer = Ed25519Signer.generate()
        cert = issue_certificate(
            self.root,
            role="org",
            subject_algorithm=ED25519,
            subject_public_key=signer.public_key,
            org=org,
            valid_from=valid_from,
            valid_until=valid_until,
        )
        self.store.append_certificate(
            cert, root=(ED25519, self.root.public_key), log_signer=self.log
        )
        self.orgs[org] = signer
        return signer

    def device(
        self,
        org: str,
        *,
        valid_from: str = "2020-01-01T00:00:00Z",
        valid_until: str = "2036-01-01T00:00:00Z",
        shared_heads: bool = True,
    ) -> DeviceSession:
        if org not in self.orgs:
            self.org(org)
        signer = Ed25519Signer.generate()
        cert = issue_certificate(
            self.orgs[org],
            role="device",
            subject_algorithm=ED25519,
            subject_public_key=signer.public_key,
            org=org,
            valid_from=valid_from,
            valid_until=valid_until,
        )
        self.store.append_certificate(
            cert, root=(ED25519, self.root.public_key), log_signer=self.log
        )
        return DeviceSession(
            signer=signer,
            org=org,
            actor=disclose("person", f"{org} worker").commitment,
            catalog_version=CATALOG,
            heads=self.heads if shared_heads else {},
        )

    def time(self) -> str:
        self._tick += 1
        return (self.base_time + timedelta(minutes=self._tick)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def commission(
        self, device: DeviceSession, code: str, value: str = "40"
    ) -> dict[str, JsonValue]:
        return device.event(
            "commission",
            [code],
            {
                "chemical": "1",
                "quantity": {"value": value, "unit": "kg"},
                "lot": "L1",
                "packaging": "cylinder",
            },
            time=self.time(),
            site="site-a",
        )

    def use(self, device: DeviceSession, code: str, value: str = "1") -> dict[str, JsonValue]:
        return device.event(
            "use",
            [code],
            {"quantity": {"value": value, "unit": "kg"}},
            time=self.time(),
            site="site-a",
        )

    def submit(self, envelopes: Sequence[dict[str, JsonValue]]) -> list[Outcome]:
        return self.ingestor.submit(list(envelopes))

    def checkpoint(self) -> str | None:
        return self.store.write_checkpoint(log_signer=self.log, note_name=ORIGIN)

    def audit(self, trusted_checkpoint: str | None = None) -> AuditReport:
        return audit(
            SqlAuditSource(self.store.engine), self.trusted(), trusted_checkpoint=trusted_checkpoint
        )
